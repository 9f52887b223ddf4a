"""Chain activities (DESIGN §2 "Web3 Agent"): SYMMIO views and PartyB transactions.

Run on `hedger-chain` by one worker per signer key (its `TransactionSender` owns the nonces).
The contract (names, inputs, outputs; amounts as decimal strings) is `interfaces.chain.ChainApi`.

Exactly-once rules (DESIGN §3) — every transaction activity:

1. heartbeats every `HEARTBEAT_SECONDS` from start to end — while it waits for the pair lock,
   for Muon, for a receipt or for a journaled transaction of an earlier attempt — so a
   heartbeat timeout of ~10-15 s on the workflow side notices a dead chain worker;
2. serialises on an asyncio lock per (partyB, partyA): each open/close bumps both nonces, so a
   second in-flight transaction for the pair would carry a stale Muon signature;
3. resumes instead of resending, judged from the local journal (`adapters.chain.journal`):
   a transaction of this activity (an earlier attempt: same workflow, run and activity id),
   or one with the same idempotency key (a close fill's `closed_amount_before`, across
   activities), that was mined makes the result "already done"; one still pending is awaited
   (tracked by this process, or settled by receipt when a previous process sent it); a
   pending transaction of another activity for the same action and quote is awaited too, and
   the chain state then decides;
4. reads the quote and returns "already done" when the chain already shows the target state by
   us (LOCKED/OPENED with partyB == us, CANCELED, a `closedAmount` that moved past the one the
   workflow saw, ...), and fails with a non-retryable `ApplicationError(type="InvalidState")`
   when the chain state makes the action impossible;
5. fetches the Muon signature inside this attempt, right before sending, never across retries
   — except a lock's first attempt, which sends the signature its decision read moments
   before (`LockRequest.sig`, from `chain_open_facts`; SYMMIO's lock signature binds PartyB's
   nonce and uPnL for the PartyA, not the quote) while it is at most
   `CARRIED_SIG_MAX_AGE_SECONDS` old; the pre-flight refuses one a moved nonce or its expiry
   made invalid, and a fresh one is fetched and sent then;
6. journals every transaction locally (fsync'd) before broadcast, its status from the receipt,
   and a pre-flight revert as `reverted_preflight`; Postgres (`chain_transactions`) is a mirror
   caught up in the background, so no send waits on it.

The allocation inside `lockQuote` is journaled under the quote: a retried lock (any attempt,
any activity of the quote) that finds one pending waits for it, one mined counts, and no second
one is sent; otherwise the chain's available balance for the PartyA decides. The lock goes out
right behind its allocation, at the next nonce, without waiting for the allocation's receipt
(the allocation's wait runs alongside, replacing it when stuck): the lock's pre-flight runs
against the node's pending state. A node whose pending state lacks the allocation (many RPC
providers pre-flight against the latest block) refuses that pre-flight; the lock then waits for
the allocation's receipt and pre-flights once more (`LOCK_PREFLIGHT_AWAITED_ALLOCATION`).

A close fill that PartyB's allocation for the PartyA could not pay (PartyA in profit beyond
it: protocol-core's solvency-after-close and realised-profit checks, `domain.settlement`) is
preceded, inside the same pair lock, by an `allocateForPartyB` top-up of the shortfall plus a
margin (settings `close_top_up`, `close_top_up_margin`), journaled under the quote; pending
allocations are awaited first and the chain's allocation decides, so a retry never allocates
twice. When PartyB's free balance cannot pay that top-up (and the available balance after the
close is not what is short), PartyA's losing positions with us are settled first with
`settleUpnl` (Muon `settle_upnl`, fully at the signed price; `domain.settlement.quotes_to_settle`,
setting `close_settle_upnl`), which moves their losses into PartyB's allocation for that PartyA;
journaled under the quote the same way.

The balance manager's `chain_rebalance_party_b` decides (`domain.balance`) and sends one
`allocateForPartyB` / `deallocateForPartyB` (with the fresh `SingleUpnlSig` its decision read)
inside the pair lock, journaled with the run's key: a retry finds it and sends nothing more.

Error mapping: a revert → `ApplicationError(type="TxReverted", non_retryable=True,
details=[reason])`, except reasons a fresh signature fixes ("LibMuon: TSS not verified" — a
nonce moved — and "LibMuon: Expired signature"), which are retryable; a revert whose cause is a
state change is reported as InvalidState. RPC outages ("RpcUnavailable"), Muon outages
("MuonUnavailable"), dropped ("TxDropped") and still-pending ("TxPending") transactions, and a
local journal that cannot record a send ("JournalUnavailable"; a send is never broadcast
unrecorded), are retryable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any, Generic, TypeVar

from eth_utils.address import to_checksum_address
from prometheus_client import Counter, Gauge
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.chain.client import BlockInfo, ChainClient, PartyBBalanceInfo
from adapters.chain.errors import RpcUnavailable, TxDropped, TxReverted, TxTimeout
from adapters.chain.journal import (
    DROPPED,
    MINED,
    PENDING,
    REPLACED,
    REVERTED,
    JournalLocked,
    JournalRow,
    LocalJournal,
    TxTag,
)
from adapters.chain.sender import PendingTx, TransactionSender, TxOutcome
from adapters.muon.client import MuonClient, MuonError, MuonUnavailable
from domain.balance import (
    ALLOCATE,
    DEALLOCATE,
    NOTHING,
    AllocationBands,
    AllocationFacts,
    decide_allocation,
    liquidation_buffer,
)
from domain.enums import QuoteStatus
from domain.fixed import from_wei18, to_wei18
from domain.funding import funding_boundary
from domain.muon import SingleUpnlSig
from domain.quote import OPEN_STATUSES, Quote, same_address
from domain.settlement import (
    CloseSettlementFacts,
    SettleCandidate,
    close_settlement,
    needed_from_settlement,
    quotes_to_settle,
)
from interfaces.chain import (
    AllocateRequest,
    ChainApi,
    ChainTime,
    ChargeFundingRequest,
    ChargeFundingResult,
    CloseFillRequest,
    LockRequest,
    OpenFacts,
    OpenFactsRef,
    OpenRequest,
    PartyARef,
    PartyBFunds,
    PartyBHealth,
    ProtocolStateView,
    QuoteNow,
    QuoteRef,
    QuoteView,
    RebalanceRequest,
    RebalanceResult,
    SymbolInfo,
    TxResult,
    UpnlSigWire,
    quote_view,
)

# Reverted transactions of the chain worker, by whether the revert is retried (a pause, a busy
# nonce) or final; alert rule HedgerChainTxReverts.
CHAIN_TX_REVERTS = Counter(
    "hedger_chain_tx_reverts_total", "Chain transactions that reverted", ["retry"]
)
# Locks whose carried signature (the decision's, `LockRequest.sig`) the pre-flight refused.
CARRIED_SIG_REFUSED = Counter(
    "hedger_chain_lock_carried_sig_refused_total",
    "lockQuote pre-flights that refused the decision's uPnL signature (a fresh one was sent)",
)
LOCK_PREFLIGHT_AWAITED_ALLOCATION = Counter(
    "hedger_chain_lock_preflight_awaited_allocation_total",
    "lockQuote pre-flights refused while the allocation sent right before it was not yet mined "
    "(the node's pending state lacked it): the lock waited for the allocation and tried again",
)
PARTY_B_LIQUIDATION_BUFFER = Gauge(
    "hedger_partyb_liquidation_buffer",
    "PartyB's liquidation buffer towards a PartyA (allocated - locked cva - lf + uPnL), USD",
    ["party_a"],
)

log = logging.getLogger("hedger.activities.chain")

# Reverts a fresh Muon signature (new nonces, new timestamp) can fix, and the protocol's pause
# switches (cleared by its admin; meanwhile the workflows hold back, `domain.trading_state`):
# retry the activity.
# The reverts of a signature that a fresh one fixes (a nonce moved since it was signed; expired).
STALE_SIG = ("LibMuon: TSS not verified", "LibMuon: Expired signature")
RETRYABLE_REVERTS = (*STALE_SIG, "Pausable: PartyB actions paused", "Pausable: Global paused")
# A lock sends the decision's signature only while it is at most this old (chain time); the
# pre-flight still refuses one that is no longer valid, and a fresh one is sent then.
CARRIED_SIG_MAX_AGE_SECONDS = 10
# Transaction activities heartbeat this often, whatever they wait for (workflows may set a
# heartbeat timeout from ~5x this; 10-15 s is safe).
HEARTBEAT_SECONDS = 1.0
# A pending journal row nobody tracks (a previous process sent it) is declared dropped by the
# background sweep only after its transaction was unknown / its nonce used for this long.
ORPHAN_MIN_AGE_SECONDS = 60.0
ORPHAN_DROPPED_GRACE_SECONDS = 60.0

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


def settle_action(party_a: str) -> str:
    """Journal action of a settleUpnl with `party_a` (47 chars)."""
    return "settle:" + party_a.lower().removeprefix("0x")


def funding_action(party_a: str) -> str:
    """Journal action of the funding charges of one PartyA (≤ 48 chars; rows carry no quote)."""
    return "funding:" + party_a.lower().removeprefix("0x")


def funding_key(boundary: int, quote_ids: Sequence[int]) -> str:
    """The idempotency key of one charge: the epoch boundary and the quotes it pays for."""
    return f"funding:{boundary}:{','.join(str(q) for q in sorted(quote_ids))}"


def dealloc_action(party_a: str) -> str:
    """Journal action of a deallocation for `party_a` (48 chars)."""
    return "dealloc:" + party_a.lower().removeprefix("0x")


def close_fill_key(closed_amount_before_wei: int) -> str:
    """Idempotency key of a close fill: the quote's closedAmount the workflow saw before it."""
    return f"closed:{closed_amount_before_wei}"


