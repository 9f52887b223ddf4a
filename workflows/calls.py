"""The workflows' only doors to the world: every activity call, typed, by reference.

Each call names its activity through the contract classes in `interfaces/` (so the type checker
sees the argument and the result), and sets its task queue, timeouts and retry policy in one
place. Failures arrive as one of two kinds the workflows reason about:

* `ActionImpossible` — a non-retryable application error (the chain state forbids the action,
  a transaction reverted for good, the broker rejected the order): the decision logic takes it
  as a fact and chooses the next step;
* `StepFailed` — automatic retries are exhausted (RPC down, broker unreachable): the workflow
  parks in STUCK and waits for an operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.types import MethodAsyncNoParam

with workflow.unsafe.imports_passed_through():
    from domain.enums import TradingState
    from domain.policy import OpenContext, SymbolConfig
    from domain.quote import Quote
    from interfaces.broker import (
        BrokerApi,
        FillPollResult,
        MarketRulesView,
        MarketSnapshot,
        MarkPriceInput,
        OrderRef,
        OrderRequest,
        OrderSnapshot,
        PollFillsInput,
        SymbolRef,
    )
    from interfaces.chain import (
        ChainApi,
        CloseFillRequest,
        LockRequest,
        OpenFacts,
        OpenFactsRef,
        OpenRequest,
        PartyARef,
        PartyBFunds,
        ProtocolStateView,
        QuoteRef,
        SymbolInfo,
        TxResult,
        UpnlSigWire,
        to_quote,
    )
    from interfaces.ledger import (
        AlertRow,
        DecisionRow,
        EarlyReservation,
        ExposureView,
        HedgeStatusUpdate,
        LedgerApi,
        LedgerBatch,
        LimitsView,
        NotificationRow,
        OpenInputs,
        OpsApi,
        OrderRow,
        PositionRow,
        QuoteRow,
    )
    from interfaces.risk import ExposureGrant, ExposureRequest, ExposureResize, TradingStateView
    from interfaces.temporal import TaskQueues

A = TypeVar("A")
R = TypeVar("R")
SelfT = TypeVar("SelfT")

# Automatic retries before a step is declared failed (and the workflow parks in STUCK).
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=6,
)
# Ledger writes retry for as long as it takes: a database outage must not fail a hedge.
LEDGER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
CHAIN_TIMEOUT_SECONDS = 120.0
CHAIN_READ_SECONDS = 20.0
CHAIN_HEARTBEAT_SECONDS = 10.0
POLL_HEARTBEAT_SECONDS = 10.0
DEFAULT_TIMEOUT_SECONDS = 30.0
TRADING_STATE_WAIT_SECONDS = 3.0  # the position path never waits longer on the ops worker


class ActionImpossible(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class StepFailed(Exception):
    def __init__(self, step: str, cause: str) -> None:
        super().__init__(f"{step} failed after retries: {cause}")
        self.step = step
        self.cause = cause


def _translate(name: str, exc: ActivityError) -> Exception:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        return ActionImpossible(cause.type or "ApplicationError", cause.message)
    return StepFailed(name, str(cause or exc))


async def _call(
    method: Callable[[SelfT, A], Awaitable[R]],
    arg: A,
    *,
    queue: str,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    retry: RetryPolicy = STEP_RETRY,
    heartbeat_seconds: float | None = None,
    summary: str | None = None,
) -> R:
    """`summary`: what the Temporal UI's timeline shows for this activity."""
    try:
        return await workflow.execute_activity_method(
            method,
            arg,
            task_queue=queue,
            start_to_close_timeout=timedelta(seconds=timeout_seconds),
            heartbeat_timeout=timedelta(seconds=heartbeat_seconds) if heartbeat_seconds else None,
            retry_policy=retry,
            summary=summary,
        )
    except ActivityError as exc:
        raise _translate(exc.activity_type or "activity", exc) from exc


async def _call0(
    method: MethodAsyncNoParam[SelfT, R],
    *,
    queue: str,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    retry: RetryPolicy = STEP_RETRY,
) -> R:
    try:
        return await workflow.execute_activity_method(
            method,
            task_queue=queue,
            start_to_close_timeout=timedelta(seconds=timeout_seconds),
            retry_policy=retry,
        )
    except ActivityError as exc:
        raise _translate(exc.activity_type or "activity", exc) from exc


