"""`IntentWorkflow` (`intent-<chainId>-<quoteId>`): one trader intent, from SendQuote to OPENED or flat.

The workflow is a reconciliation loop over pure decisions (DESIGN §4):

    facts  = chain quote + chain time + trading state + our broker orders (refreshed by activities)
    action = domain.open_path.next_open_action(facts)
    perform the action (an activity), record it, repeat — until Done(HEDGED_OPEN | FLAT).

Because every step is chosen from fresh facts, the same loop handles MARKET and LIMIT, partial
fills, cancel requests while PENDING / LOCKED / hedging, the deadline, broker rejections,
reverted transactions and operator commands; every branch ends hedged-and-open or flat.
Chain events and broker updates (signals) only wake the loop early; the facts are re-read.
Infrastructure faults are ridden out and a refused must-happen step parks the workflow in
STUCK (`workflows.hedge_base`).

Operators: the `state` query returns everything the workflow knows; in STUCK (search attribute
`HedgeStatus="STUCK"`, an alert) it waits for a `retry`, `unwind` or `abandon` signal (payload
`{"reason": "..."}`).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.converter import value_to_type
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain import events as ev
    from domain.enums import HedgeStatus, OrderType, QuoteStatus, TradingState
    from domain.errors import SolverErrorCode
    from domain.hedge_actions import (
        OPEN_STATUSES,
        AcceptCancel,
        CancelBrokerOrder,
        Done,
        Lock,
        OpenAction,
        OpenOnChain,
        Outcome,
        PlaceBrokerOrder,
        Unlock,
        UnwindBroker,
        WaitForFills,
        WaitForProtocol,
    )
    from domain.ids import open_order_client_id, position_workflow_id
    from domain.notifications import Step, wording
    from domain.open_path import OpenSituation, next_open_action
    from domain.policy import AcceptOpen, OpenContext, Reject, decide_open
    from domain.pricing import broker_side_for_open, open_limit_price
    from domain.quote import Quote, same_address
    from domain.sizing import Fill, open_price_to_report
    from domain.trading_state import hold_during_pause, is_protocol_paused
    from interfaces.broker import OrderRequest
    from interfaces.chain import SymbolInfo, TxResult, UpnlSigWire, quote_summary, to_quote
    from interfaces.ledger import (
        DecisionRow,
        EarlyReservation,
        LimitsView,
        NotificationRow,
        quote_row,
    )  # fmt: skip
    from interfaces.risk import ExposureGrant, ExposureRequest, ExposureResize
    from interfaces.temporal import SearchAttributes, TaskQueues
    from interfaces.workflows import (
        POSITION_WORKFLOW,
        SIGNAL_HANDOVER,
        ChainLog,
        IntentInput,
        PositionInput,
        PositionMarket,
    )

# Other workflow modules are imported by the sandbox like this one (never passed
# through), so every class in them, exceptions included, is one object per workflow.
from workflows import broker_legs, calls
from workflows.broker_legs import BrokerLeg
from workflows.calls import ActionImpossible
from workflows.hedge_base import (
    FAST_PATH_PATCH,
    LOCAL_READS_PATCH,
    HedgeState,
    HedgeWorkflow,
    NeedsOperator,
)

ZERO = Decimal(0)
MAX_BROKER_ORDERS = 12  # placements per intent before giving up on the hedge
DEADLINE_MARGIN_SECONDS = 20  # stop hedging this long before the deadline: time to open on chain


@dataclass
class IntentState(HedgeState):
    chain_time: int = 0
    decided: bool = False
    decision: str | None = None
    decision_code: int | None = None
    want_open: bool = True
    our_address: str = ""
    symbol_name: str = ""
    broker_market: str | None = None
    tick_size: str = "0.01"
    step_size: str | None = None
    min_acceptable_quote_value: str = "0"
    trading_state: str = TradingState.ACTIVE.value
    open_failed: bool = False
    broker_rejected: bool = False
    allocate_before_lock: str = "0"  # the most the lock may allocate first (PartyB's free balance)
    reserved: bool = False  # holds a reservation in the exposure book


# The front-end's notification for how an intent ended (SYMMIO.md §5.1 vocabulary): opened is
# `SendQuote`/success (above); a cancel accepted, an expiry.
NOTIFY_OUTCOME_PATCH = "notify-intent-outcome"
_OUTCOME_NOTIFICATIONS: dict[HedgeStatus, tuple[Step, str | None]] = {
    HedgeStatus.CANCELLED: (Step.CANCELLED, None),
    HedgeStatus.EXPIRED: (Step.EXPIRED, "the quote expired before it was opened"),
}


# Runs started before it told the front-end nothing between seen and opened; from it on the
# lock (our lockQuote mined) and the hedge (the broker filled, openPosition next) are reported.
NOTIFY_OPEN_STEPS_PATCH = "notify-open-steps"


# Runs started before it read the open decision's facts one activity at a time (about eight
# round trips before the lock); from it on, one round of concurrent activities
# (`_first_step`), and the lock activity is told the PartyA.
FAST_OPEN_PATCH = FAST_PATH_PATCH  # developed as "open-facts-in-one-round"


def _symbol_hint() -> str | None:
    """The symbol's name the listener put on the workflow at its start (None when it did not
    know it): the broker's market can be read in the first round, checked against the chain."""
    name = workflow.info().typed_search_attributes.get(SearchAttributes.SYMBOL)
    return name or None