# ------------------------------------------------------------------ heartbeats


@dataclass
class _Beat:
    """What a transaction activity is waiting for (its heartbeat details)."""

    phase: str


_BEAT: ContextVar[_Beat | None] = ContextVar("chain_activity_beat", default=None)
# The chain time of the block a transaction activity judged the quote at (set around its send).
_READ_AT: ContextVar[int | None] = ContextVar("chain_activity_read_at", default=None)


def _phase(text: str) -> None:
    beat = _BEAT.get()
    if beat is not None:
        beat.phase = text


@contextlib.asynccontextmanager
async def _heartbeating(what: str) -> AsyncIterator[None]:
    """Heartbeat every `HEARTBEAT_SECONDS` until the block ends (no-op outside an activity)."""
    if not activity.in_activity():
        yield
        return
    beat = _Beat(what)
    token = _BEAT.set(beat)

    async def tick() -> None:
        while True:
            try:
                activity.heartbeat(beat.phase)
            except Exception:  # noqa: BLE001 - a heartbeat must never fail the activity
                log.debug("heartbeat failed (%s)", what, exc_info=True)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    ticker = asyncio.create_task(tick(), name=f"heartbeat {what}")
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        _BEAT.reset(token)


def _origin() -> str | None:
    """The activity whose attempts share transactions: workflow id / run id / activity id."""
    if not activity.in_activity():
        return None
    info = activity.info()
    return f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"


def _is_retry() -> bool:
    return activity.in_activity() and activity.info().attempt > 1


class _AlreadyDone(Exception):
    """Raised inside a send when the chain shows the action done right before sending."""


@dataclass
class _AllocationInFlight:
    """An allocation broadcast right before its lock; the wait for its receipt runs alongside
    (replacing it when stuck) while the lock is sent behind it."""

    pending: PendingTx
    waiting: asyncio.Task[TxOutcome]


class _InLockRead(Generic[T]):
    """A read that `_transact` starts inside the pair lock together with its quote read (one
    round trip for both); the send awaits it when it needs the value."""

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._task: asyncio.Future[T] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._read())

    async def result(self) -> T:
        """The value read beside the quote (`start` ran: the send runs after the quote read)."""
        assert self._task is not None, "an in-lock read awaited before _transact started it"
        return await self._task

    def discard(self) -> None:
        """Cancel it if still running, and consume its failure (the send did not need it)."""
        task, self._task = self._task, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        elif not task.cancelled():
            task.exception()


# ------------------------------------------------------------------ activities