async def _local(
    method: Callable[[SelfT, A], Awaitable[R]],
    arg: A,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    retry: RetryPolicy = STEP_RETRY,
) -> R:
    """A read run as a local activity, by the workflow worker itself (`workers.local_reads`),
    inside the workflow task that asks for it: no dispatch through the server and no workflow
    task of its own for its result. Timeouts, retries and failures as `_call`'s."""
    try:
        return await workflow.execute_local_activity_method(
            method, arg, start_to_close_timeout=timedelta(seconds=timeout_seconds),
            retry_policy=retry,
        )  # fmt: skip
    except ActivityError as exc:
        raise _translate(exc.activity_type or "local activity", exc) from exc


async def _local0(
    method: MethodAsyncNoParam[SelfT, R],
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    retry: RetryPolicy = STEP_RETRY,
) -> R:
    try:
        return await workflow.execute_local_activity_method(
            method, start_to_close_timeout=timedelta(seconds=timeout_seconds), retry_policy=retry
        )
    except ActivityError as exc:
        raise _translate(exc.activity_type or "local activity", exc) from exc


# ----------------------------------------------------------------------------------- chain


async def _chain(method: Callable[[SelfT, A], Awaitable[R]], arg: A) -> R:
    """A view: quick, so a dead chain worker is noticed by its timeout."""
    return await _call(method, arg, queue=TaskQueues.CHAIN, timeout_seconds=CHAIN_READ_SECONDS)


async def _chain_tx(method: Callable[[SelfT, A], Awaitable[R]], arg: A, summary: str) -> R:
    """A transaction: waits for its receipt (up to 90 s), heartbeating every second, so a dead
    chain worker is noticed in `CHAIN_HEARTBEAT_SECONDS`, well inside a deadline margin."""
    return await _call(
        method, arg, queue=TaskQueues.CHAIN, timeout_seconds=CHAIN_TIMEOUT_SECONDS,
        heartbeat_seconds=CHAIN_HEARTBEAT_SECONDS, summary=summary,
    )  # fmt: skip


async def read_quote(quote_id: int) -> Quote:
    return to_quote(await _chain(ChainApi.read_quote, QuoteRef(quote_id)))


async def quote_now(quote_id: int) -> tuple[Quote, int]:
    """The quote and the chain time in one activity."""
    view = await _chain(ChainApi.quote_now, QuoteRef(quote_id))
    return to_quote(view.quote), view.time.timestamp


async def position_facts(quote_id: int, *, local: bool = False) -> tuple[Quote, int, bool]:
    """The quote, the chain time and whether the protocol pauses PartyB actions, in one
    activity (`local`: a local one)."""
    ref = QuoteRef(quote_id)
    if local:
        view = await _local(ChainApi.position_facts, ref, timeout_seconds=CHAIN_READ_SECONDS)
    else:
        view = await _chain(ChainApi.position_facts, ref)
    return to_quote(view.quote), view.time.timestamp, bool(view.party_b_paused)


async def chain_time() -> int:
    view = await _call0(
        ChainApi.chain_time, queue=TaskQueues.CHAIN, timeout_seconds=CHAIN_READ_SECONDS
    )
    return view.timestamp


async def our_address() -> str:
    return await _call0(
        ChainApi.party_b_address, queue=TaskQueues.CHAIN, timeout_seconds=CHAIN_READ_SECONDS
    )


async def protocol_state() -> ProtocolStateView:
    """The diamond's pause switches and our PartyB's emergency status."""
    return await _call0(
        ChainApi.protocol_state, queue=TaskQueues.CHAIN, timeout_seconds=CHAIN_READ_SECONDS
    )


async def symbol_info(symbol_id: int) -> SymbolInfo:
    return await _chain(ChainApi.symbol_info, QuoteRef(symbol_id))


async def party_b_funds(party_a: str) -> PartyBFunds:
    return await _chain(ChainApi.party_b_funds, PartyARef(party_a))


