"""Chain activities (DESIGN §2 "Web3 Agent"): SYMMIO views and PartyB transactions.

Run on `hedger-chain` by one worker per signer key (its `TransactionSender` owns the nonces).
The contract (names, inputs, outputs; amounts as decimal strings) is `interfaces.chain.ChainApi`.

Exactly-once rules (DESIGN §3) — every transaction activity:

1. serialises on an asyncio lock per (partyB, partyA): each open/close bumps both nonces, so a
   second in-flight transaction for the pair would carry a stale Muon signature;
2. resumes instead of resending: a transaction of this activity (same action and quote, journaled
   since the activity was first scheduled) that is pending is awaited, one that was mined makes
   the result "already done";
3. reads the quote and returns "already done" when the chain already shows the target state by
   us (LOCKED/OPENED with partyB == us, CANCELED, ...), and fails with a non-retryable
   `ApplicationError(type="InvalidState")` when the chain state makes the action impossible;
4. fetches the Muon signature inside this attempt, right before sending, never across retries;
5. records every transaction in `chain_transactions` before broadcast (idempotent on
   (chain_id, tx_hash)) and updates its status from the receipt.

Error mapping: a revert → `ApplicationError(type="TxReverted", non_retryable=True,
details=[reason])`, except reasons a fresh signature fixes ("LibMuon: TSS not verified" — a
nonce moved — and "LibMuon: Expired signature"), which are retryable; a revert whose cause is a
state change is reported as InvalidState. RPC outages ("RpcUnavailable"), Muon outages
("MuonUnavailable"), dropped ("TxDropped") and still-pending ("TxPending") transactions are
retryable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from eth_utils.address import to_checksum_address
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.chain.client import ChainClient
from adapters.chain.errors import RpcUnavailable, TxDropped, TxReverted, TxTimeout
from adapters.chain.sender import TransactionSender, TxOutcome
from adapters.muon.client import MuonClient, MuonError, MuonUnavailable
from domain.enums import QuoteStatus
from domain.fixed import to_wei18
from domain.quote import OPEN_STATUSES, Quote, same_address
from interfaces.chain import (
    AllocateRequest,
    ChainApi,
    ChainTime,
    CloseFillRequest,
    LockRequest,
    OpenRequest,
    PartyARef,
    PartyBFunds,
    QuoteRef,
    QuoteView,
    SymbolInfo,
    TxResult,
    quote_view,
)
from ledger.models import ChainTransaction
from ledger.tx_journal import ChainJournal

log = logging.getLogger("hedger.activities.chain")

# Reverts a fresh Muon signature (new nonces, new timestamp) can fix: retry the activity.
RETRYABLE_REVERTS = ("LibMuon: TSS not verified", "LibMuon: Expired signature")

S = QuoteStatus
T = TypeVar("T")

# ------------------------------------------------------------------ errors


def invalid_state(message: str) -> ApplicationError:
    return ApplicationError(message, type="InvalidState", non_retryable=True)


def _retryable(kind: str, exc: BaseException) -> ApplicationError:
    return ApplicationError(f"{type(exc).__name__}: {exc}", type=kind, non_retryable=False)


@dataclass(frozen=True)
class _Plan:
    """How one transaction action judges the chain state."""

    action: str
    done: Callable[[Quote, str], bool]
    possible: Callable[[Quote, str, int], str | None]  # None = possible, else why not


def _status_in(quote: Quote, *statuses: QuoteStatus) -> bool:
    return quote.status in statuses


def _ours(quote: Quote, us: str) -> bool:
    return same_address(quote.party_b, us)


def _describe(quote: Quote) -> str:
    who = f" by {quote.party_b}" if quote.party_b else ""
    return f"quote {quote.id} is {quote.status.name}{who}"


def _lock_possible(q: Quote, us: str, now: int) -> str | None:
    if q.status != S.PENDING:
        return _describe(q)
    if q.deadline_passed(now):
        return f"quote {q.id} deadline {q.deadline} passed (chain time {now})"
    if not q.party_b_may_lock(us):
        return f"quote {q.id}: {us} may not lock it (whitelist / own quote)"
    return None


def _held_by_us(*statuses: QuoteStatus) -> Callable[[Quote, str, int], str | None]:
    def check(q: Quote, us: str, now: int) -> str | None:
        if q.status not in statuses or not _ours(q, us):
            return _describe(q)
        return None

    return check


def _before_deadline(
    inner: Callable[[Quote, str, int], str | None],
) -> Callable[[Quote, str, int], str | None]:
    def check(q: Quote, us: str, now: int) -> str | None:
        why = inner(q, us, now)
        if why is None and q.deadline_passed(now):
            return f"quote {q.id} deadline {q.deadline} passed (chain time {now})"
        return why

    return check


_OPENED_ONCE = (*OPEN_STATUSES, S.CLOSED, S.LIQUIDATED)

PLANS = {
    "lock_quote": _Plan(
        "lock_quote",
        lambda q, us: _ours(q, us) and q.status in (S.LOCKED, S.CANCEL_PENDING, *_OPENED_ONCE),
        _lock_possible,
    ),
    "unlock_quote": _Plan(
        "unlock_quote",
        # we no longer hold it: back to PENDING, expired, or taken by another PartyB
        lambda q, us: (
            q.status in (S.PENDING, S.EXPIRED, S.CANCELED)
            or (q.status == S.LOCKED and not _ours(q, us))
        ),
        _held_by_us(S.LOCKED),
    ),
    "accept_cancel_request": _Plan(
        "accept_cancel_request",
        lambda q, us: q.status == S.CANCELED,
        _held_by_us(S.CANCEL_PENDING),
    ),
    "open_position": _Plan(
        "open_position",
        lambda q, us: _ours(q, us) and q.status in _OPENED_ONCE,
        _before_deadline(_held_by_us(S.LOCKED, S.CANCEL_PENDING)),
    ),
    "fill_close_request": _Plan(
        "fill_close_request",
        lambda q, us: False,  # decided from our journal (a fill may leave the state unchanged)
        _before_deadline(_held_by_us(S.CLOSE_PENDING, S.CANCEL_CLOSE_PENDING)),
    ),
    "accept_cancel_close_request": _Plan(
        "accept_cancel_close_request",
        lambda q, us: False,  # OPENED again is ambiguous (expired / filled): journal decides
        _held_by_us(S.CANCEL_CLOSE_PENDING),
    ),
    "emergency_close_position": _Plan(
        "emergency_close_position",
        lambda q, us: _ours(q, us) and q.status == S.CLOSED,
        _held_by_us(S.OPENED, S.CLOSE_PENDING),
    ),
}


def alloc_action(party_a: str) -> str:
    """Journal action of an allocation for `party_a` (≤ 48 chars: one key per PartyA)."""
    return "alloc:" + party_a.lower().removeprefix("0x")


# ------------------------------------------------------------------ activities


class ChainActivities(ChainApi):
    def __init__(
        self,
        client: ChainClient,
        sender: TransactionSender,
        muon: MuonClient,
        sessions: async_sessionmaker[AsyncSession] | None,
        *,
        chain_id: int,
    ) -> None:
        self.client = client
        self.sender = sender
        self.muon = muon
        self.chain_id = chain_id
        self.journal = ChainJournal(sessions, chain_id) if sessions is not None else None
        if self.journal is not None:
            if sender.journal is None:
                sender.journal = self.journal.write
            if sender.on_status is None:
                sender.on_status = self.journal.status
        self._pair_locks: dict[tuple[str, str], asyncio.Lock] = {}

    @property
    def party_b(self) -> str:
        return self.sender.address

    def activities(self) -> Sequence[Callable[..., Any]]:
        return [
            self.read_quote, self.chain_time, self.party_b_address, self.symbol_info,
            self.party_b_funds, self.party_b_available, self.lock_quote, self.unlock_quote,
            self.accept_cancel_request, self.open_position, self.fill_close_request,
            self.accept_cancel_close_request, self.emergency_close_position,
            self.allocate_for_party_b,
        ]  # fmt: skip

    def pair_lock(self, party_a: str) -> asyncio.Lock:
        key = (self.party_b.lower(), party_a.lower())
        lock = self._pair_locks.get(key)
        if lock is None:
            lock = self._pair_locks[key] = asyncio.Lock()
        return lock

    # ---------------------------------------------------------------- reads
    @activity.defn(name="chain_read_quote")
    async def read_quote(self, ref: QuoteRef) -> QuoteView:
        return quote_view(await self._quote(ref.quote_id))

    @activity.defn(name="chain_time")
    async def chain_time(self) -> ChainTime:
        block = await self._rpc(self.client.latest_block())
        return ChainTime(block.number, block.timestamp)

    @activity.defn(name="chain_party_b_address")
    async def party_b_address(self) -> str:
        return self.party_b

    @activity.defn(name="chain_symbol_info")
    async def symbol_info(self, ref: QuoteRef) -> SymbolInfo:
        symbol = await self._rpc(self.client.get_symbol(ref.quote_id))
        if symbol.symbol_id == 0:
            raise ApplicationError(f"symbol {ref.quote_id} does not exist", type="UnknownSymbol",
                                   non_retryable=True)  # fmt: skip
        return SymbolInfo(
            symbol_id=symbol.symbol_id, name=symbol.name, is_valid=symbol.is_valid,
            max_leverage=str(symbol.max_leverage),
            min_acceptable_quote_value=str(symbol.min_acceptable_quote_value),
            min_acceptable_portion_lf=str(symbol.min_acceptable_portion_lf),
            trading_fee=str(symbol.trading_fee),
        )  # fmt: skip

    @activity.defn(name="chain_party_b_funds")
    async def party_b_funds(self, ref: PartyARef) -> PartyBFunds:
        available = await self._available(ref.party_a)
        deposited = await self._rpc(self.client.balance_of(self.party_b))
        return PartyBFunds(self.party_b, str(available), str(deposited))

    @activity.defn(name="chain_party_b_available")
    async def party_b_available(self, ref: PartyARef) -> str:
        return str(await self._available(ref.party_a))

    # ---------------------------------------------------------------- transactions
    @activity.defn(name="chain_lock_quote")
    async def lock_quote(self, req: LockRequest) -> TxResult:
        async def send(quote: Quote) -> TxOutcome:
            await self._ensure_allocation(quote, Decimal(req.allocate_first))
            sig = await self._muon(
                self.muon.party_b_upnl_sig(
                    party_b=self.party_b,
                    party_a=quote.party_a,
                    chain_id=self.chain_id,
                    symmio=self.client.address,
                )  # fmt: skip
            )
            return await self._send("lock_quote", quote.id, "lockQuote",
                                    [quote.id, sig.to_abi_tuple()])  # fmt: skip

        return await self._transact(PLANS["lock_quote"], req.quote_id, send)

    @activity.defn(name="chain_unlock_quote")
    async def unlock_quote(self, ref: QuoteRef) -> TxResult:
        async def send(quote: Quote) -> TxOutcome:
            return await self._send("unlock_quote", quote.id, "unlockQuote", [quote.id])

        return await self._transact(PLANS["unlock_quote"], ref.quote_id, send)

    @activity.defn(name="chain_accept_cancel_request")
    async def accept_cancel_request(self, ref: QuoteRef) -> TxResult:
        async def send(quote: Quote) -> TxOutcome:
            return await self._send(
                "accept_cancel_request", quote.id, "acceptCancelRequest", [quote.id]
            )

        return await self._transact(PLANS["accept_cancel_request"], ref.quote_id, send)

    @activity.defn(name="chain_open_position")
    async def open_position(self, req: OpenRequest) -> TxResult:
        amount, price = (
            _wei(req.filled_amount, "filled_amount"),
            _wei(req.opened_price, "opened_price"),
        )

        async def send(quote: Quote) -> TxOutcome:
            sig = await self._pair_sig(quote)
            return await self._send("open_position", quote.id, "openPosition",
                                    [quote.id, amount, price, sig.to_abi_tuple()])  # fmt: skip

        return await self._transact(PLANS["open_position"], req.quote_id, send)

    @activity.defn(name="chain_fill_close_request")
    async def fill_close_request(self, req: CloseFillRequest) -> TxResult:
        amount, price = (
            _wei(req.filled_amount, "filled_amount"),
            _wei(req.closed_price, "closed_price"),
        )

        async def send(quote: Quote) -> TxOutcome:
            sig = await self._pair_sig(quote)
            return await self._send("fill_close_request", quote.id, "fillCloseRequest",
                                    [quote.id, amount, price, sig.to_abi_tuple()])  # fmt: skip

        return await self._transact(PLANS["fill_close_request"], req.quote_id, send)

    @activity.defn(name="chain_accept_cancel_close_request")
    async def accept_cancel_close_request(self, ref: QuoteRef) -> TxResult:
        async def send(quote: Quote) -> TxOutcome:
            return await self._send("accept_cancel_close_request", quote.id,
                                    "acceptCancelCloseRequest", [quote.id])  # fmt: skip

        return await self._transact(PLANS["accept_cancel_close_request"], ref.quote_id, send)

    @activity.defn(name="chain_emergency_close_position")
    async def emergency_close_position(self, ref: QuoteRef) -> TxResult:
        async def send(quote: Quote) -> TxOutcome:
            sig = await self._pair_sig(quote)
            return await self._send("emergency_close_position", quote.id,
                                    "emergencyClosePosition", [quote.id, sig.to_abi_tuple()])  # fmt: skip

        return await self._transact(PLANS["emergency_close_position"], ref.quote_id, send)

    @activity.defn(name="chain_allocate_for_party_b")
    async def allocate_for_party_b(self, req: AllocateRequest) -> TxResult:
        """`allocateForPartyB(amount, partyA)`; a retry of an allocation already mined (or
        pending) in this activity is not sent again."""
        amount = _wei(req.amount, "amount")
        if amount <= 0:
            raise ApplicationError("allocation amount must be > 0", type="InvalidArgument",
                                   non_retryable=True)  # fmt: skip
        party_a = to_checksum_address(req.party_a)
        action = alloc_action(party_a)
        async with self.pair_lock(party_a):
            earlier = await self._resume(action, None)
            if earlier is not None:
                return TxResult(action, 0, earlier, already_done=True)
            try:
                outcome = await self._send(action, None, "allocateForPartyB", [amount, party_a])
            except TxReverted as exc:
                raise self._revert_error(exc) from exc
            return TxResult(action, 0, outcome.tx_hash)

    # ---------------------------------------------------------------- core
    async def _transact(
        self, plan: _Plan, quote_id: int, send: Callable[[Quote], Awaitable[TxOutcome]]
    ) -> TxResult:
        quote = await self._quote(quote_id)
        async with self.pair_lock(quote.party_a):
            # 1. a transaction of this very activity (an earlier attempt) decides first
            earlier = await self._resume(plan.action, quote_id)
            if earlier is not None:
                return TxResult(plan.action, quote_id, earlier, already_done=True)
            # 2. the chain state (read again: we may have waited for the pair lock)
            quote = await self._quote(quote_id)
            if plan.done(quote, self.party_b):
                return TxResult(plan.action, quote_id, None, already_done=True)
            now = (await self._rpc(self.client.latest_block())).timestamp
            why = plan.possible(quote, self.party_b, now)
            if why is not None:
                raise invalid_state(why)
            # 3. fresh signature + send, inside this attempt
            try:
                outcome = await send(quote)
            except TxReverted as exc:
                after = await self._quote(quote_id)
                if plan.done(after, self.party_b):
                    return TxResult(plan.action, quote_id, None, already_done=True)
                if exc.reason not in RETRYABLE_REVERTS:
                    now = (await self._rpc(self.client.latest_block())).timestamp
                    why = plan.possible(after, self.party_b, now)
                    if why is not None:
                        raise invalid_state(f"{why} ({exc.reason})") from exc
                raise self._revert_error(exc) from exc
            return TxResult(plan.action, quote_id, outcome.tx_hash)

    async def _resume(self, action: str, quote_id: int | None) -> str | None:
        """The hash of a transaction of this activity for (action, quote) that was mined, after
        waiting for one still pending; None when there is none (or none succeeded).

        A first attempt has no earlier attempt: it only waits for a same-action transaction
        of this process still in flight for the quote (never for an allocation, whose key is
        shared by every quote of the PartyA). Retries also consult the journal since the
        activity was first scheduled (a previous process may have sent it)."""
        first = not activity.in_activity() or activity.info().attempt <= 1
        if first and quote_id is None:
            return None
        pending = self.sender.inflight(action, quote_id)
        if pending is not None:
            try:
                outcome = await self._chain(self.sender.wait(pending))
                return outcome.tx_hash
            except TxReverted:
                pass  # judged again from the chain state
            except TxDropped:
                pass
        if self.journal is None or first:
            return None
        since = activity.info().scheduled_time
        rows = await self.journal.since(self.party_b, action, quote_id, since)
        for row in rows:
            if row.status == "mined":
                return row.tx_hash
        for row in rows:
            if row.status == "pending":
                mined = await self._settle_foreign(row)
                if mined:
                    return row.tx_hash
        return None

    async def _settle_foreign(self, row: ChainTransaction) -> bool:
        """A pending journal row this process does not track (written before a restart): wait
        for its receipt; True if it was mined successfully."""
        assert self.journal is not None
        deadline = asyncio.get_running_loop().time() + self.sender.receipt_timeout
        lost_at: float | None = None
        while True:
            receipt = await self._rpc(self.client.get_receipt(row.tx_hash))
            if receipt is not None and receipt.get("blockNumber") is not None:
                ok = int(receipt.get("status", "0x1"), 16) == 1
                block, gas = int(receipt["blockNumber"], 16), int(receipt["gasUsed"], 16)
                await self.journal.status(row.tx_hash, "mined" if ok else "reverted",
                                          None, gas, block)  # fmt: skip
                return ok
            known = await self._rpc(self.client.get_transaction(row.tx_hash))
            mined_nonce = await self._rpc(self.client.transaction_count(self.party_b, "latest"))
            in_block = known is not None and known.get("blockNumber") is not None
            if not in_block and (known is None or mined_nonce > row.nonce):
                # gone, or its nonce used by another tx — once that holds for the grace period
                # (a node may show the nonce before the receipt)
                lost_at = lost_at or asyncio.get_running_loop().time()
                if asyncio.get_running_loop().time() - lost_at >= self.sender.dropped_grace:
                    why = "nonce used by another transaction" if known else "unknown to the node"
                    await self.journal.status(row.tx_hash, "dropped", why, None, None)
                    return False
            else:
                lost_at = None
            if asyncio.get_running_loop().time() > deadline:
                raise ApplicationError(f"tx {row.tx_hash} still pending", type="TxPending")
            activity.heartbeat(row.tx_hash)
            await asyncio.sleep(self.sender.poll_interval)

    async def _send(self, action: str, quote_id: int | None, fn: str, args: list[Any]) -> TxOutcome:
        data = self.client.encode(fn, args)
        return await self._chain(
            self.sender.send(to=self.client.address, data=data, action=action, quote_id=quote_id)
        )

    async def _ensure_allocation(self, quote: Quote, allocate_first: Decimal) -> None:
        """allocateForPartyB before lockQuote when the allocation for this PartyA is below twice
        what the quote locks — up to that, capped at `allocate_first` (idempotent: a retry
        finds it done)."""
        if allocate_first <= 0:
            return
        available = await self._available(quote.party_a)
        # Keep headroom above what the lock needs: the open's solvency check counts the signed
        # uPnL, and a price move between lock and open must not make it revert.
        target = quote.locked_values.total_for_party_b * 2
        if available >= target:
            return
        amount = min(allocate_first, target - available)
        await self._send(alloc_action(quote.party_a), None, "allocateForPartyB",
                         [to_wei18(amount), to_checksum_address(quote.party_a)])  # fmt: skip

    async def _available(self, party_a: str) -> Decimal:
        info = await self._rpc(self.client.balance_info_of_party_b(self.party_b, party_a))
        upnl = Decimal(0)
        try:
            sig = await self.muon.party_b_upnl_sig(
                party_b=self.party_b, party_a=party_a, chain_id=self.chain_id,
                symmio=self.client.address,
            )  # fmt: skip
            upnl = Decimal(sig.upnl) / Decimal(10**18)
        except MuonError as exc:
            log.warning("uPnl_B unavailable for %s (%s); assuming 0", party_a, exc)
        return info.available_for_quote(upnl)

    async def _pair_sig(self, quote: Quote) -> Any:
        return await self._muon(
            self.muon.pair_upnl_and_price_sig(
                party_b=self.party_b,
                party_a=quote.party_a,
                chain_id=self.chain_id,
                symmio=self.client.address,
                symbol_id=quote.symbol_id,
            )  # fmt: skip
        )

    async def _quote(self, quote_id: int) -> Quote:
        last = await self._rpc(self.client.last_quote_id())
        if not 0 < quote_id <= last:
            raise invalid_state(f"quote {quote_id} does not exist (last id {last})")
        return await self._rpc(self.client.get_quote(quote_id))

    # ---------------------------------------------------------------- error translation
    @staticmethod
    async def _rpc(awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except RpcUnavailable as exc:
            raise _retryable("RpcUnavailable", exc) from exc

    @staticmethod
    async def _muon(awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except MuonUnavailable as exc:
            raise _retryable("MuonUnavailable", exc) from exc
        except MuonError as exc:
            raise _retryable("MuonError", exc) from exc

    @staticmethod
    async def _chain(awaitable: Awaitable[TxOutcome]) -> TxOutcome:
        try:
            return await awaitable
        except RpcUnavailable as exc:
            raise _retryable("RpcUnavailable", exc) from exc
        except TxDropped as exc:
            raise _retryable("TxDropped", exc) from exc
        except TxTimeout as exc:
            raise _retryable("TxPending", exc) from exc

    @staticmethod
    def _revert_error(exc: TxReverted) -> ApplicationError:
        retryable = exc.reason in RETRYABLE_REVERTS
        return ApplicationError(
            f"reverted: {exc.reason}" + (f" (tx {exc.tx_hash})" if exc.tx_hash else ""),
            exc.reason,
            type="TxReverted",
            non_retryable=not retryable,
        )


def _wei(value: str, name: str) -> int:
    try:
        amount = to_wei18(Decimal(value))
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ApplicationError(f"{name}={value!r}: {exc}", type="InvalidArgument",
                               non_retryable=True) from None  # fmt: skip
    return amount
