"""Signs and sends the transactions of one signer key, owning its nonce sequence.

* **Local signing** (eth-account); the key never leaves the process.
* **Nonces**: one sequence per process, initialised from ``eth_getTransactionCount(pending)``.
  Allocation, journal write and broadcast happen under one lock, so nonce N is broadcast before
  N+1 is handed out, and a broadcast that surely failed gives N back (no gaps). "nonce too low"
  (someone — a previous process — used it) resyncs and retries with a fresh nonce; an ambiguous
  broadcast (timeout) marks the sequence for a resync before the next allocation.
* **Journal before broadcast**: ``journal.sent(signer, nonce, tx_hash, action, quote_id, tag)`` —
  the chain worker's local journal (`adapters.chain.journal`), committed and fsync'd — is
  awaited before the raw transaction leaves the process (DESIGN §3); if it fails nothing is
  sent. Status changes (``journal.status``) are written to the same journal, retried, never
  dropped silently; a pre-flight revert is recorded too (``journal.preflight_reverted``).
* **EIP-1559 fees**: ``maxFeePerGas = 2 × baseFee + tip`` with a configurable tip and cap.
* **Receipts**: polled until mined and `confirmations` deep (at once, then after 5 ms,
  doubling up to `poll_interval`: `receipt_poll_delay`; those early looks ask for the receipt
  alone); a transaction still pending after
  `stuck_after` seconds is **replaced with the same nonce and the same call** at higher fees
  (≥ +12.5 %, nodes need +10 %), and re-broadcast as it was if the node forgot it. Only
  those same-call hashes can satisfy the wait; if the nonce is consumed by none of them,
  `TxDropped`.
* **Reverts**: a status-0 receipt is replayed with ``eth_call`` at its block to get the reason
  (`TxReverted(reason, tx_hash)`); a pre-flight that reverts (``eth_estimateGas``, or
  ``eth_call`` at `FeePolicy.fixed_gas_limit` when one is set) is journaled
  (``reverted_preflight``, no nonce) and raises `TxReverted(reason, None)`; nothing is signed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from adapters.chain.client import ChainClient, JsonRpcError
from adapters.chain.errors import (
    RpcUnavailable,
    TxDropped,
    TxReverted,
    TxTimeout,
    decode_revert_data,
    reason_from_message,
)
from adapters.chain.journal import NO_TAG, TxTag

log = logging.getLogger("adapters.chain.sender")

GWEI = 10**9


class SendJournal(Protocol):
    """Where the sender records its transactions (`adapters.chain.journal.LocalJournal`)."""

    async def sent(
        self, signer: str, nonce: int, tx_hash: str, action: str, quote_id: int | None,
        tag: TxTag = ...,
    ) -> None:  # fmt: skip
        """Durably record a signed transaction; awaited before its broadcast."""

    async def status(
        self, tx_hash: str, status: str, reason: str | None = ..., gas_used: int | None = ...,
        block_number: int | None = ...,
    ) -> object:  # fmt: skip
        """status: mined | reverted | replaced | dropped."""

    async def preflight_reverted(
        self, signer: str, action: str, quote_id: int | None, reason: str, tag: TxTag = ...
    ) -> object:
        """A send the gas-estimate pre-flight refused (nothing signed, no nonce)."""


STATUS_WRITE_ATTEMPTS = 3

_NONCE_TOO_LOW = ("nonce too low", "nonce is too low", "oldnonce", "nonce has already been used")
_KNOWN = ("already known", "known transaction", "already imported", "alreadyknown")
_UNDERPRICED = ("replacement transaction underpriced", "underpriced", "fee too low")


@dataclass(frozen=True, slots=True)
class FeePolicy:
    """EIP-1559 fee settings (wei)."""

    priority_fee_wei: int = 1 * GWEI
    base_fee_multiplier: int = 2
    max_fee_cap_wei: int | None = None  # refuse to pay more than this per gas
    bump_percent: int = 25  # per replacement (nodes require >= 10 %)
    gas_limit_percent: int = 130  # estimate × this / 100
    fallback_gas_limit: int = 3_000_000  # when the caller skips the estimate
    # When set, every transaction gets this gas limit and is pre-flighted with one `eth_call`
    # at that limit (one execution) instead of `eth_estimateGas` (a search of several); a call
    # that fails is estimated after all, so an out-of-gas at the limit costs time, not a revert.
    fixed_gas_limit: int | None = None


@dataclass(frozen=True, slots=True)
class TxOutcome:
    tx_hash: str
    nonce: int
    block_number: int
    gas_used: int
    status: int
    replaced: tuple[str, ...] = ()  # earlier hashes of the same call (same nonce)


@dataclass
class PendingTx:
    """A broadcast transaction and every same-nonce version of it sent so far."""

    nonce: int
    action: str
    quote_id: int | None
    to: str
    data: str
    value: int
    gas: int
    max_fee: int
    priority_fee: int
    tag: TxTag = NO_TAG
    hashes: list[str] = field(default_factory=list)
    raws: dict[str, bytes] = field(default_factory=dict)
    sent_at: float = field(default_factory=time.monotonic)
    waiters: int = 0  # coroutines in `wait()` for it right now

    @property
    def latest_hash(self) -> str:
        return self.hashes[-1]


def _lower(text: str) -> str:
    return text.lower().replace("_", " ")


# A receipt is looked for at once, then after 5 ms, doubling up to `poll_interval`: a node that
# mines at once (anvil, a sequencer's soft confirmation) answers within milliseconds, and every
# wait is a transaction the workflow does not yet see done (a lock mined 250 ms before its
# activity noticed, in `make bench`).
FIRST_RECEIPT_POLL_SECONDS = 0.005


def receipt_poll_delay(polls: int, interval: float) -> float:
    """How long to sleep after the `polls`-th look for a receipt (0 = the first) found none."""
    return min(FIRST_RECEIPT_POLL_SECONDS * float(2 ** min(polls, 30)), interval)


class TransactionSender:
    def __init__(
        self,
        client: ChainClient,
        private_key: str,
        *,
        chain_id: int,
        journal: SendJournal | None = None,
        fees: FeePolicy | None = None,
        confirmations: int = 1,
        receipt_timeout: float = 120.0,
        stuck_after: float = 30.0,
        poll_interval: float = 0.25,
        max_replacements: int = 5,
        dropped_grace: float = 2.0,
    ) -> None:
        self.client = client
        self.account: LocalAccount = Account.from_key(private_key)
        self.chain_id = chain_id
        self.journal = journal
        self.fees = fees or FeePolicy()
        self.confirmations = max(confirmations, 1)
        self.receipt_timeout = receipt_timeout
        self.stuck_after = stuck_after
        self.poll_interval = poll_interval
        self.max_replacements = max_replacements
        self.dropped_grace = dropped_grace
        self._lock = asyncio.Lock()
        self._next_nonce: int | None = None
        self._resync_needed = False
        self._inflight: dict[str, PendingTx] = {}  # any hash → its PendingTx

    @property
    def address(self) -> str:
        return str(self.account.address)

    @property
    def next_nonce(self) -> int | None:
        return self._next_nonce

    # ------------------------------------------------------------------ public API
    async def send(
        self,
        *,
        to: str,
        data: str,
        action: str,
        quote_id: int | None = None,
        value: int = 0,
        gas: int | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - receipt timeout, enforced inside
        tag: TxTag | None = None,
    ) -> TxOutcome:
        """Simulate, sign, journal, broadcast, then wait for the receipt (see module doc)."""
        pending = await self.broadcast(
            to=to, data=data, action=action, quote_id=quote_id, value=value, gas=gas, tag=tag
        )
        return await self.wait(pending, timeout=timeout)

    async def simulate(self, *, to: str, data: str, value: int = 0) -> int:
        """`eth_estimateGas` as this signer; a revert raises `TxReverted(reason, None)`."""
        call = self._call_object(to, data, value)
        try:
            result = await self.client.request("eth_estimateGas", [call, "pending"])
        except JsonRpcError as exc:
            raise TxReverted(self._reason(exc), None) from exc
        return int(result, 16)

    async def preflight(self, *, to: str, data: str, value: int = 0) -> int:
        """The gas limit to send with, after a pre-flight that raises `TxReverted(reason, None)`
        on a revert: `eth_call` at `FeePolicy.fixed_gas_limit` when set (an estimate decides
        when the call fails: the limit may be what was short), else the estimate × the margin."""
        fixed = self.fees.fixed_gas_limit
        if fixed is not None:
            call = self._call_object(to, data, value) | {"gas": hex(fixed)}
            try:
                await self.client.request("eth_call", [call, "pending"])
                return fixed
            except JsonRpcError:
                pass
        estimate = await self.simulate(to=to, data=data, value=value)
        return max(fixed or 0, estimate * self.fees.gas_limit_percent // 100)

    async def broadcast(
        self,
        *,
        to: str,
        data: str,
        action: str,
        quote_id: int | None = None,
        value: int = 0,
        gas: int | None = None,
        tag: TxTag | None = None,
    ) -> PendingTx:
        to = to_checksum_address(to)
        tag = tag or NO_TAG
        fees = asyncio.ensure_future(self._fees())  # read while the call is simulated
        try:
            if gas is None:
                try:
                    gas = await self.preflight(to=to, data=data, value=value)
                except TxReverted as exc:
                    await self._preflight_reverted(action, quote_id, exc.reason, tag)
                    raise
            max_fee, tip = await fees
        finally:
            if not fees.done():
                fees.cancel()
            elif not fees.cancelled():
                fees.exception()  # retrieved: a failed read raised above or is moot
        for _attempt in range(3):
            async with self._lock:
                if self._next_nonce is None or self._resync_needed:
                    await self._resync_locked()
                assert self._next_nonce is not None
                pending = PendingTx(
                    nonce=self._next_nonce,
                    action=action,
                    quote_id=quote_id,
                    to=to,
                    data=data,
                    value=value,
                    gas=gas,
                    max_fee=max_fee,
                    priority_fee=tip,
                    tag=tag,
                )
                tx_hash, raw = self._sign(pending)
                if self.journal is not None:
                    await self.journal.sent(
                        self.address, pending.nonce, tx_hash, action, quote_id, tag
                    )
                try:
                    await self._send_raw(raw)
                except _NonceTooLow:
                    log.warning("nonce %s too low for %s; resyncing", pending.nonce, self.address)
                    await self._status(tx_hash, "dropped", "nonce too low at broadcast")
                    await self._resync_locked()
                    continue
                except _Underpriced:
                    # another transaction of ours already sits at this nonce (e.g. an ambiguous
                    # earlier broadcast): move past it
                    await self._status(tx_hash, "dropped", "nonce occupied at broadcast")
                    self._next_nonce = max(self._next_nonce + 1, await self._pending_count())
                    continue
                except (RpcUnavailable, asyncio.CancelledError):
                    # may or may not have reached a node: resync before the next allocation
                    # (the journal row stays pending until a receipt or the chain settles it)
                    self._resync_needed = True
                    raise
                except JsonRpcError as exc:
                    # rejected outright (e.g. insufficient funds): the nonce is still free
                    await self._status(tx_hash, "dropped", exc.message)
                    raise TxReverted(f"rejected by the node: {exc.message}", None) from exc
                self._next_nonce = pending.nonce + 1
                pending.hashes.append(tx_hash)
                pending.raws[tx_hash] = raw
                pending.sent_at = time.monotonic()
                self._inflight[tx_hash] = pending
                log.info(
                    "sent %s quote=%s nonce=%s tx=%s", action, quote_id, pending.nonce, tx_hash
                )
                return pending
        raise RpcUnavailable(f"{action}: could not find a free nonce after resyncing")

    def inflight(
        self, action: str, quote_id: int | None, key: str | None = None
    ) -> PendingTx | None:
        """A transaction of this process for (action, quote[, key]) still awaiting its outcome."""
        for pending in self._inflight.values():
            if pending.action == action and pending.quote_id == quote_id:
                if key is None or pending.tag.key == key:
                    return pending
        return None

    def tracking(self, tx_hash: str) -> PendingTx | None:
        """The in-flight transaction of this process that `tx_hash` is a version of."""
        return self._inflight.get(tx_hash.lower()) or self._inflight.get(tx_hash)

    async def wait(
        self,
        pending: PendingTx,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - receipt timeout, enforced inside
    ) -> TxOutcome:
        """Wait for one of `pending`'s hashes to be mined and confirmed; replace when stuck."""
        pending.waiters += 1
        try:
            outcome = await self._wait(pending, timeout or self.receipt_timeout)
        except TxTimeout:
            raise  # still in flight: a later wait (a retried activity) can pick it up
        except BaseException:
            self._forget(pending)
            raise
        finally:
            pending.waiters -= 1
        self._forget(pending)
        return outcome

    def forget(self, tx_hash: str) -> None:
        """Stop tracking the transaction `tx_hash` belongs to (settled by someone else)."""
        pending = self.tracking(tx_hash)
        if pending is not None and pending.waiters == 0:
            self._forget(pending)

    def _forget(self, pending: PendingTx) -> None:
        for h in pending.hashes:
            self._inflight.pop(h, None)

    async def resync_nonce(self) -> int:
        async with self._lock:
            await self._resync_locked()
            assert self._next_nonce is not None
            return self._next_nonce

    async def revert_reason(self, tx: dict[str, Any], block: int | str) -> str:
        """Replay a transaction as `eth_call` at `block` and decode why it reverts."""
        call = {
            "from": tx.get("from", self.address),
            "to": tx["to"],
            "data": tx.get("input") or tx.get("data") or "0x",
            "value": tx.get("value", "0x0"),
            "gas": tx.get("gas", hex(self.fees.fallback_gas_limit)),
        }
        block_id = block if isinstance(block, str) else hex(block)
        try:
            await self.client.request("eth_call", [call, block_id])
        except JsonRpcError as exc:
            return self._reason(exc)
        return "reverted (replay at the block succeeded; reason unknown, maybe out of gas)"

    # ------------------------------------------------------------------ internals
    def _call_object(self, to: str, data: str, value: int) -> dict[str, Any]:
        return {"from": self.address, "to": to, "data": data, "value": hex(value)}

    def _reason(self, exc: JsonRpcError) -> str:
        decoded = decode_revert_data(exc.data, self.client.custom_errors)
        if decoded is None and isinstance(exc.data, dict):  # some nodes nest it
            decoded = decode_revert_data(exc.data.get("data"), self.client.custom_errors)
        return decoded or reason_from_message(exc.message)

    def _sign(self, p: PendingTx) -> tuple[str, bytes]:
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": p.nonce,
            "to": p.to,
            "data": p.data,
            "value": p.value,
            "gas": p.gas,
            "maxFeePerGas": p.max_fee,
            "maxPriorityFeePerGas": p.priority_fee,
        }
        signed = self.account.sign_transaction(tx)
        return "0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction)

    async def _fees(self) -> tuple[int, int]:
        block = await self.client.request("eth_getBlockByNumber", ["latest", False])
        base = int(block.get("baseFeePerGas") or "0x0", 16)
        tip = self.fees.priority_fee_wei
        max_fee = base * self.fees.base_fee_multiplier + tip
        if self.fees.max_fee_cap_wei is not None:
            max_fee = min(max_fee, self.fees.max_fee_cap_wei)
            tip = min(tip, max_fee)
        return max_fee, tip

    async def _pending_count(self) -> int:
        return await self.client.transaction_count(self.address, "pending")

    async def _resync_locked(self) -> None:
        count = await self._pending_count()
        if self._next_nonce is not None and count != self._next_nonce:
            log.info("nonce resync for %s: %s -> %s", self.address, self._next_nonce, count)
        self._next_nonce = count
        self._resync_needed = False

    async def _send_raw(self, raw: bytes) -> None:
        try:
            await self.client.request("eth_sendRawTransaction", ["0x" + raw.hex()])
        except JsonRpcError as exc:
            text = _lower(exc.message)
            if any(k in text for k in _KNOWN):
                return  # the node has exactly this transaction already
            if any(k in text for k in _NONCE_TOO_LOW):
                raise _NonceTooLow(exc.message) from exc
            if any(k in text for k in _UNDERPRICED):
                raise _Underpriced(exc.message) from exc
            raise

    async def _status(
        self,
        tx_hash: str,
        status: str,
        reason: str | None = None,
        gas_used: int | None = None,
        block: int | None = None,
    ) -> None:
        """Record a status in the journal, retried; a journal that stays unwritable is logged
        and the row, still pending, is settled later from its receipt (never silently)."""
        if self.journal is None:
            return
        for attempt in range(1, STATUS_WRITE_ATTEMPTS + 1):
            try:
                await self.journal.status(tx_hash, status, reason, gas_used, block)
                return
            except Exception:  # noqa: BLE001 - the journal update must not hide the outcome
                if attempt == STATUS_WRITE_ATTEMPTS:
                    log.exception(
                        "journal status %s for %s not written after %s attempts; it stays "
                        "pending until settled from its receipt", status, tx_hash, attempt,
                    )  # fmt: skip
                    return
                await asyncio.sleep(0.05 * attempt)

    async def _preflight_reverted(
        self, action: str, quote_id: int | None, reason: str, tag: TxTag
    ) -> None:
        if self.journal is None:
            return
        try:
            await self.journal.preflight_reverted(self.address, action, quote_id, reason, tag)
        except Exception:  # noqa: BLE001 - the revert itself is what the caller must see
            log.exception("pre-flight revert of %s quote=%s not journaled", action, quote_id)

    async def _find_receipt(self, pending: PendingTx) -> tuple[str, dict[str, Any]] | None:
        for h in reversed(pending.hashes):
            receipt = await self.client.get_receipt(h)
            if receipt is not None and receipt.get("blockNumber") is not None:
                return h, receipt
        return None

    async def _wait(self, pending: PendingTx, limit: float) -> TxOutcome:
        deadline = time.monotonic() + limit
        last_action = time.monotonic()
        replacements = 0
        consumed_at: float | None = None
        polls = 0
        while True:
            try:
                found = await self._find_receipt(pending)
                if found is not None:
                    return await self._settle(pending, *found)
                # the early looks ask for the receipt only; the nonce and the stuck checks run
                # once the looks are `poll_interval` apart
                early = receipt_poll_delay(polls, self.poll_interval) < self.poll_interval
                mined_nonce = (
                    -1 if early else await self.client.transaction_count(self.address, "latest")
                )
                if mined_nonce > pending.nonce:
                    # The nonce is used. Nodes may expose the new account nonce a moment before
                    # the receipt: only a nonce consumed for `dropped_grace` seconds, with none
                    # of our hashes in a block, means another transaction took it.
                    if consumed_at is None:
                        consumed_at = time.monotonic()
                    if time.monotonic() - consumed_at >= self.dropped_grace and not (
                        await self._any_in_block(pending)
                    ):
                        found = await self._find_receipt(pending)
                        if found is not None:
                            return await self._settle(pending, *found)
                        for h in pending.hashes:
                            await self._status(
                                h, "dropped", "nonce consumed by another transaction"
                            )
                        raise TxDropped(
                            f"{pending.action}: nonce {pending.nonce} was consumed by another "
                            "transaction",
                            tuple(pending.hashes),
                            pending.nonce,
                        )
                elif not early and time.monotonic() - last_action >= self.stuck_after:
                    known = await self.client.get_transaction(pending.latest_hash)
                    if known is None:
                        log.warning(
                            "%s nonce %s: node forgot %s; re-broadcasting",
                            pending.action, pending.nonce, pending.latest_hash,
                        )  # fmt: skip
                        await self._rebroadcast(pending)
                    elif replacements < self.max_replacements:
                        await self._replace(pending)
                        replacements += 1
                    last_action = time.monotonic()
            except RpcUnavailable:
                if time.monotonic() >= deadline:
                    raise
            if time.monotonic() >= deadline:
                raise TxTimeout(
                    f"{pending.action}: nonce {pending.nonce} not mined after {limit:.0f}s",
                    tuple(pending.hashes),
                    pending.nonce,
                )
            await asyncio.sleep(receipt_poll_delay(polls, self.poll_interval))
            polls += 1

    async def _any_in_block(self, pending: PendingTx) -> bool:
        for h in pending.hashes:
            tx = await self.client.get_transaction(h)
            if tx is not None and tx.get("blockNumber") is not None:
                return True
        return False

    async def _rebroadcast(self, pending: PendingTx) -> None:
        try:
            await self._send_raw(pending.raws[pending.latest_hash])
        except (_NonceTooLow, _Underpriced, JsonRpcError) as exc:
            log.info("re-broadcast of %s refused: %s", pending.latest_hash, exc)

    async def _replace(self, pending: PendingTx) -> None:
        """Same nonce, same call, fees up by `bump_percent` (and at least the current market)."""
        market_max, market_tip = await self._fees()
        bump = 100 + max(self.fees.bump_percent, 11)
        tip = max(pending.priority_fee * bump // 100 + 1, market_tip)
        max_fee = max(pending.max_fee * bump // 100 + 1, market_max, tip)
        if self.fees.max_fee_cap_wei is not None and max_fee > self.fees.max_fee_cap_wei:
            log.warning(
                "%s nonce %s: fee cap reached, not replacing", pending.action, pending.nonce
            )
            return
        candidate = PendingTx(
            nonce=pending.nonce,
            action=pending.action,
            quote_id=pending.quote_id,
            to=pending.to,
            data=pending.data,
            value=pending.value,
            gas=pending.gas,
            max_fee=max_fee,
            priority_fee=tip,
            tag=pending.tag,
        )
        tx_hash, raw = self._sign(candidate)
        if self.journal is not None:
            await self.journal.sent(
                self.address, pending.nonce, tx_hash, pending.action, pending.quote_id,
                pending.tag,
            )  # fmt: skip
        try:
            await self._send_raw(raw)
        except _NonceTooLow:
            # mined meanwhile (the receipt loop finds which version): this one was never
            # broadcast, so its journal row must not stay pending
            await self._status(tx_hash, "dropped", "replacement not broadcast: nonce already used")
            return
        except (_Underpriced, JsonRpcError) as exc:
            log.warning("replacement of %s refused: %s", pending.latest_hash, exc)
            await self._status(tx_hash, "dropped", f"replacement refused: {exc}")
            return
        pending.max_fee, pending.priority_fee = max_fee, tip
        pending.hashes.append(tx_hash)
        pending.raws[tx_hash] = raw
        self._inflight[tx_hash] = pending
        log.warning(
            "%s nonce %s stuck: replaced by %s (maxFee %s, tip %s)",
            pending.action, pending.nonce, tx_hash, max_fee, tip,
        )  # fmt: skip

    async def _settle(self, pending: PendingTx, tx_hash: str, receipt: dict[str, Any]) -> TxOutcome:
        block = int(receipt["blockNumber"], 16)
        # confirmations: the receipt's block counts as one
        while self.confirmations > 1:
            head = await self.client.block_number()
            if head >= block + self.confirmations - 1:
                again = await self.client.get_receipt(tx_hash)
                if again is None or again.get("blockNumber") is None:
                    raise _Reorged(tx_hash)
                receipt = again
                block = int(receipt["blockNumber"], 16)
                break
            await asyncio.sleep(self.poll_interval)
        status = int(receipt.get("status", "0x1"), 16)
        gas_used = int(receipt.get("gasUsed", "0x0"), 16)
        others = tuple(h for h in pending.hashes if h != tx_hash)
        for h in others:
            await self._status(h, "replaced", f"replaced by {tx_hash}")
        if status == 1:
            await self._status(tx_hash, "mined", None, gas_used, block)
            return TxOutcome(tx_hash, pending.nonce, block, gas_used, 1, others)
        tx = await self.client.get_transaction(tx_hash) or {
            "from": self.address,
            "to": pending.to,
            "input": pending.data,
            "value": hex(pending.value),
            "gas": hex(pending.gas),
        }
        reason = await self.revert_reason(tx, block)
        await self._status(tx_hash, "reverted", reason, gas_used, block)
        raise TxReverted(reason, tx_hash)


class _NonceTooLow(Exception):
    pass


class _Underpriced(Exception):
    pass


class _Reorged(RpcUnavailable):
    """The receipt vanished while waiting for confirmations (retry reads the chain again)."""