async def open_facts(
    quote_id: int, *, local: bool = False, party_a: str = "", symbol_id: int = 0
) -> OpenFacts:
    """`party_a`, `symbol_id`: what the quote's SendQuote event said, when delivered; the
    activity then starts every read at once (the quote read still decides)."""
    ref = OpenFactsRef(quote_id, party_a=party_a, symbol_id=symbol_id)
    if local:
        return await _local(ChainApi.open_facts, ref, timeout_seconds=CHAIN_READ_SECONDS)
    return await _chain(ChainApi.open_facts, ref)


async def lock_quote(
    quote_id: int, allocate_first: Decimal, party_a: str = "", sig: UpnlSigWire | None = None
) -> TxResult:
    return await _chain_tx(
        ChainApi.lock_quote,
        LockRequest(quote_id, format(allocate_first, "f"), party_a, sig),
        f"lockQuote {quote_id}",
    )


async def unlock_quote(quote_id: int) -> TxResult:
    return await _chain_tx(ChainApi.unlock_quote, QuoteRef(quote_id), f"unlockQuote {quote_id}")


async def accept_cancel_request(quote_id: int) -> TxResult:
    return await _chain_tx(
        ChainApi.accept_cancel_request, QuoteRef(quote_id), f"acceptCancelRequest {quote_id}"
    )


async def open_position(quote_id: int, amount: Decimal, price: Decimal) -> TxResult:
    request = OpenRequest(quote_id, format(amount, "f"), format(price, "f"))
    return await _chain_tx(
        ChainApi.open_position, request, f"openPosition {quote_id}: {amount} at {price}"
    )


async def fill_close_request(
    quote_id: int, amount: Decimal, price: Decimal, closed_amount_before: Decimal
) -> TxResult:
    """`closed_amount_before`: the quote's closedAmount this fill was decided on; the activity
    sends nothing if the chain shows another (the fill already landed)."""
    request = CloseFillRequest(
        quote_id, format(amount, "f"), format(price, "f"),
        closed_amount_before=format(closed_amount_before, "f"),
    )  # fmt: skip
    return await _chain_tx(
        ChainApi.fill_close_request, request, f"fillCloseRequest {quote_id}: {amount} at {price}"
    )


async def accept_cancel_close_request(quote_id: int) -> TxResult:
    return await _chain_tx(
        ChainApi.accept_cancel_close_request, QuoteRef(quote_id),
        f"acceptCancelCloseRequest {quote_id}",
    )  # fmt: skip


async def emergency_close_position(quote_id: int) -> TxResult:
    return await _chain_tx(
        ChainApi.emergency_close_position, QuoteRef(quote_id),
        f"emergencyClosePosition {quote_id}",
    )  # fmt: skip


# ----------------------------------------------------------------------------------- broker


async def place_order(request: OrderRequest) -> OrderSnapshot:
    what = f"{request.side} {request.amount} {request.symbol} {request.type}"
    return await _call(
        BrokerApi.place_order, request, queue=TaskQueues.BROKER,
        summary=f"{what} ({request.client_order_id})",
    )  # fmt: skip


async def cancel_order(symbol: str, client_order_id: str) -> OrderSnapshot:
    return await _call(
        BrokerApi.cancel_order, OrderRef(symbol, client_order_id), queue=TaskQueues.BROKER,
        summary=f"cancel {client_order_id}",
    )  # fmt: skip


async def fetch_order(symbol: str, client_order_id: str) -> OrderSnapshot:
    return await _call(
        BrokerApi.fetch_order, OrderRef(symbol, client_order_id), queue=TaskQueues.BROKER
    )


async def mark_price(symbol: str) -> Decimal:
    price = await _call(BrokerApi.fetch_mark_price, MarkPriceInput(symbol), queue=TaskQueues.BROKER)
    return Decimal(price)


async def market_rules(symbol_name: str) -> MarketRulesView:
    return await _call(BrokerApi.market_rules, SymbolRef(symbol_name), queue=TaskQueues.BROKER)


async def market_snapshot(symbol_name: str, *, local: bool = False) -> MarketSnapshot:
    if local:
        return await _local(BrokerApi.market_snapshot, SymbolRef(symbol_name))
    return await _call(BrokerApi.market_snapshot, SymbolRef(symbol_name), queue=TaskQueues.BROKER)