# Runs started before it read the chain at the start of every step; from it on, a step after
# our own lock, broker placement or open decides on the facts that action left behind (the
# transaction activities read the quote right after) unless a chain event arrived meanwhile.
CARRY_FACTS_PATCH = FAST_PATH_PATCH  # developed as "carry-own-action-facts"
# Runs started before it read the quote and the chain time in two activities; from it on one.
QUOTE_NOW_PATCH = FAST_PATH_PATCH  # developed as "quote-and-time-in-one"
# Runs started before it rejected a quote whose reservation found the protocol paused (the
# trading state read a moment earlier still said active); from it on the quote holds back
# undecided, like one that found the pause in its first read.
HOLD_ON_PAUSED_GRANT_PATCH = FAST_PATH_PATCH  # developed as "hold-when-the-grant-sees-a-pause"


# Runs started before it reserved the quote's notional after deciding (one more round trip
# before the lock); from it on, when the listener named the symbol and the SendQuote event is
# at hand, the reservation goes out with the first round and is taken back if the quote is
# declined.
RESERVE_EARLY_PATCH = FAST_PATH_PATCH  # developed as "reserve-in-the-first-round"
WAD = Decimal(10**18)  # the event's amounts are 18-decimal integers
# Runs started before it left the position to read the symbol and the broker market again (two
# round trips before a close request is worked); from it on the position gets them.
POSITION_MARKET_PATCH = FAST_PATH_PATCH  # developed as "position-gets-the-market"
# Runs started before it resized the quote's reservation to the opened notional itself; from it
# on the position it starts does (its first record sets exactly that), once.
POSITION_BOOKS_PATCH = FAST_PATH_PATCH  # developed as "position-books-the-open-notional"


class _PausedMeanwhile(Exception):
    """The exposure book refused a reservation because the protocol paused PartyB actions."""