class ChainReads:
    """The chain's views for one PartyB address: no key, no journal, nothing sent. The chain
    worker's `ChainActivities` is one; the workflow worker hosts another for the reads the
    workflows run as local activities (`workers.local_reads`)."""

    def __init__(
        self, client: ChainClient, muon: MuonClient, *, party_b: str, chain_id: int
    ) -> None:
        self.client = client
        self.muon = muon
        self.chain_id = chain_id
        self._party_b = party_b

    @property
    def party_b(self) -> str:
        return self._party_b

    def local_reads(self) -> Sequence[Callable[..., Any]]:
        """The reads the workflows run as local activities."""
        return [self.open_facts, self.position_facts]

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
        info = await self._symbol_info(ref.quote_id)
        if info is None:
            raise ApplicationError(f"symbol {ref.quote_id} does not exist", type="UnknownSymbol",
                                   non_retryable=True)  # fmt: skip
        return info

    @activity.defn(name="chain_quote_now")
    async def quote_now(self, ref: QuoteRef) -> QuoteNow:
        quote, block = await self._quote_and_block(ref.quote_id)
        return QuoteNow(quote_view(quote), ChainTime(block.number, block.timestamp))

    @activity.defn(name="chain_position_facts")
    async def position_facts(self, ref: QuoteRef) -> QuoteNow:
        (quote, block), flags = await asyncio.gather(
            self._quote_and_block(ref.quote_id), self._rpc(self.client.pause_state())
        )
        paused = flags["global_paused"] or flags["party_b_actions_paused"]
        return QuoteNow(
            quote_view(quote), ChainTime(block.number, block.timestamp), party_b_paused=paused
        )

    @activity.defn(name="chain_open_facts")
    async def open_facts(self, ref: OpenFactsRef) -> OpenFacts:
        """The quote, the chain time, its symbol and our funds for its PartyA: the open
        decision's chain facts in one activity. With the SendQuote event's PartyA and symbol
        (`ref`'s hints) every read runs at once; without them, or where the quote read
        contradicts them, the symbol and funds reads follow the quote's."""
        if ref.party_a and ref.symbol_id > 0:
            quote, block, info, (funds, sig) = await asyncio.gather(
                self._quote(ref.quote_id),
                self._rpc(self.client.latest_block()),
                self._symbol_info(ref.symbol_id),
                self._funds_signed(ref.party_a),
            )
            if quote.symbol_id != ref.symbol_id:
                info = await self._symbol_info(quote.symbol_id)
            if quote.party_a.lower() != ref.party_a.lower():
                funds, sig = await self._funds_signed(quote.party_a)
        else:
            quote = await self._quote(ref.quote_id)
            block, info, (funds, sig) = await asyncio.gather(
                self._rpc(self.client.latest_block()),
                self._symbol_info(quote.symbol_id),
                self._funds_signed(quote.party_a),
            )
        missing = None if info is not None else f"symbol {quote.symbol_id} does not exist"
        return OpenFacts(
            self.party_b, quote_view(quote), ChainTime(block.number, block.timestamp), info,
            funds, symbol_error=missing, lock_sig=UpnlSigWire.of(sig) if sig else None,
        )  # fmt: skip

    async def _symbol_info(self, symbol_id: int) -> SymbolInfo | None:
        symbol = await self._rpc(self.client.get_symbol(symbol_id))
        if symbol.symbol_id == 0:
            return None
        return SymbolInfo(
            symbol_id=symbol.symbol_id, name=symbol.name, is_valid=symbol.is_valid,
            max_leverage=str(symbol.max_leverage),
            min_acceptable_quote_value=str(symbol.min_acceptable_quote_value),
            min_acceptable_portion_lf=str(symbol.min_acceptable_portion_lf),
            trading_fee=str(symbol.trading_fee),
        )  # fmt: skip

    @activity.defn(name="chain_party_b_funds")
    async def party_b_funds(self, ref: PartyARef) -> PartyBFunds:
        return (await self._funds_signed(ref.party_a))[0]

    @activity.defn(name="chain_party_b_available")
    async def party_b_available(self, ref: PartyARef) -> str:
        return str(await self._available(ref.party_a))

    @activity.defn(name="chain_protocol_state")
    async def protocol_state(self) -> ProtocolStateView:
        """The pause switches and our emergency status, read at one block."""
        block = await self._rpc(self.client.latest_block())
        flags = await self._rpc(self.client.pause_state(block.number))
        emergency = await self._rpc(
            self.client.party_b_emergency_status(self.party_b, block.number)
        )
        return ProtocolStateView(
            global_paused=flags["global_paused"],
            party_b_actions_paused=flags["party_b_actions_paused"],
            emergency_mode=flags["emergency_mode"],
            party_b_emergency=emergency,
            liquidation_paused=flags["liquidation_paused"],
            block_number=block.number,
        )

    # ---------------------------------------------------------------- read helpers
    async def _funds_signed(self, party_a: str) -> tuple[PartyBFunds, SingleUpnlSig | None]:
        """PartyB's funds for `party_a` (available for quotes, deposited), read at once, and the
        uPnL signature the available balance counted."""
        (available, sig), deposited = await asyncio.gather(
            self._available_signed(party_a), self._rpc(self.client.balance_of(self.party_b))
        )
        return PartyBFunds(self.party_b, str(available), str(deposited)), sig

    async def _available(self, party_a: str) -> Decimal:
        return (await self._available_signed(party_a))[0]

    async def _balance_info(self, party_a: str) -> PartyBBalanceInfo:
        """`balanceInfoOfPartyB` of our PartyB towards `party_a`."""
        return await self._rpc(self.client.balance_info_of_party_b(self.party_b, party_a))

    async def _available_signed(
        self, party_a: str, info_read: Awaitable[PartyBBalanceInfo] | None = None
    ) -> tuple[Decimal, SingleUpnlSig | None]:
        """PartyB's balance available for quotes of `party_a`, and the uPnl_B signature it
        counted (None when the oracle did not answer: the uPnL is taken as 0). `info_read`:
        the balance read already under way (else one is started)."""
        if info_read is None:
            info_read = self._balance_info(party_a)
        info, sig = await asyncio.gather(info_read, self._upnl_sig(party_a), return_exceptions=True)
        if isinstance(info, BaseException):
            raise info
        if isinstance(sig, MuonError):
            log.warning("uPnl_B unavailable for %s (%s); assuming 0", party_a, sig)
            return info.available_for_quote(Decimal(0)), None
        if isinstance(sig, BaseException):
            raise sig
        return info.available_for_quote(Decimal(sig.upnl) / Decimal(10**18)), sig

    def _upnl_sig(self, party_a: str) -> Awaitable[SingleUpnlSig]:
        """Muon's signature of PartyB's uPnL towards `party_a` (`lockQuote`'s, a deallocation's),
        to await."""
        return self.muon.party_b_upnl_sig(
            party_b=self.party_b, party_a=party_a, chain_id=self.chain_id,
            symmio=self.client.address,
        )  # fmt: skip

    async def _quote(self, quote_id: int) -> Quote:
        """The quote, read together with the last quote id that tells a quote that does not
        exist (the diamond answers an empty struct for it) from one that does."""
        last, quote = await asyncio.gather(
            self._rpc(self.client.last_quote_id()),
            self._rpc(self.client.get_quote(quote_id)),
            return_exceptions=True,
        )
        if isinstance(last, BaseException):
            raise last
        if not 0 < quote_id <= last:
            raise invalid_state(f"quote {quote_id} does not exist (last id {last})")
        if isinstance(quote, BaseException):
            raise quote
        return quote

    async def _quote_and_block(self, quote_id: int) -> tuple[Quote, BlockInfo]:
        """The quote and the latest block, read at once."""
        quote, block = await asyncio.gather(
            self._quote(quote_id), self._rpc(self.client.latest_block())
        )
        return quote, block

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