# ----------------------------------------------------------------------------------- ledger
# Started in the background (the caller keeps the handle and awaits it before the workflow
# ends): no lock, hedge, open, close or unwind waits on the ledger; they retry for as long as
# the database is away.


def _start_ledger(
    method: Callable[[SelfT, A], Awaitable[None]], arg: A
) -> workflow.ActivityHandle[None]:
    return workflow.start_activity_method(
        method,
        arg,
        task_queue=TaskQueues.OPS,
        start_to_close_timeout=timedelta(seconds=DEFAULT_TIMEOUT_SECONDS),
        retry_policy=LEDGER_RETRY,
    )


def start_upsert_quote(row: QuoteRow) -> workflow.ActivityHandle[None]:
    return _start_ledger(LedgerApi.upsert_quote, row)


def start_write_batch(rows: list[Any]) -> workflow.ActivityHandle[None]:
    """`rows` (ledger rows only, `BATCHED_ROW_TYPES`) in one activity."""
    return _start_ledger(LedgerApi.write_batch, LedgerBatch.of(rows))


def start_set_hedge_status(update: HedgeStatusUpdate) -> workflow.ActivityHandle[None]:
    return _start_ledger(LedgerApi.set_hedge_status, update)


def start_record_decision(row: DecisionRow) -> workflow.ActivityHandle[None]:
    return _start_ledger(LedgerApi.record_decision, row)


def start_upsert_order(row: OrderRow) -> workflow.ActivityHandle[None]:
    return _start_ledger(LedgerApi.upsert_order, row)


def start_upsert_position(row: PositionRow) -> workflow.ActivityHandle[None]:
    return _start_ledger(LedgerApi.upsert_position, row)


def start_notify(row: NotificationRow) -> workflow.ActivityHandle[None]:
    return _start_ledger(LedgerApi.notify, row)


def start_raise_alert(row: AlertRow) -> workflow.ActivityHandle[None]:
    return _start_ledger(OpsApi.raise_alert, row)


def start_record_trading_state(view: TradingStateView) -> workflow.ActivityHandle[None]:
    return _start_ledger(LedgerApi.record_trading_state, view)


def start_resize_exposure(change: ExposureResize) -> workflow.ActivityHandle[None]:
    """What a quote holds in the exposure book from now on (retried until it lands)."""
    return _start_ledger(OpsApi.resize_exposure, change)


async def reserve_exposure(request: ExposureRequest) -> ExposureGrant:
    return await _call(OpsApi.reserve_exposure, request, queue=TaskQueues.OPS)


# A background write is named by its row's type: `start_write(row)` starts the one activity that
# records it, and a write still pending at continue-as-new is carried (type name + fields) and
# started again by the next run (writes are idempotent and ordered by their `seq`).
Write = (
    QuoteRow | HedgeStatusUpdate | DecisionRow | OrderRow | PositionRow | NotificationRow | AlertRow
    | ExposureResize
)  # fmt: skip
WRITE_TYPES: dict[str, type[Any]] = {
    t.__name__: t
    for t in (
        QuoteRow, HedgeStatusUpdate, DecisionRow, OrderRow, PositionRow, NotificationRow,
        AlertRow, ExposureResize,
    )
}  # fmt: skip


def start_write(row: Write) -> workflow.ActivityHandle[None]:
    if isinstance(row, QuoteRow):
        return start_upsert_quote(row)
    if isinstance(row, HedgeStatusUpdate):
        return start_set_hedge_status(row)
    if isinstance(row, DecisionRow):
        return start_record_decision(row)
    if isinstance(row, OrderRow):
        return start_upsert_order(row)
    if isinstance(row, PositionRow):
        return start_upsert_position(row)
    if isinstance(row, NotificationRow):
        return start_notify(row)
    if isinstance(row, AlertRow):
        return start_raise_alert(row)
    return start_resize_exposure(row)


# ----------------------------------------------------------------------------------- ops


async def _ops0(method: MethodAsyncNoParam[SelfT, R]) -> R:
    return await _call0(method, queue=TaskQueues.OPS, retry=LEDGER_RETRY)


async def trading_state() -> str:
    return await _ops0(OpsApi.trading_state)