@workflow.defn(name="IntentWorkflow")
class IntentWorkflow(HedgeWorkflow[IntentState]):
    KIND = "intent"

    def __init__(self) -> None:
        super().__init__()
        # facts our last action left behind: quote, chain time, its transaction (if any)
        self._known: tuple[Quote, int, str | None] | None = None
        self._sent: ev.SendQuote | None = None  # the quote's SendQuote event, once delivered
        # the uPnL signature the first round's funds counted: the lock sends it while fresh
        self._lock_sig: UpnlSigWire | None = None

    SEQ_BASE = 0
    UNWIND_MEANS = "give the quote up: flatten the broker, then release or cancel it on chain"
    # Locked by us: after the quote's deadline anyone may expire it, and whatever the broker
    # holds for it must then be unwound.
    DEADLINE_STATUSES = frozenset({QuoteStatus.LOCKED.name, QuoteStatus.CANCEL_PENDING.name})
    DEADLINE_MEANS = "open on chain by then or the quote expires"

    def _on_unwind(self) -> None:
        if self._state is not None:
            self._state.want_open = False

    def _apply_event(self, event: ev.SymmioEvent, log: ChainLog) -> None:
        assert self._state is not None
        if isinstance(event, ev.SendQuote) and event.quote_id == self._state.quote_id:
            self._sent = event
        workflow.logger.info(
            "quote %s: %s from %s", self._state.quote_id, event.canonical_name, log.source
        )

    def _sent_hints(self) -> tuple[str, int]:
        """What the SendQuote event said of the quote's PartyA and symbol (`""`, 0 when it was
        not delivered): hints that let the first read round run at once."""
        sent = self._sent
        return ("", 0) if sent is None else (sent.party_a, sent.symbol_id)

    def _resume_input(self) -> IntentInput:
        s = self._state
        assert s is not None
        return IntentInput(s.chain_id, s.quote_id, asdict(s), history_limit=s.history_limit)

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, params: IntentInput) -> str:
        carried = value_to_type(IntentState, params.resume, []) if params.resume else None
        state = carried or IntentState(params.chain_id, params.quote_id)
        state.history_limit = params.history_limit or state.history_limit
        self._begin(state)
        return await self._loop()

    async def _step(self) -> str | None:
        s = self._state
        assert s is not None
        if not s.decided and workflow.patched(FAST_OPEN_PATCH):
            return await self._first_step()
        if not s.our_address:
            s.our_address = await calls.our_address()
        quote, now = await self._facts()
        if not s.decided and is_protocol_paused(s.trading_state):
            await self._hold_for_protocol("deciding on the quote")  # decided on the facts then
            return None
        if not s.decided:
            info = await calls.symbol_info(quote.symbol_id)
            s.symbol_name = info.name
            s.min_acceptable_quote_value = info.min_acceptable_quote_value
            self._record_quote(quote)
            try:
                accepted = self._is_ours(quote) or await self._decide(quote, now, info)
            except _PausedMeanwhile:
                await self._hold_for_protocol("deciding on the quote")
                return None
            if not accepted:
                s.decided = True
                return await self._finish(HedgeStatus.REJECTED, "rejected")
            s.decided = True
        return await self._act(quote, now)

    async def _first_step(self) -> str | None:
        """Undecided: every fact the decision needs in one round of concurrent activities (the
        chain's, the ops worker's and, when the listener named the symbol at the start, the
        broker's), decide, then act on the same facts."""
        s = self._state
        assert s is not None
        self._drain_logs()
        hint = _symbol_hint()
        early = self._early_reservation(hint)
        local = workflow.patched(LOCAL_READS_PATCH)
        party_a, symbol_id = self._sent_hints()
        reads: list[Any] = [
            calls.open_facts(s.quote_id, local=local, party_a=party_a, symbol_id=symbol_id),
            calls.open_inputs(local=local)
            if early is None
            else calls.open_inputs_reserving(early, local=local),
        ]
        if hint:
            reads.append(calls.market_snapshot(hint, local=local))
        facts, inputs, *snap = await asyncio.gather(*reads)
        if inputs.grant is not None and inputs.grant.granted:
            s.reserved = True  # whatever ends this intent from here on takes it back
        s.our_address = facts.party_b
        self._lock_sig = facts.lock_sig
        quote, now = to_quote(facts.quote), facts.time.timestamp
        self._adopt(quote, now, inputs.trading_state)
        if is_protocol_paused(s.trading_state):
            await self._hold_for_protocol("deciding on the quote")  # decided on the facts then
            return None
        info = facts.symbol
        if info is None:
            self._hold_exposure(ZERO)  # an early reservation is not held while stuck
            s.reserved = False
            raise ActionImpossible("UnknownSymbol", facts.symbol_error or "unknown symbol")
        s.symbol_name = info.name
        s.min_acceptable_quote_value = info.min_acceptable_quote_value
        self._record_quote(quote)
        if not self._is_ours(quote):
            snapshot = snap[0] if snap and hint == info.name else None
            if snapshot is None:
                snapshot = await calls.market_snapshot(info.name, local=local)
            if snapshot.rules is None:  # the broker does not list it: the policy rejects it
                s.last_error = f"UnknownSymbol: {snapshot.unlisted}"
            mark = Decimal(snapshot.mark_price) if snapshot.mark_price is not None else None
            context = calls.build_open_context(
                quote, now, s.our_address, info, snapshot.rules, inputs.limits, mark,
                inputs.exposure, inputs.trading_state, facts.funds,
            )  # fmt: skip
            try:
                grant = await self._early_grant(quote, early, inputs.grant)
                accepted = await self._judge(quote, context, inputs.limits, grant)
            except _PausedMeanwhile:
                await self._hold_for_protocol("deciding on the quote")
                return None
            if not accepted:
                s.decided = True
                self._hold_exposure(ZERO)  # an early reservation is taken back
                return await self._finish(HedgeStatus.REJECTED, "rejected")
        s.decided = True
        return await self._act(quote, now)

    def _early_reservation(self, hint: str | None) -> EarlyReservation | None:
        """The reservation that can go out with the first round: the notional the SendQuote
        event states, under the symbol the listener named (None without either)."""
        s = self._state
        assert s is not None
        sent = self._sent
        if not hint or sent is None or not workflow.patched(RESERVE_EARLY_PATCH):
            return None
        notional = (Decimal(sent.quantity) / WAD) * (Decimal(sent.price) / WAD)
        return EarlyReservation(s.quote_id, hint, str(notional))

    async def _early_grant(
        self, quote: Quote, early: EarlyReservation | None, grant: ExposureGrant | None
    ) -> ExposureGrant | None:
        """The early reservation's grant when it reserved what the chain's quote needs; one
        made under another symbol or notional (the listener's hint was stale) is taken back
        first, and the decision reserves afresh."""
        s = self._state
        assert s is not None
        if early is None or grant is None:
            return None
        wanted = quote.quantity * quote.requested_open_price
        if early.symbol == s.symbol_name and Decimal(early.notional) == wanted:
            return grant
        if grant.granted:
            await calls.start_resize_exposure(ExposureResize(s.quote_id, early.symbol, "0"))
            s.reserved = False
        return None

    async def _act(self, quote: Quote, now: int) -> str | None:
        """Decide the next action from the facts just read and perform it."""
        s = self._state
        assert s is not None
        if (
            quote.status == QuoteStatus.LOCKED
            and self._is_ours(quote)
            and "locked" not in s.notified
            and workflow.patched(NOTIFY_OPEN_STEPS_PATCH)
        ):
            self._notify_step(quote, Step.LOCKED, filled_amount_open="0")
        action = await self._next_action(quote, now)
        if isinstance(action, Done):
            return await self._done(action, quote)
        await self._perform(action, quote, now)
        return None

    async def _next_action(self, quote: Quote, now: int) -> OpenAction:
        s = self._state
        assert s is not None
        await broker_legs.refresh(s.legs, self._record_leg)
        situation = self._situation(quote, now)
        if is_protocol_paused(situation.trading_state):
            # decided as if trading were on; what would send anything waits for the protocol
            return hold_during_pause(
                next_open_action(replace(situation, trading_state=TradingState.ACTIVE))
            )
        return next_open_action(situation)

    async def _facts(self) -> tuple[Quote, int]:
        """The quote and the chain time: those our own lock, placement or open left behind when
        nothing else arrived from the chain since (no round trip), else read afresh. The events
        of our own transaction (the listeners deliver them right after it) are no news."""
        known, self._known = self._known, None
        if known is not None:
            quote, now, own_tx = known
            news = [log for log in self._pending_logs if not _same_tx(log.tx_hash, own_tx)]
            if not news and workflow.patched(CARRY_FACTS_PATCH):
                self._drain_logs()
                return quote, now
        return await self._refresh_chain()

    def _carry(self, quote: Quote, now: int, own_tx: str | None = None) -> None:
        """What the next step may decide on without reading the chain again."""
        self._known = (quote, now, own_tx)

    def _carry_result(self, result: TxResult) -> None:
        if result.quote is not None:
            quote = to_quote(result.quote)
            self._adopt(quote, result.chain_time, self._state.trading_state if self._state else "")
            self._carry(quote, result.chain_time, result.tx_hash)

    async def _settled(self) -> bool:
        quote, now = await self._refresh_chain()
        return isinstance(await self._next_action(quote, now), Done)

    # ------------------------------------------------------------------ facts

    async def _refresh_chain(self) -> tuple[Quote, int]:
        s = self._state
        assert s is not None
        self._drain_logs()
        if workflow.patched(QUOTE_NOW_PATCH):
            (quote, now), trading = await asyncio.gather(
                calls.quote_now(s.quote_id), calls.trading_state()
            )
        else:
            quote, now, trading = await asyncio.gather(
                calls.read_quote(s.quote_id), calls.chain_time(), calls.trading_state()
            )
        self._adopt(quote, now, trading)
        return quote, now

    def _adopt(self, quote: Quote, now: int, trading: str) -> None:
        """The facts just read become what the workflow knows (and shows)."""
        s = self._state
        assert s is not None
        s.trading_state = trading
        s.quote = quote_summary(quote)
        s.chain_status = quote.status.name
        s.chain_time = now
        self._saw_chain_time(now)

    def _is_ours(self, quote: Quote) -> bool:
        assert self._state is not None
        return same_address(quote.party_b, self._state.our_address)

    def _broker_filled(self) -> Decimal:
        s = self._state
        assert s is not None
        opened = sum((leg.filled for leg in s.legs if leg.purpose == "open"), ZERO)
        unwound = sum((leg.filled for leg in s.legs if leg.purpose == "unwind"), ZERO)
        return opened - unwound

    def _situation(self, quote: Quote, now: int) -> OpenSituation:
        s = self._state
        assert s is not None
        chain_open = quote.quantity if quote.status in OPEN_STATUSES else ZERO
        return OpenSituation(
            chain_status=quote.status,
            ours=self._is_ours(quote),
            order_type=quote.order_type,
            quantity=quote.quantity,
            broker_filled=self._broker_filled(),
            broker_order_open=any(not leg.final for leg in s.legs),
            deadline_near=quote.deadline - now < DEADLINE_MARGIN_SECONDS,
            deadline_passed=now > quote.deadline,
            trading_state=TradingState(s.trading_state),
            want_open=s.want_open,
            broker_rejected=s.broker_rejected,
            open_failed=s.open_failed,
            chain_open_quantity=chain_open,
            total_for_party_a=quote.locked_values.total_for_party_a,
            min_acceptable_quote_value=Decimal(s.min_acceptable_quote_value),
            # the contract's exact "quote value is low" checks for a partial LIMIT open
            locked_values=quote.locked_values,
            expected_open_price=self._open_price(quote),
            requested_open_price=quote.requested_open_price,
            step_size=Decimal(s.step_size) if s.step_size else None,
        )

    # ------------------------------------------------------------------ policy

    async def _decide(self, quote: Quote, now: int, info: SymbolInfo) -> bool:
        s = self._state
        assert s is not None
        rules = None
        try:
            rules = await calls.market_rules(info.name)
        except (
            ActionImpossible
        ) as exc:  # the broker does not list this symbol: the policy rejects it
            s.last_error = str(exc)
        limits = await calls.limits()
        context = await calls.open_context(quote, now, s.our_address, info, rules, limits)
        return await self._judge(quote, context, limits)

    async def _judge(
        self,
        quote: Quote,
        context: OpenContext,
        limits: LimitsView,
        early: ExposureGrant | None = None,
    ) -> bool:
        """The policy's decision on `context`; an accepted quote reserves its notional first
        (`early`: the reservation the first round made already)."""
        s = self._state
        assert s is not None
        decision = decide_open(quote, context)
        if isinstance(decision, AcceptOpen):
            # Reserve the notional atomically: every quote in flight counts against the caps.
            grant = early or await calls.reserve_exposure(
                ExposureRequest(
                    s.quote_id, s.symbol_name, str(quote.quantity * quote.requested_open_price),
                    limits.max_open_interest, limits.notional_cap(s.symbol_name),
                )
            )  # fmt: skip
            if (
                not grant.granted
                and is_protocol_paused(grant.trading_state)
                and workflow.patched(HOLD_ON_PAUSED_GRANT_PATCH)
            ):
                s.trading_state = grant.trading_state
                raise _PausedMeanwhile(grant.reason)
            if not grant.granted:
                decision = Reject.of(_cap_code(grant), grant.reason)
        if isinstance(decision, AcceptOpen):
            s.reserved = True
            s.decision = "accepted"
            s.broker_market = decision.broker_market
            # The lock activity tops the allocation up from fresh chain state inside the pair
            # lock (other quotes of this PartyA may lock first): cap it by what PartyB has free.
            s.allocate_before_lock = str(context.allocatable_balance)
            s.tick_size = str(context.symbol.tick_size if context.symbol else "0.01")
            s.step_size = str(context.symbol.step_size) if context.symbol else None
            self._write(DecisionRow(s.chain_id, s.quote_id, True, "accepted"))
            self._write(self._notice(quote, Step.SEEN))
            return True
        s.decision = decision.message
        s.decision_code = int(decision.code)
        self._write(
            DecisionRow(s.chain_id, s.quote_id, False, decision.message, int(decision.code))
        )
        if workflow.patched("notify-rejection"):
            # the trader sees the hedger decline, with the policy's solver error code
            self._write(
                self._notice(quote, Step.REJECTED, failure_message=decision.message,
                             error_code=int(decision.code))
            )  # fmt: skip
        return False

    # ------------------------------------------------------------------ actions

    async def _perform(self, action: Any, quote: Quote, now: int) -> None:
        s = self._state
        assert s is not None
        if isinstance(action, Lock):
            await self._set_status(HedgeStatus.LOCKING)
            party_a = quote.party_a if workflow.patched(FAST_OPEN_PATCH) else ""
            sig, self._lock_sig = self._lock_sig, None  # one lock sends it, at most
            try:
                self._carry_result(
                    await calls.lock_quote(
                        s.quote_id, Decimal(s.allocate_before_lock), party_a, sig
                    )
                )
            except ActionImpossible as exc:
                s.last_error = str(exc)
                s.want_open = False  # lost the race or the quote moved on: the next facts decide
        elif isinstance(action, PlaceBrokerOrder):
            await self._set_status(HedgeStatus.HEDGING)
            placing = workflow.now()
            await self._place(quote, action.quantity, purpose="open")
            # the chain did not move for our placement: decide the open on the same facts when
            # the order is done (an IOC) and did not wait (no liquidity); a resting order is
            # waited for after a fresh look at the chain
            settled = all(leg.final for leg in s.legs)
            if settled and workflow.now() - placing < timedelta(seconds=1):
                self._carry(quote, now)
        elif isinstance(action, WaitForFills):
            await self._wait_for_fills(quote.deadline - DEADLINE_MARGIN_SECONDS - now)
        elif isinstance(action, CancelBrokerOrder):
            await broker_legs.cancel_working(s.legs, self._record_leg)
        elif isinstance(action, WaitForProtocol):
            await self._hold_for_protocol("the open path")
        elif isinstance(action, OpenOnChain):
            await self._set_status(HedgeStatus.OPENING)
            price = self._open_price(quote)
            assert price is not None
            if "hedged" not in s.notified and workflow.patched(NOTIFY_OPEN_STEPS_PATCH):
                # what the broker filled and the price the trader gets, before the open is sent
                self._notify_step(quote, Step.HEDGED, filled_amount_open=str(action.amount),
                                  avg_price_open=str(price))  # fmt: skip
            try:
                self._carry_result(await calls.open_position(s.quote_id, action.amount, price))
            except ActionImpossible as exc:
                s.last_error = str(exc)
                s.open_failed = True
        elif isinstance(action, UnwindBroker):
            await self._set_status(HedgeStatus.UNWINDING)
            await self._place(quote, action.quantity, purpose="unwind")
        elif isinstance(action, Unlock | AcceptCancel):
            s.want_open = False  # we are letting the quote go: never lock it again
            try:
                if isinstance(action, Unlock):
                    await calls.unlock_quote(s.quote_id)
                else:
                    await calls.accept_cancel_request(s.quote_id)
            except ActionImpossible as exc:
                s.last_error = str(exc)  # the facts (re-read next) show what happened instead
                await self._wait(2)
        else:  # pragma: no cover - the decision function returns only the types above
            raise ApplicationError(f"unknown action {action!r}", non_retryable=True)

    async def _place(self, quote: Quote, quantity: Decimal, *, purpose: str) -> None:
        s = self._state
        assert s is not None
        if len(s.legs) >= MAX_BROKER_ORDERS and purpose == "open":
            s.broker_rejected = True
            return
        open_side = broker_side_for_open(quote.position_type)
        side = open_side if purpose == "open" else open_side.opposite
        cid = open_order_client_id(s.quote_id, len(s.legs) + 1)
        market = s.broker_market or s.symbol_name
        amount = format(quantity, "f")
        if purpose == "open":
            price = open_limit_price(
                quote.position_type, quote.requested_open_price, Decimal(s.tick_size)
            )
            tif = "IOC" if quote.order_type == OrderType.MARKET else "GTC"
            request = OrderRequest(
                cid, market, side.value, "limit", amount, format(price, "f"), False, tif
            )
        else:
            # A plain order, not reduce-only: the broker account nets every quote's hedge.
            request = OrderRequest(cid, market, side.value, "market", amount, None)
        leg = BrokerLeg(cid, purpose, market, side.value, amount)
        refused = await broker_legs.place(s.legs, leg, request, self._record_leg)
        await self._record_leg(leg)
        if refused is not None:
            s.last_error = str(refused)
            if purpose != "open":  # the exposure must go: a person decides
                raise NeedsOperator(f"unwind refused by the broker: {refused}") from refused
            s.broker_rejected = True
        if (
            purpose == "open"
            and quote.order_type == OrderType.MARKET
            and leg.final
            and leg.filled == 0
        ):
            await self._wait(1)  # an IOC that found no liquidity: breathe before the next try

    def _open_price(self, quote: Quote) -> Decimal | None:
        s = self._state
        assert s is not None
        fills = [
            Fill(leg.filled, avg)
            for leg in s.legs
            if leg.purpose == "open" and leg.filled > 0 and (avg := leg.average) is not None
        ]
        if not fills:
            return None
        return open_price_to_report(quote.position_type, fills, quote.requested_open_price)

    # ------------------------------------------------------------------ recording, ending

    def _record_quote(self, quote: Quote) -> None:
        s = self._state
        assert s is not None
        workflow.upsert_search_attributes(
            [
                SearchAttributes.QUOTE_ID.value_set(s.quote_id),
                SearchAttributes.PARTY_A.value_set(quote.party_a.lower()),
                SearchAttributes.SYMBOL.value_set(s.symbol_name),
                SearchAttributes.HEDGE_STATUS.value_set(s.hedge_status),
            ]
        )
        row = quote_row(s.chain_id, quote, s.hedge_status, s.symbol_name)
        self._write(_with_seq(row, self._seq()))

    async def _record_leg(self, leg: BrokerLeg) -> None:
        s = self._state
        assert s is not None
        default_type = "limit" if leg.purpose == "open" else "market"
        row = broker_legs.order_row(
            leg, s.chain_id, s.quote_id, default_type=default_type, seq=self._seq()
        )
        self._write(row)

    async def _done(self, action: Done, quote: Quote) -> str:
        s = self._state
        assert s is not None
        if action.outcome == Outcome.HEDGED_OPEN:
            if not workflow.patched(POSITION_BOOKS_PATCH):
                self._hold_exposure(quote.quantity * quote.opened_price)  # the position's now
            if workflow.patched(NOTIFY_OUTCOME_PATCH):
                # the trader sees the position opened (a partial LIMIT fill: what filled)
                self._write(
                    self._notice(quote, Step.OPENED, filled_amount_open=str(quote.quantity),
                                 avg_price_open=str(quote.opened_price))
                )  # fmt: skip
            await self._start_position(quote)
            return await self._finish(HedgeStatus.OPEN, "opened")
        self._hold_exposure(ZERO)
        if s.decision != "accepted" and not self._is_ours(quote):
            status = HedgeStatus.REJECTED
        elif quote.status == QuoteStatus.CANCELED:
            status = HedgeStatus.CANCELLED
        elif quote.status == QuoteStatus.EXPIRED:
            status = HedgeStatus.EXPIRED
        elif quote.status == QuoteStatus.PENDING:
            status = HedgeStatus.RELEASED  # we let it go; it never opened with us
        elif not self._is_ours(quote):
            status = HedgeStatus.LOST  # another PartyB took it
        else:
            status = HedgeStatus.CLOSED  # opened and already over (closed, liquidated)
        outcome = _OUTCOME_NOTIFICATIONS.get(status)
        if outcome is not None and workflow.patched(NOTIFY_OUTCOME_PATCH):
            step, failure = outcome
            self._write(self._notice(quote, step, failure_message=failure))
        return await self._finish(status, f"flat ({quote.status.name})")

    def _notice(
        self, quote: Quote, step: Step, *, filled_amount_open: str | None = None,
        avg_price_open: str | None = None, failure_message: str | None = None,
        error_code: int | None = None,
    ) -> NotificationRow:  # fmt: skip
        """The front-end's notification of `step` of this intent (`domain.notifications`)."""
        s = self._state
        assert s is not None
        words = wording(step, order_type=quote.order_type)
        return NotificationRow(
            s.quote_id, quote.party_a, words.last_seen_action, words.action_status,
            state_type=words.state_type, failure_type=words.failure_type,
            failure_message=failure_message, error_code=error_code,
            filled_amount_open=filled_amount_open, avg_price_open=avg_price_open,
            order_type=int(quote.order_type),
        )  # fmt: skip

    def _notify_step(
        self,
        quote: Quote,
        step: Step,
        *,
        filled_amount_open: str,
        avg_price_open: str | None = None,
    ) -> None:
        """Tell the front-end `step` of this intent once."""
        row = self._notice(
            quote, step, filled_amount_open=filled_amount_open, avg_price_open=avg_price_open
        )
        self._notify_once(step.value, row)

    def _hold_exposure(self, notional: Decimal) -> None:
        s = self._state
        assert s is not None
        if s.reserved:
            change = ExposureResize(s.quote_id, s.symbol_name, str(notional))
            self._write(change)

    async def _start_position(self, quote: Quote) -> None:
        s = self._state
        assert s is not None
        market = None
        if s.symbol_name and s.broker_market and workflow.patched(POSITION_MARKET_PATCH):
            market = PositionMarket(
                s.symbol_name, s.min_acceptable_quote_value, s.broker_market, s.tick_size
            )
        try:
            await workflow.start_child_workflow(
                POSITION_WORKFLOW,
                PositionInput(s.chain_id, s.quote_id, broker_quantity=str(self._broker_filled()),
                              history_limit=s.history_limit, market=market),
                id=position_workflow_id(s.chain_id, s.quote_id),
                task_queue=TaskQueues.WORKFLOWS,
                parent_close_policy=ParentClosePolicy.ABANDON,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(SearchAttributes.QUOTE_ID, s.quote_id),
                        SearchAttributePair(SearchAttributes.PARTY_A, quote.party_a.lower()),
                        SearchAttributePair(SearchAttributes.SYMBOL, s.symbol_name),
                        SearchAttributePair(SearchAttributes.HEDGE_STATUS, HedgeStatus.OPEN.value),
                    ]
                ),
            )  # fmt: skip
        except WorkflowAlreadyStartedError:  # a listener started it (a close raced us): hand over
            await workflow.get_external_workflow_handle(
                position_workflow_id(s.chain_id, s.quote_id)
            ).signal(SIGNAL_HANDOVER, str(self._broker_filled()))


def _same_tx(a: str, b: str | None) -> bool:
    return b is not None and a.lower().removeprefix("0x") == b.lower().removeprefix("0x")


def _cap_code(grant: ExposureGrant) -> SolverErrorCode:
    if grant.trading_state != TradingState.ACTIVE.value:
        return SolverErrorCode.TRADING_NOT_ACTIVE
    if "open interest" in grant.reason:
        return SolverErrorCode.PARTY_B_SOLVENCY_OR_MAX_OPEN_INTEREST
    return SolverErrorCode.OVER_MAX_CAPACITY


def _with_seq(row: Any, seq: int) -> Any:
    return replace(row, seq=seq)
