"""`IntentWorkflow` (`intent-<chainId>-<quoteId>`): one trader intent, from SendQuote to OPENED or flat.

The workflow is a reconciliation loop over pure decisions (DESIGN §4):

    facts  = chain quote + chain time + our broker orders (refreshed by activities)
    action = domain.open_path.next_open_action(facts)
    perform the action (an activity), record it, repeat — until Done(HEDGED_OPEN | FLAT).

Because every step is chosen from fresh facts, the same loop handles MARKET and LIMIT, partial
fills, cancel requests while PENDING / LOCKED / hedging, the deadline, broker rejections,
reverted transactions and operator commands; every branch ends hedged-and-open or flat.
Chain events and broker updates (signals) only wake the loop early; the facts are re-read.

Operators: the `state` query returns everything the workflow knows; after automatic retries
are exhausted it parks in STUCK (search attribute `HedgeStatus="STUCK"`, an alert) until a
`retry`, `unwind` or `abandon` signal (payload `{"reason": "..."}`).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
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
    from domain.hedge_actions import (
        AcceptCancel,
        CancelBrokerOrder,
        Done,
        Lock,
        OpenOnChain,
        Outcome,
        PlaceBrokerOrder,
        Unlock,
        UnwindBroker,
        WaitForFills,
    )
    from domain.ids import open_order_client_id, position_workflow_id
    from domain.open_path import OpenSituation, next_open_action
    from domain.policy import AcceptOpen, decide_open
    from domain.pricing import broker_side_for_open, open_limit_price
    from domain.quote import Quote, same_address
    from domain.sizing import Fill, open_price_to_report
    from interfaces.broker import OrderRequest
    from interfaces.chain import SymbolInfo, quote_summary
    from interfaces.ledger import DecisionRow, NotificationRow, quote_row
    from interfaces.temporal import SearchAttributes, TaskQueues
    from interfaces.workflows import POSITION_WORKFLOW, ChainLog, IntentInput, PositionInput
    from workflows import broker_legs, calls
    from workflows.broker_legs import BrokerLeg
    from workflows.calls import ActionImpossible, StepFailed
    from workflows.hedge_base import HedgeWorkflow

ZERO = Decimal(0)
MAX_BROKER_ORDERS = 12  # placements per intent before giving up on the hedge
DEADLINE_MARGIN_SECONDS = 20  # stop hedging this long before the deadline: time to open on chain
HISTORY_LIMIT = 8_000  # continue-as-new beyond this many events


@dataclass
class IntentState:
    chain_id: int
    quote_id: int
    hedge_status: str = HedgeStatus.RECEIVED.value
    quote: dict[str, Any] | None = None
    chain_status: str | None = None
    chain_time: int = 0
    decision: str | None = None
    decision_code: int | None = None
    want_open: bool = True
    our_address: str = ""
    symbol_name: str = ""
    broker_market: str | None = None
    tick_size: str = "0.01"
    min_acceptable_quote_value: str = "0"
    trading_state: str = TradingState.ACTIVE.value
    legs: list[BrokerLeg] = field(default_factory=list)
    open_failed: bool = False
    broker_rejected: bool = False
    allocate_before_lock: str = "0"
    events_applied: list[str] = field(default_factory=list)
    last_error: str | None = None
    operator_log: list[str] = field(default_factory=list)
    outcome: str | None = None


@workflow.defn(name="IntentWorkflow")
class IntentWorkflow(HedgeWorkflow[IntentState]):
    KIND = "intent"

    def _on_unwind(self) -> None:
        if self._state is not None:
            self._state.want_open = False

    def _apply_event(self, event: ev.SymmioEvent, log: ChainLog) -> None:
        assert self._state is not None
        workflow.logger.info(
            "quote %s: %s from %s", self._state.quote_id, event.canonical_name, log.source
        )

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, params: IntentInput) -> str:
        carried = value_to_type(IntentState, params.resume, []) if params.resume else None
        self._state = carried or IntentState(params.chain_id, params.quote_id)
        s = self._state
        if carried is None:
            s.our_address = await calls.our_address()
        quote, now = await self._refresh_chain()
        if carried is None:
            info = await calls.symbol_info(quote.symbol_id)
            s.symbol_name = info.name
            s.min_acceptable_quote_value = info.min_acceptable_quote_value
            await self._record_quote(quote)
            if not self._is_ours(quote):
                accepted = await self._decide(quote, now, info)
                if not accepted:
                    return await self._finish(HedgeStatus.REJECTED, "rejected")
        while True:
            if self._abandoned:
                return await self._finish(HedgeStatus.FAILED, "abandoned by operator")
            if workflow.info().get_current_history_length() > HISTORY_LIMIT:
                workflow.continue_as_new(IntentInput(params.chain_id, params.quote_id, asdict(s)))
            try:
                quote, now = await self._refresh_chain()
                await self._refresh_broker()
                action = next_open_action(self._situation(quote, now))
                if isinstance(action, Done):
                    return await self._done(action, quote)
                await self._perform(action, quote, now)
            except StepFailed as exc:
                await self._park_stuck(str(exc))  # `unwind` already cleared want_open

    # ------------------------------------------------------------------ facts

    async def _refresh_chain(self) -> tuple[Quote, int]:
        s = self._state
        assert s is not None
        self._drain_logs()
        quote, now, trading = await asyncio.gather(
            calls.read_quote(s.quote_id), calls.chain_time(), calls.trading_state()
        )
        s.trading_state = trading
        s.quote = quote_summary(quote)
        s.chain_status = quote.status.name
        s.chain_time = now
        return quote, now

    async def _refresh_broker(self) -> None:
        s = self._state
        assert s is not None
        await broker_legs.refresh(s.legs)

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
        chain_open = (
            quote.quantity
            if quote.status
            in (QuoteStatus.OPENED, QuoteStatus.CLOSE_PENDING, QuoteStatus.CANCEL_CLOSE_PENDING)
            else ZERO
        )
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
        decision = decide_open(quote, context)
        if isinstance(decision, AcceptOpen):
            s.decision = "accepted"
            s.broker_market = decision.broker_market
            s.allocate_before_lock = str(decision.allocate_before_lock)
            s.tick_size = str(context.symbol.tick_size if context.symbol else "0.01")
            await calls.record_decision(DecisionRow(s.chain_id, s.quote_id, True, "accepted"))
            await calls.notify(
                NotificationRow(
                    s.quote_id, quote.party_a, "SendQuote", "seen", order_type=int(quote.order_type)
                )
            )
            return True
        s.decision = decision.message
        s.decision_code = int(decision.code)
        await calls.record_decision(
            DecisionRow(s.chain_id, s.quote_id, False, decision.message, int(decision.code))
        )
        return False

    # ------------------------------------------------------------------ actions

    async def _perform(self, action: Any, quote: Quote, now: int) -> None:
        s = self._state
        assert s is not None
        if isinstance(action, Lock):
            await self._set_status(HedgeStatus.LOCKING)
            try:
                await calls.lock_quote(s.quote_id, Decimal(s.allocate_before_lock))
            except ActionImpossible as exc:
                s.last_error = str(exc)
                s.want_open = False  # lost the race or the quote moved on: the next facts decide
        elif isinstance(action, PlaceBrokerOrder):
            await self._set_status(HedgeStatus.HEDGING)
            await self._place(quote, action.quantity, purpose="open")
        elif isinstance(action, WaitForFills):
            await self._wait(self._poll_interval(), clear_first=True)
        elif isinstance(action, CancelBrokerOrder):
            await broker_legs.cancel_working(s.legs, self._record_leg)
        elif isinstance(action, OpenOnChain):
            await self._set_status(HedgeStatus.OPENING)
            price = self._open_price(quote)
            try:
                await calls.open_position(s.quote_id, action.amount, price)
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
        if purpose == "open":
            price = open_limit_price(
                quote.position_type, quote.requested_open_price, Decimal(s.tick_size)
            )
            tif = "IOC" if quote.order_type == OrderType.MARKET else "GTC"
            request = OrderRequest(
                cid,
                market,
                side.value,
                "limit",
                format(quantity, "f"),
                format(price, "f"),
                False,
                tif,
            )
        else:
            # A plain order, not reduce-only: the broker account nets every quote's hedge.
            request = OrderRequest(cid, market, side.value, "market", format(quantity, "f"), None)
        leg = BrokerLeg(cid, purpose, market, side.value, format(quantity, "f"))
        refused = await broker_legs.place(s.legs, leg, request, self._record_leg)
        if refused is not None:
            s.last_error = str(refused)
            if purpose != "open":
                raise StepFailed("unwind", str(refused)) from refused  # an operator decides
            s.broker_rejected = True
        await self._record_leg(leg)
        if (
            purpose == "open"
            and quote.order_type == OrderType.MARKET
            and leg.final
            and leg.filled == 0
        ):
            await self._wait(1)  # an IOC that found no liquidity: breathe before the next try

    def _open_price(self, quote: Quote) -> Decimal:
        s = self._state
        assert s is not None
        fills = [
            Fill(leg.filled, avg)
            for leg in s.legs
            if leg.purpose == "open" and leg.filled > 0 and (avg := leg.average) is not None
        ]
        return open_price_to_report(quote.position_type, fills, quote.requested_open_price)

    # ------------------------------------------------------------------ waiting, status, ending

    def _poll_interval(self) -> float:
        s = self._state
        assert s is not None
        return (
            1.0
            if any(leg.purpose == "open" for leg in s.legs) and len(s.events_applied) < 50
            else 3.0
        )

    async def _record_quote(self, quote: Quote) -> None:
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
        await calls.upsert_quote(quote_row(s.chain_id, quote, s.hedge_status, s.symbol_name))

    async def _record_leg(self, leg: BrokerLeg) -> None:
        s = self._state
        assert s is not None
        default_type = "limit" if leg.purpose == "open" else "market"
        await calls.upsert_order(
            broker_legs.order_row(leg, s.chain_id, s.quote_id, default_type=default_type)
        )

    async def _done(self, action: Done, quote: Quote) -> str:
        s = self._state
        assert s is not None
        if action.outcome == Outcome.HEDGED_OPEN:
            await self._start_position(quote)
            return await self._finish(HedgeStatus.OPEN, "opened")
        status = {
            QuoteStatus.CANCELED: HedgeStatus.CANCELLED,
            QuoteStatus.EXPIRED: HedgeStatus.EXPIRED,
        }.get(
            quote.status, HedgeStatus.CLOSED if s.decision == "accepted" else HedgeStatus.REJECTED
        )
        return await self._finish(status, f"flat ({quote.status.name})")

    async def _start_position(self, quote: Quote) -> None:
        s = self._state
        assert s is not None
        try:
            await workflow.start_child_workflow(
                POSITION_WORKFLOW,
                PositionInput(s.chain_id, s.quote_id, broker_quantity=str(self._broker_filled())),
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
            )
        except (
            WorkflowAlreadyStartedError
        ) as exc:  # a listener started it (a close request raced us): fine
            workflow.logger.info("position workflow for %s not started here: %s", s.quote_id, exc)