async def trading_state_or(last: str) -> str:
    """The trading state, or `last` when the ops worker does not answer within seconds: for a
    workflow whose risk-reducing work must never wait on the ops worker (a transaction sent
    into a pause reverts harmlessly and is retried)."""
    try:
        return await workflow.execute_activity_method(
            OpsApi.trading_state,
            task_queue=TaskQueues.OPS,
            schedule_to_close_timeout=timedelta(seconds=TRADING_STATE_WAIT_SECONDS),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=2)),
        )
    except ActivityError:
        return last


async def exposure() -> ExposureView:
    return await _ops0(OpsApi.exposure)


async def limits() -> LimitsView:
    return await _ops0(OpsApi.limits)


async def open_inputs(*, local: bool = False) -> OpenInputs:
    if local:
        return await _local0(OpsApi.open_inputs, retry=LEDGER_RETRY)
    return await _ops0(OpsApi.open_inputs)


async def open_inputs_reserving(early: EarlyReservation, *, local: bool = False) -> OpenInputs:
    if local:
        return await _local(OpsApi.open_inputs_reserving, early)
    return await _call(OpsApi.open_inputs_reserving, early, queue=TaskQueues.OPS)


# ----------------------------------------------------------------------------------- fills


def start_poll_fills(
    symbol: str, client_order_id: str, seconds: float
) -> workflow.ActivityHandle[FillPollResult]:
    """Poll one order until it is final or `seconds` pass (heartbeating: a dead broker worker is
    noticed in `POLL_HEARTBEAT_SECONDS`); the caller may cancel it when woken earlier."""
    return workflow.start_activity_method(
        BrokerApi.poll_fills,
        PollFillsInput(symbol, client_order_id, timeout_seconds=seconds, interval_seconds=0.5),
        task_queue=TaskQueues.BROKER,
        start_to_close_timeout=timedelta(seconds=seconds + DEFAULT_TIMEOUT_SECONDS),
        heartbeat_timeout=timedelta(seconds=POLL_HEARTBEAT_SECONDS),
        retry_policy=STEP_RETRY,
    )


# ----------------------------------------------------------------------------------- composite


async def open_context(
    quote: Quote,
    now: int,
    our: str,
    info: SymbolInfo,
    rules: MarketRulesView | None,
    limits_view: LimitsView,
) -> OpenContext:
    """Gather everything `decide_open` needs (concurrently); the decision itself stays pure."""
    mark_task = mark_price(rules.symbol) if rules else _none()
    mark, exposure_view, state, funds = await asyncio.gather(
        mark_task, exposure(), trading_state(), party_b_funds(quote.party_a)
    )
    return build_open_context(
        quote, now, our, info, rules, limits_view, mark, exposure_view, state, funds
    )


def build_open_context(
    quote: Quote,
    now: int,
    our: str,
    info: SymbolInfo,
    rules: MarketRulesView | None,
    limits_view: LimitsView,
    mark: Decimal | None,
    exposure_view: ExposureView,
    state: str,
    funds: PartyBFunds,
) -> OpenContext:
    """`decide_open`'s input from facts already read (pure)."""
    symbol = None
    if rules is not None:
        symbol = SymbolConfig(
            symbol_id=quote.symbol_id, name=info.name, supported=info.is_valid, broker_market=rules.symbol,
            step_size=Decimal(rules.step_size), min_notional=Decimal(rules.min_notional),
            max_leverage=Decimal(info.max_leverage), notional_cap=Decimal(limits_view.notional_cap(info.name)),
            notional_used=Decimal(exposure_view.by_symbol.get(info.name, "0")), price_band_pct=Decimal(limits_view.price_band_pct),
            tick_size=Decimal(rules.tick_size),
            max_quantity=Decimal(rules.max_quantity) if rules.max_quantity else None,
        )  # fmt: skip
    return OpenContext(
        our_address=our,
        symbol=symbol,
        open_interest_cap=Decimal(limits_view.max_open_interest),
        open_interest_used=Decimal(exposure_view.open_interest),
        mark_price=mark,
        now=now,
        min_seconds_to_hedge=limits_view.min_seconds_to_deadline,
        available_allocation=Decimal(funds.available_for_quote),
        trading_state=TradingState(state),
        allocatable_balance=Decimal(funds.allocatable),
    )


async def _none() -> None:
    return None