class ChainActivities(ChainReads, ChainApi):
    """The chain worker's activities: the views of `ChainReads` for its signer, and PartyB's
    transactions."""

    def __init__(
        self,
        client: ChainClient,
        sender: TransactionSender,
        muon: MuonClient,
        journal: LocalJournal | None,
        *,
        chain_id: int,
        close_top_up: bool = True,
        close_top_up_margin: Decimal = Decimal(1),
        close_settle_upnl: bool = True,
        lock_top_up_to: Decimal = Decimal(0),
    ) -> None:
        super().__init__(client, muon, party_b=sender.address, chain_id=chain_id)
        # a lock that must allocate tops PartyB's headroom for the PartyA up to at least this
        # (the balance manager's band target): the next locks of that PartyA send no allocation
        self.lock_top_up_to = lock_top_up_to
        # top up the allocation for the PartyA before a close fill it could not pay otherwise
        self.close_top_up = close_top_up
        self.close_top_up_margin = close_top_up_margin
        self.close_settle_upnl = close_settle_upnl
        self.sender = sender
        self.journal = journal
        if journal is not None and sender.journal is None:
            sender.journal = journal
        self._pair_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._lost_since: dict[str, float] = {}  # orphan sweep: hash → first seen lost

    def activities(self) -> Sequence[Callable[..., Any]]:
        return [
            self.read_quote, self.chain_time, self.party_b_address, self.symbol_info,
            self.party_b_funds, self.party_b_available, self.lock_quote, self.unlock_quote,
            self.accept_cancel_request, self.open_position, self.fill_close_request,
            self.accept_cancel_close_request, self.emergency_close_position,
            self.allocate_for_party_b, self.protocol_state, self.charge_funding_rate,
            self.rebalance_party_b,
            self.party_b_health, self.open_facts, self.quote_now, self.position_facts,
        ]  # fmt: skip

    def pair_lock(self, party_a: str) -> asyncio.Lock:
        key = (self.party_b.lower(), party_a.lower())
        lock = self._pair_locks.get(key)
        if lock is None:
            lock = self._pair_locks[key] = asyncio.Lock()
        return lock

    # ---------------------------------------------------------------- reads
    # ---------------------------------------------------------------- transactions
    @activity.defn(name="chain_lock_quote")
    async def lock_quote(self, req: LockRequest) -> TxResult:
        async def send(quote: Quote) -> TxOutcome:
            carried = self._carried_sig(req)
            # the allocation check counts PartyB's signed uPnL (the carried signature, or one
            # fetched in this attempt): an allocation moves no nonce and no uPnL, so that
            # signature is the one the lock sends
            sig, allocation = await self._ensure_allocation(
                quote, Decimal(req.allocate_first), carried,
                balance=balance if same_address(req.party_a, quote.party_a) else None,
            )  # fmt: skip
            return await self._behind(allocation, lock_signed(quote, sig, carried, allocation))

        async def lock_signed(
            quote: Quote, sig: SingleUpnlSig | None, carried: SingleUpnlSig | None,
            allocation: _AllocationInFlight | None,
        ) -> TxOutcome:  # fmt: skip
            if sig is None:
                sig = await self._muon(self._upnl_sig(quote.party_a))
            try:
                return await lock_with(quote, sig, allocation)
            except TxReverted as exc:
                # the pre-flight refused the carried signature (a nonce moved since it was
                # signed, or it expired): nothing was sent; send a fresh one
                if sig is not carried or exc.tx_hash is not None or exc.reason not in STALE_SIG:
                    raise
                CARRIED_SIG_REFUSED.inc()
                log.info("lock quote %s: carried signature refused (%s); fetching a fresh one",
                         quote.id, exc.reason)  # fmt: skip
                fresh = await self._muon(self._upnl_sig(quote.party_a))
                return await lock_with(quote, fresh, allocation)

        async def lock_with(
            quote: Quote, sig: SingleUpnlSig, allocation: _AllocationInFlight | None
        ) -> TxOutcome:
            def lock() -> Awaitable[TxOutcome]:
                return self._send("lock_quote", quote.id, "lockQuote",
                                  [quote.id, sig.to_abi_tuple()])  # fmt: skip

            unmined = allocation is not None and not allocation.waiting.done()
            try:
                return await lock()
            except TxReverted as exc:
                if not unmined or exc.tx_hash is not None:
                    raise
                assert allocation is not None
                # pre-flighted before the allocation sent right before it was mined: the node's
                # pending state may lack the allocation; wait for it, then pre-flight again
                LOCK_PREFLIGHT_AWAITED_ALLOCATION.inc()
                log.info("lock quote %s: pre-flight refused (%s) before its allocation was "
                         "mined; waiting for the allocation", quote.id, exc.reason)  # fmt: skip
                await allocation.waiting
                return await lock()

        # PartyB's balance for the PartyA (the allocation check's input) is read beside the
        # quote inside the pair lock when the PartyA is known: one round trip less per lock
        balance = (
            _InLockRead(lambda: self._balance_info(req.party_a))
            if req.party_a and Decimal(req.allocate_first) > 0
            else None
        )  # fmt: skip
        result = await self._transact(
            PLANS["lock_quote"], req.quote_id, send, party_a=req.party_a or None,
            alongside=balance,
        )  # fmt: skip
        return await self._with_facts(result)

    @activity.defn(name="chain_unlock_quote")
    async def unlock_quote(self, ref: QuoteRef) -> TxResult:
        async def send(quote: Quote) -> TxOutcome:
            return await self._send("unlock_quote", quote.id, "unlockQuote", [quote.id])

        return await self._transact(PLANS["unlock_quote"], ref.quote_id, send)

    async def _with_facts(self, result: TxResult) -> TxResult:
        """`result` with the quote and the chain time read right after it: the workflow's next
        facts without another round trip (without them when the read fails: it reads itself)."""
        try:
            quote, block = await asyncio.gather(
                self.client.get_quote(result.quote_id), self.client.latest_block()
            )
        except RpcUnavailable:
            return result
        return replace(result, quote=quote_view(quote), chain_time=block.timestamp)

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

        return await self._with_facts(
            await self._transact(PLANS["open_position"], req.quote_id, send)
        )

    @activity.defn(name="chain_fill_close_request")
    async def fill_close_request(self, req: CloseFillRequest) -> TxResult:
        """With `closed_amount_before`, a fill is idempotent across activities: a journaled fill
        with that key (pending: awaited, mined: done) or a chain `closedAmount` that differs —
        read inside the pair lock, right before sending — means it (or another close) landed."""
        amount, price = (
            _wei(req.filled_amount, "filled_amount"),
            _wei(req.closed_price, "closed_price"),
        )
        before = (
            None
            if req.closed_amount_before is None
            else _wei(req.closed_amount_before, "closed_amount_before")
        )
        key = None if before is None else close_fill_key(before)

        def landed(quote: Quote) -> bool:
            return before is not None and to_wei18(quote.closed_amount) != before

        async def send(quote: Quote) -> TxOutcome:
            sig = await self._pair_sig(quote)
            if before is not None and landed(await self._quote(quote.id)):
                raise _AlreadyDone
            if await self._top_up_for_close(quote, amount, price, sig, key):
                sig = await self._pair_sig(quote)
            return await self._send("fill_close_request", quote.id, "fillCloseRequest",
                                    [quote.id, amount, price, sig.to_abi_tuple()], key=key)  # fmt: skip

        return await self._transact(
            PLANS["fill_close_request"], req.quote_id, send, key=key, done=landed
        )

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
        async with _heartbeating(f"{action}: waiting for the pair lock"):
            async with self.pair_lock(party_a):
                earlier = await self._resume(action, None)
                if earlier is not None:
                    return TxResult(action, 0, earlier, already_done=True)
                try:
                    outcome = await self._send(action, None, "allocateForPartyB", [amount, party_a])
                except TxReverted as exc:
                    raise self._revert_error(exc) from exc
                return TxResult(action, 0, outcome.tx_hash)

    @activity.defn(name="chain_charge_funding_rate")
    async def charge_funding_rate(self, req: ChargeFundingRequest) -> ChargeFundingResult:
        """`chargeFundingRate(partyA, quoteIds, rates, PairUpnlSig)` for the epoch boundary
        `req.boundary`, of the quotes the chain shows not yet paid for it.

        Exactly once per (boundary, quote), whatever restarts: inside the pair lock, funding
        charges of this PartyA still pending in the journal (any batch, any process) are
        awaited first; a mined one with this batch's key counts as done; then each quote's
        `lastFundingPaymentTimestamp` decides — a quote already paid for the boundary, no longer
        open, or whose window is no longer the boundary's is skipped, not sent. The contract
        refuses a second charge for a boundary too. A rate above a quote's `maxFundingRate` is
        refused (InvalidArgument) before anything is sent."""
        if len(req.quote_ids) != len(req.rates) or not req.quote_ids:
            raise ApplicationError("quote_ids and rates must be non-empty and of one length",
                                   type="InvalidArgument", non_retryable=True)  # fmt: skip
        rates = {int(q): Decimal(r) for q, r in zip(req.quote_ids, req.rates, strict=True)}
        party_a = to_checksum_address(req.party_a)
        action = funding_action(party_a)
        async with _heartbeating(f"{action}: waiting for the pair lock"):
            async with self.pair_lock(party_a):
                _phase(f"{action}: waiting for pending funding charges")
                await self._await_pending(action)
                earlier = await self._resume(
                    action, None, key=funding_key(req.boundary, sorted(rates))
                )
                if earlier is not None:
                    return ChargeFundingResult(earlier, sorted(rates), [], already_done=True)
                _phase(f"{action}: reading the quotes")
                todo, skipped = await self._funding_todo(party_a, req.boundary, rates)
                if not todo:
                    return ChargeFundingResult(None, [], skipped, already_done=True)
                ids = sorted(todo)
                try:
                    wei = [to_wei18(todo[q], signed=True) for q in ids]
                except ValueError as exc:
                    raise ApplicationError(str(exc), type="InvalidArgument",
                                           non_retryable=True) from exc  # fmt: skip
                sig = await self._muon(
                    self.muon.pair_upnl_sig(
                        party_b=self.party_b,
                        party_a=party_a,
                        chain_id=self.chain_id,
                        symmio=self.client.address,
                    )  # fmt: skip
                )
                try:
                    outcome = await self._send(
                        action, None, "chargeFundingRate",
                        [party_a, ids, wei, sig.to_abi_tuple()], key=funding_key(req.boundary, ids),
                    )  # fmt: skip
                except TxReverted as exc:
                    left, _ = await self._funding_todo(party_a, req.boundary, todo)
                    if not left:  # charged meanwhile (another sender): nothing left to do
                        return ChargeFundingResult(None, [], sorted([*skipped, *ids]), True)
                    raise self._revert_error(exc) from exc
                return ChargeFundingResult(outcome.tx_hash, ids, skipped)

    async def _funding_todo(
        self, party_a: str, boundary: int, rates: dict[int, Decimal]
    ) -> tuple[dict[int, Decimal], list[int]]:
        """The quotes of `rates` the chain shows still to charge for `boundary` now, and the
        ones to skip (paid for it, not open, or outside its window)."""
        now = (await self._rpc(self.client.latest_block())).timestamp
        todo: dict[int, Decimal] = {}
        skipped: list[int] = []
        symbols: dict[int, tuple[int, int]] = {}
        for qid, rate in sorted(rates.items()):
            quote = await self._quote(qid)
            if not _ours(quote, self.party_b) or not same_address(quote.party_a, party_a):
                raise invalid_state(f"quote {qid} is not ours with {party_a}")
            if quote.status not in OPEN_STATUSES:
                skipped.append(qid)
                continue
            if quote.symbol_id not in symbols:
                sym = await self._rpc(self.client.get_symbol(quote.symbol_id))
                symbols[quote.symbol_id] = (sym.funding_rate_epoch_duration,
                                            sym.funding_rate_window_time)  # fmt: skip
            epoch, window = symbols[quote.symbol_id]
            due = None
            if epoch > 0:
                due = funding_boundary(now, epoch, window, quote.last_funding_payment_timestamp)
            if due != boundary:
                skipped.append(qid)
                continue
            if abs(rate) > quote.max_funding_rate:
                raise ApplicationError(
                    f"rate {rate} of quote {qid} is above its maxFundingRate "
                    f"{quote.max_funding_rate}", type="InvalidArgument", non_retryable=True,
                )  # fmt: skip
            todo[qid] = rate
        return todo, skipped

    async def _await_pending(self, action: str) -> None:
        """Wait for the journal's pending rows of `action` without a quote (any origin)."""
        if self.journal is None:
            return
        rows = await self.journal.find(action, None, statuses=(PENDING,))
        for nonce in sorted({r.nonce for r in rows if r.nonce is not None}):
            await self._outcome_of([r for r in rows if r.nonce == nonce])

    @activity.defn(name="chain_party_b_health")
    async def party_b_health(self, party_a: str) -> PartyBHealth:
        """Read-only: PartyB's allocation and locked values towards `party_a` and the oracle's
        signed uPnL of PartyB, and the buffer to the liquidation threshold."""
        who = to_checksum_address(party_a)
        info = await self._balance_info(who)
        sig = await self._muon(self._upnl_sig(who))
        upnl = from_wei18(sig.upnl)
        locked = info.locked.cva + info.locked.lf
        buffer = liquidation_buffer(info.allocated, locked, upnl)
        PARTY_B_LIQUIDATION_BUFFER.labels(who.lower()).set(float(buffer))
        return PartyBHealth(
            who.lower(), _dec(info.allocated), _dec(locked), _dec(upnl),
            _dec(buffer),
        )  # fmt: skip

    @activity.defn(name="chain_rebalance_party_b")
    async def rebalance_party_b(self, req: RebalanceRequest) -> RebalanceResult:
        """The balance manager's action for one PartyA (`domain.balance.decide_allocation`),
        decided and sent inside the pair lock from facts read in this attempt: the allocation,
        the locked and pending values, a fresh `SingleUpnlSig` (also the deallocation's
        signature), the free balance, the chain time and the deallocate cooldown.

        Idempotent per `req.key` (one per balance run): an allocation or deallocation journaled
        with that key and mined is this action done; one pending is awaited; a retry never sends
        a second one."""
        try:
            bands = AllocationBands(Decimal(req.low), Decimal(req.target), Decimal(req.high),
                                    Decimal(req.margin))  # fmt: skip
        except (ArithmeticError, ValueError) as exc:
            raise ApplicationError(f"bands: {exc}", type="InvalidArgument",
                                   non_retryable=True) from None  # fmt: skip
        party_a = to_checksum_address(req.party_a)
        who = party_a.lower()
        key = req.key or None
        actions = {ALLOCATE: alloc_action(party_a), DEALLOCATE: dealloc_action(party_a)}
        async with _heartbeating(f"rebalance {who}: waiting for the pair lock"):
            async with self.pair_lock(party_a):
                if key is not None and not req.dry_run:
                    for kind, action in actions.items():
                        earlier = await self._resume(action, None, key=key)
                        if earlier is not None:
                            return RebalanceResult(who, kind, "", "", "sent by an earlier attempt",
                                                   tx_hash=earlier, already_done=True)  # fmt: skip
                _phase(f"rebalance {who}: reading the chain and the oracle")
                info = await self._balance_info(party_a)
                sig = await self._muon(self._upnl_sig(party_a))
                free = await self._rpc(self.client.balance_of(self.party_b))
                block = await self._rpc(self.client.latest_block())
                last = await self._rpc(self.client.withdraw_cooldown_of(self.party_b))
                cooldown = await self._rpc(self.client.deallocate_cooldown())
                facts = AllocationFacts(
                    allocated=info.allocated, locked=info.locked, pending=info.pending_locked,
                    upnl=from_wei18(sig.upnl), free=free, now=block.timestamp,
                    last_deallocate=last, deallocate_cooldown=cooldown,
                )  # fmt: skip
                decision = decide_allocation(facts, bands)
                amount = decision.amount.quantize(Decimal("1e-18"), rounding=ROUND_DOWN)
                result = RebalanceResult(
                    who, decision.action, _dec(amount), _dec(decision.headroom), decision.reason,
                    _dec(decision.short), dry_run=req.dry_run,
                )  # fmt: skip
                if req.dry_run or decision.action == NOTHING or amount <= 0:
                    return result
                if decision.action == ALLOCATE:
                    fn, args = "allocateForPartyB", [to_wei18(amount), party_a]
                else:
                    fn, args = (
                        "deallocateForPartyB",
                        [to_wei18(amount), party_a, sig.to_abi_tuple()],
                    )
                log.info("rebalance %s: %s %s (%s)", who, decision.action, amount, decision.reason)
                try:
                    outcome = await self._send(actions[decision.action], None, fn, args, key=key)
                except TxReverted as exc:
                    raise self._revert_error(exc) from exc
                return replace(result, tx_hash=outcome.tx_hash)

    # ---------------------------------------------------------------- core
    async def _transact(
        self, plan: _Plan, quote_id: int, send: Callable[[Quote], Awaitable[TxOutcome]], *,
        key: str | None = None, done: Callable[[Quote], bool] | None = None,
        party_a: str | None = None, alongside: _InLockRead[Any] | None = None,
    ) -> TxResult:  # fmt: skip
        """`party_a`: the quote's PartyA when the caller knows it (the pair lock needs no read
        first; the quote is read inside the lock either way). `alongside`: a read the send
        needs, started inside the lock with the quote read."""

        def already(quote: Quote) -> bool:
            return plan.done(quote, self.party_b) or (done is not None and done(quote))

        async with _heartbeating(f"{plan.action} quote {quote_id}: reading the quote"):
            if party_a is None:
                party_a = (await self._quote(quote_id)).party_a
            _phase(f"{plan.action} quote {quote_id}: waiting for the pair lock")
            async with self.pair_lock(party_a):
                # 1. a transaction of this activity (or with this key) decides first
                earlier = await self._resume(plan.action, quote_id, key=key)
                if earlier is not None:
                    return TxResult(plan.action, quote_id, earlier, already_done=True)
                # 2. the chain state (read again: we may have waited for the pair lock)
                _phase(f"{plan.action} quote {quote_id}: reading the chain")
                if alongside is not None:
                    alongside.start()
                try:
                    return await self._decide_and_send(plan, quote_id, send, already)
                finally:
                    if alongside is not None:
                        alongside.discard()

    async def _decide_and_send(
        self, plan: _Plan, quote_id: int, send: Callable[[Quote], Awaitable[TxOutcome]],
        already: Callable[[Quote], bool],
    ) -> TxResult:  # fmt: skip
        """Inside the pair lock: judge the quote as the chain has it now, then send."""
        quote, block = await self._quote_and_block(quote_id)
        now = block.timestamp
        if already(quote):
            return TxResult(plan.action, quote_id, None, already_done=True)
        why = plan.possible(quote, self.party_b, now)
        if why is not None:
            raise invalid_state(why)
        # 3. fresh signature + send, inside this attempt
        read_at = _READ_AT.set(now)
        try:
            outcome = await send(quote)
        except _AlreadyDone:
            return TxResult(plan.action, quote_id, None, already_done=True)
        except TxReverted as exc:
            after = await self._quote(quote_id)
            if already(after):
                return TxResult(plan.action, quote_id, None, already_done=True)
            if exc.reason not in RETRYABLE_REVERTS:
                now = (await self._rpc(self.client.latest_block())).timestamp
                why = plan.possible(after, self.party_b, now)
                if why is not None:
                    raise invalid_state(f"{why} ({exc.reason})") from exc
            raise self._revert_error(exc) from exc
        finally:
            _READ_AT.reset(read_at)
        return TxResult(plan.action, quote_id, outcome.tx_hash)

    async def _resume(
        self, action: str, quote_id: int | None, *, key: str | None = None
    ) -> str | None:
        """The hash of an earlier transaction that already did what this activity is asked to
        do — after waiting for any still pending; None when there is none (or none succeeded).

        Earlier means: journaled by an earlier attempt of this very activity (same origin), or
        carrying the same idempotency `key` (any activity). Pending transactions of other
        activities for the same (action, quote) are awaited as well (never for an allocation
        without a quote, whose action is shared by every allocation for the PartyA); one that
        gets mined counts as this action done — unless a `key` is given and it carries
        another: then the chain state decides after it."""
        if self.journal is None:
            return await self._resume_in_process(action, quote_id, key)
        origin, retry = _origin(), _is_retry()

        def earlier(row: JournalRow) -> bool:
            if key is not None and row.key == key:
                return True
            return retry and origin is not None and row.origin == origin

        rows = await self.journal.find(action, quote_id)
        for row in rows:
            if row.status == MINED and earlier(row):
                return row.tx_hash
        waiting = [r for r in rows if r.status == PENDING and (quote_id is not None or earlier(r))]
        for nonce in sorted({r.nonce for r in waiting if r.nonce is not None}):
            versions = [r for r in waiting if r.nonce == nonce]
            mined = await self._outcome_of(versions)
            if mined is not None and (key is None or any(earlier(r) for r in versions)):
                return mined
        return None

    async def _resume_in_process(
        self, action: str, quote_id: int | None, key: str | None
    ) -> str | None:
        """Without a journal: only a transaction of this process still in flight counts."""
        if quote_id is None:
            return None
        pending = self.sender.inflight(action, quote_id, key)
        if pending is None:
            return None
        try:
            outcome = await self._chain(self.sender.wait(pending))
        except (TxReverted, TxDropped):
            return None  # judged again from the chain state
        return outcome.tx_hash

    async def _outcome_of(self, versions: Sequence[JournalRow]) -> str | None:
        """Wait for the pending same-nonce versions of one transaction; the hash that was mined
        successfully, or None (reverted, dropped, replaced by something else)."""
        for row in versions:
            tracked = self.sender.tracking(row.tx_hash)
            if tracked is not None:
                _phase(f"{row.action}: waiting for {tracked.latest_hash} (nonce {row.nonce})")
                try:
                    outcome = await self._chain(self.sender.wait(tracked))
                except (TxReverted, TxDropped):
                    return None
                return outcome.tx_hash
        return await self._settle_foreign(versions)

    async def _settle_foreign(self, versions: Sequence[JournalRow]) -> str | None:
        """Pending journal rows of one nonce this process does not track (written before a
        restart, or by an attempt that gave up): wait for a receipt of any of them; the hash
        mined successfully, or None once they reverted or are gone from the chain."""
        assert self.journal is not None
        _phase(f"{versions[0].action}: waiting for journaled nonce {versions[0].nonce}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.sender.receipt_timeout
        lost_at: float | None = None
        while True:
            lost = True
            for row in versions:
                settled = await self._rpc(self._settle_from_chain(row))
                if settled is not None:
                    for other in versions:
                        if other is not row:
                            await self.journal.status(other.tx_hash, REPLACED,
                                                      f"replaced by {row.tx_hash}")  # fmt: skip
                    return row.tx_hash if settled == MINED else None
                lost = lost and await self._rpc(self._lost(row))
            if lost:
                # gone, or the nonce used by another tx — once that holds for the grace period
                # (a node may show the nonce before the receipt)
                lost_at = lost_at or loop.time()
                if loop.time() - lost_at >= self.sender.dropped_grace:
                    for row in versions:
                        await self.journal.status(row.tx_hash, DROPPED, "gone from the chain")
                    return None
            else:
                lost_at = None
            if loop.time() > deadline:
                raise ApplicationError(f"tx {versions[-1].tx_hash} still pending", type="TxPending")
            await asyncio.sleep(self.sender.poll_interval)

    async def _settle_from_chain(self, row: JournalRow) -> str | None:
        """If `row`'s transaction has a receipt, journal it: MINED / REVERTED, else None."""
        assert self.journal is not None
        receipt = await self.client.get_receipt(row.tx_hash)
        if receipt is None or receipt.get("blockNumber") is None:
            return None
        ok = int(receipt.get("status", "0x1"), 16) == 1
        block, gas = int(receipt["blockNumber"], 16), int(receipt["gasUsed"], 16)
        reason = None
        if not ok:
            tx = await self.client.get_transaction(row.tx_hash)
            reason = await self.sender.revert_reason(tx, block) if tx else None
        status = MINED if ok else REVERTED
        await self.journal.status(row.tx_hash, status, reason, gas, block)
        return status

    async def _lost(self, row: JournalRow) -> bool:
        """Unknown to the node, or not in a block while its nonce is used."""
        known = await self.client.get_transaction(row.tx_hash)
        if known is not None and known.get("blockNumber") is not None:
            return False
        if known is None:
            return True
        mined_nonce = await self.client.transaction_count(self.party_b, "latest")
        return row.nonce is not None and mined_nonce > row.nonce

    async def settle_orphans(
        self, *, min_age: float = ORPHAN_MIN_AGE_SECONDS,
        dropped_grace: float = ORPHAN_DROPPED_GRACE_SECONDS,
    ) -> int:  # fmt: skip
        """One pass over pending journal rows nobody in this process waits for (a previous
        process sent them, or the attempt that did gave up): journal their receipt, or mark
        them dropped once gone for `dropped_grace`. Never waits; returns how many it settled.
        Run in the background by the chain worker, so a row never stays pending for ever."""
        if self.journal is None:
            return 0
        settled = 0
        now = time.time()
        for row in await self.journal.pending():
            tracked = self.sender.tracking(row.tx_hash)
            if (tracked is not None and tracked.waiters) or now - row.created_at < min_age:
                continue
            try:
                if await self._settle_from_chain(row) is not None:
                    settled += 1
                    self._lost_since.pop(row.tx_hash, None)
                    self.sender.forget(row.tx_hash)
                    continue
                if not await self._lost(row):
                    self._lost_since.pop(row.tx_hash, None)
                    continue
            except RpcUnavailable:
                return settled
            first = self._lost_since.setdefault(row.tx_hash, now)
            if now - first >= dropped_grace:
                await self.journal.status(row.tx_hash, DROPPED, "gone from the chain", None, None)
                self._lost_since.pop(row.tx_hash, None)
                self.sender.forget(row.tx_hash)
                settled += 1
        return settled

    async def _broadcast(
        self, action: str, quote_id: int | None, fn: str, args: list[Any], *,
        key: str | None = None,
    ) -> PendingTx:  # fmt: skip
        """Pre-flight, journal and broadcast `fn`; its receipt is the caller's to wait for."""
        return await self._chain(
            self.sender.broadcast(
                to=self.client.address,
                data=self.client.encode(fn, args),
                action=action,
                quote_id=quote_id,
                tag=TxTag(origin=_origin(), key=key),
            )  # fmt: skip
        )

    async def _send(
        self, action: str, quote_id: int | None, fn: str, args: list[Any], *,
        key: str | None = None,
    ) -> TxOutcome:  # fmt: skip
        _phase(f"{action}: sending {fn} and waiting for its receipt")
        pending = await self._broadcast(action, quote_id, fn, args, key=key)
        return await self._chain(self.sender.wait(pending))

    @staticmethod
    def _carried_sig(req: LockRequest) -> SingleUpnlSig | None:
        """The decision's signature (`LockRequest.sig`) when the lock may send it: in the
        activity's first attempt only (a retry always asks Muon), and while it is at most
        `CARRIED_SIG_MAX_AGE_SECONDS` older than the block `_transact` judged the quote at."""
        now = _READ_AT.get()
        if req.sig is None or _is_retry() or now is None:
            return None
        if now - req.sig.timestamp > CARRIED_SIG_MAX_AGE_SECONDS:
            return None
        return req.sig.to_sig()

    async def _ensure_allocation(
        self, quote: Quote, allocate_first: Decimal, carried: SingleUpnlSig | None = None,
        *, balance: _InLockRead[PartyBBalanceInfo] | None = None,
    ) -> tuple[SingleUpnlSig | None, _AllocationInFlight | None]:  # fmt: skip
        """allocateForPartyB before lockQuote when the allocation for this PartyA is below twice
        what the quote locks — up to that or `lock_top_up_to` if higher, capped at
        `allocate_first`. Returns the uPnL signature the available balance counted (`carried`
        when given, else one fetched now; None when Muon did not answer) and, when it sent an
        allocation, the wait for its receipt, already running (the lock is sent behind it
        without waiting: `_behind`).

        Idempotent per quote: the allocation is journaled under the quote, and one already
        made for it (any attempt, any lock activity of the quote) that is pending is awaited,
        one mined counts — no second allocation is sent; otherwise the chain's available
        balance decides: `balance` when given (read inside the pair lock with the quote) and
        no allocation of the quote was pending meanwhile, else read now."""
        if allocate_first <= 0:
            return carried, None
        action = alloc_action(quote.party_a)
        if self.journal is not None:
            rows = await self.journal.find(action, quote.id, statuses=(PENDING, MINED))
            if any(r.status == MINED for r in rows):
                return carried, None
            for nonce in sorted({r.nonce for r in rows if r.nonce is not None}):
                if await self._outcome_of([r for r in rows if r.nonce == nonce]) is not None:
                    return carried, None
            if rows:  # an allocation was pending when the balance was read: read it again
                balance = None
        elif await self._resume_in_process(action, quote.id, None) is not None:
            return carried, None
        info_read = balance.result() if balance is not None else self._balance_info(quote.party_a)
        sig: SingleUpnlSig | None
        if carried is not None:
            info = await info_read
            available, sig = info.available_for_quote(from_wei18(carried.upnl)), carried
        else:
            available, sig = await self._available_signed(quote.party_a, info_read)
        # Keep headroom above what the lock needs: the open's solvency check counts the signed
        # uPnL, and a price move between lock and open must not make it revert.
        needed = quote.locked_values.total_for_party_b * 2
        if available >= needed:
            return sig, None
        # an allocation is a transaction mined before the lock: make it one for many locks
        target = max(needed, self.lock_top_up_to)
        amount = min(allocate_first, target - available)
        pending = await self._broadcast(action, quote.id, "allocateForPartyB",
                                        [to_wei18(amount), to_checksum_address(quote.party_a)])  # fmt: skip
        waiting = asyncio.ensure_future(self._chain(self.sender.wait(pending)))
        return sig, _AllocationInFlight(pending, waiting)

    async def _behind(
        self, allocation: _AllocationInFlight | None, sending: Awaitable[TxOutcome]
    ) -> TxOutcome:
        """`sending` (the lock) sent right behind `allocation`, then the allocation's outcome:
        journaled either way, never left to run unobserved. When the lock failed as well, the
        allocation's failure is the error (it is why); after a lock that was mined it is logged
        (the lock did not need it)."""
        if allocation is None:
            return await sending
        try:
            outcome = await sending
        except asyncio.CancelledError:
            allocation.waiting.cancel()
            raise
        except Exception as lock_failed:
            try:
                await allocation.waiting
            except Exception as allocation_failed:
                log.info("lock failed (%s) after its allocation failed", lock_failed)
                raise allocation_failed from lock_failed
            raise
        waiting: Awaitable[TxOutcome] = allocation.waiting
        if not allocation.waiting.done():
            # the lock was mined, so the allocation (the nonce before it) was: look for its
            # receipt now rather than at its wait's next poll
            allocation.waiting.cancel()
            await asyncio.wait([allocation.waiting])
            waiting = self._chain(self.sender.wait(allocation.pending))
        try:
            await waiting
        except (TxReverted, ApplicationError) as exc:
            log.warning("allocation before lock tx %s did not land (%s); the lock was mined",
                        outcome.tx_hash, exc)  # fmt: skip
        return outcome

    async def _top_up_for_close(
        self, quote: Quote, amount: int, price: int, sig: Any, key: str | None
    ) -> bool:
        """`allocateForPartyB` before a close fill that PartyB's allocation for the PartyA could
        not pay (PartyA's realised profit, or PartyB's solvency after the close:
        `domain.settlement`), by the shortfall plus `close_top_up_margin`; True if it allocated.

        Runs inside the pair lock, right before the fill. Idempotent: allocations still pending
        for this PartyA (an earlier attempt's top-up, or any allocation of a previous process)
        are awaited first, then the chain's allocation decides — a top-up that landed leaves
        no shortfall, so a retry sends no second one. The row is journaled under the quote
        with the key `topup:<close key>`. Without enough free balance nothing is sent: the
        fill reverts and the workflow tries again later."""
        if not self.close_top_up:
            return False
        action = alloc_action(quote.party_a)
        _phase(f"close top-up quote {quote.id}: waiting for pending allocations")
        await self._await_allocations(action, quote.id)
        info = await self._balance_info(quote.party_a)
        facts = CloseSettlementFacts(
            position_type=quote.position_type, opened_price=quote.opened_price,
            open_quantity=quote.quantity - quote.closed_amount, quote_locked=quote.locked_values,
            filled_amount=from_wei18(amount), closed_price=from_wei18(price),
            market_price=from_wei18(sig.price), party_b_allocated=info.allocated,
            party_b_locked=info.locked, upnl_party_b=from_wei18(sig.upnl_party_b),
        )  # fmt: skip
        try:
            settlement = close_settlement(facts)
        except ValueError as exc:
            log.warning("close top-up for quote %s not computed: %s", quote.id, exc)
            return False  # the fill itself is judged by the chain
        top_up = settlement.top_up(self.close_top_up_margin)
        if top_up <= 0:
            return False
        free = await self._rpc(self.client.balance_of(self.party_b))
        if free < top_up:
            log.warning(
                "close of quote %s: PartyA's profit %s needs a top-up of %s for %s, but only %s "
                "is free", quote.id, settlement.party_a_pnl, top_up, quote.party_a, free,
            )  # fmt: skip
            needed = needed_from_settlement(settlement, info.allocated)
            if needed is None or not self.close_settle_upnl:
                return False
            return await self._settle_for_close(
                quote, needed + self.close_top_up_margin, key
            )  # fmt: skip
        log.info("close of quote %s: PartyA's profit %s; allocating %s for %s first",
                 quote.id, settlement.party_a_pnl, top_up, quote.party_a)  # fmt: skip
        await self._send(action, quote.id, "allocateForPartyB",
                         [to_wei18(top_up), to_checksum_address(quote.party_a)],
                         key=f"topup:{key or 'close'}")  # fmt: skip
        return True

    async def _settle_for_close(self, quote: Quote, needed: Decimal, key: str | None) -> bool:
        """`settleUpnl` of PartyA's losing positions with us (fully, at Muon's price) so PartyB's
        allocation for PartyA gains at least `needed`: the alternative to a top-up when the free
        balance cannot pay one. True if it settled. Journaled under the quote (`settle:<close
        key>`); settlements still pending for the pair are awaited first and the chain then
        decides, so a retry that finds the allocation covered sends none again. A refused
        settlement is logged and the fill left to the chain."""
        action = settle_action(quote.party_a)
        await self._await_allocations(action, quote.id)
        a = to_checksum_address(quote.party_a)
        raw = await self._rpc(self.client.party_b_open_positions(self.party_b, a, 50))
        others = [q for q in map(Quote.from_struct, raw) if q.id != quote.id]
        if not others:
            return False
        ids = sorted(q.id for q in others)
        sig = await self._muon(self.muon.settlement_sig(
            party_a=a, quote_ids=ids, chain_id=self.chain_id, symmio=self.client.address,
        ))  # fmt: skip
        price_of = {r.quote_id: from_wei18(r.current_price) for r in sig.rows}
        chosen = quotes_to_settle(
            [SettleCandidate(q.id, q.position_type, q.opened_price, q.quantity - q.closed_amount,
                             price_of[q.id]) for q in others],
            needed,
        )  # fmt: skip
        if not chosen:
            log.warning("close of quote %s: PartyA's losing positions cannot cover %s; "
                        "no settlement", quote.id, needed)  # fmt: skip
            return False
        if chosen != ids:
            sig = await self._muon(self.muon.settlement_sig(
                party_a=a, quote_ids=chosen, chain_id=self.chain_id, symmio=self.client.address,
            ))  # fmt: skip
        log.info("close of quote %s: settling PartyA's losing quotes %s first (needs %s)",
                 quote.id, chosen, needed)  # fmt: skip
        try:
            await self._send(action, quote.id, "settleUpnl",
                             [sig.to_abi_tuple(), [r.current_price for r in sig.rows], a],
                             key=f"settle:{key or 'close'}")  # fmt: skip
        except ApplicationError as exc:
            if exc.type != "TxReverted":
                raise
            log.warning("close of quote %s: settleUpnl refused: %s", quote.id, exc)
            return False
        return True

    async def _await_allocations(self, action: str, quote_id: int) -> None:
        """Wait for allocations for the PartyA still pending in the journal (for this quote, or
        for none), so the chain's allocation read afterwards includes them."""
        if self.journal is None:
            await self._resume_in_process(action, quote_id, None)
            return
        for qid in (quote_id, None):
            rows = await self.journal.find(action, qid, statuses=(PENDING,))
            for nonce in sorted({r.nonce for r in rows if r.nonce is not None}):
                await self._outcome_of([r for r in rows if r.nonce == nonce])

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

    @staticmethod
    async def _chain(awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except (sqlite3.Error, JournalLocked) as exc:
            # the local journal could not record a send (never broadcast unrecorded): retry
            raise _retryable("JournalUnavailable", exc) from exc
        except RpcUnavailable as exc:
            raise _retryable("RpcUnavailable", exc) from exc
        except TxDropped as exc:
            raise _retryable("TxDropped", exc) from exc
        except TxTimeout as exc:
            raise _retryable("TxPending", exc) from exc

    @staticmethod
    def _revert_error(exc: TxReverted) -> ApplicationError:
        retryable = exc.reason in RETRYABLE_REVERTS
        CHAIN_TX_REVERTS.labels("retryable" if retryable else "final").inc()
        return ApplicationError(
            f"reverted: {exc.reason}" + (f" (tx {exc.tx_hash})" if exc.tx_hash else ""),
            exc.reason,
            type="TxReverted",
            non_retryable=not retryable,
        )


def _dec(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _wei(value: str, name: str) -> int:
    try:
        amount = to_wei18(Decimal(value))
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ApplicationError(f"{name}={value!r}: {exc}", type="InvalidArgument",
                               non_retryable=True) from None  # fmt: skip
    return amount
