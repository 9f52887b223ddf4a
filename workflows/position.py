"""`PositionWorkflow` (`position-<chainId>-<quoteId>`): an opened quote until nothing is open.

Like the intent workflow it is a reconciliation loop over a pure decision
(`domain.position_path.next_position_action`): close requests (MARKET / LIMIT, partial) are
hedged on the broker first (reduce-only) and only then filled on chain; cancel-close, expiry,
force-cancel-close, force-close, emergency close and liquidation all reduce to "make the broker
side equal what is open on chain". Long-lived: it continues-as-new before its history grows
large, carrying what it knows (`PositionState`).

It starts hedged: the intent workflow opens on chain only after the broker filled, and starts
this workflow once both sides agree, so the broker quantity starts at the chain's open quantity.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.converter import value_to_type
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import events as ev
    from domain.enums import HedgeStatus, OrderType, QuoteStatus
    from domain.hedge_actions import (
        OPEN_STATUSES,
        AcceptCancelClose,
        CancelBrokerOrder,
        Done,
        FillCloseOnChain,
        Idle,
        IncreaseBroker,
        PlaceBrokerClose,
        ReduceBroker,
        WaitForFills,
    )
    from domain.ids import close_order_client_id
    from domain.position_path import PositionSituation, next_position_action
    from domain.pricing import broker_side_for_close, broker_side_for_open, close_limit_price
    from domain.quote import Quote
    from domain.sizing import Fill, close_price_to_report
    from interfaces.broker import OrderRequest
    from interfaces.chain import quote_summary
    from interfaces.ledger import NotificationRow, PositionRow
    from interfaces.workflows import ChainLog, PositionInput
    from workflows import broker_legs, calls
    from workflows.broker_legs import BrokerLeg
    from workflows.calls import ActionImpossible, StepFailed
    from workflows.hedge_base import HedgeWorkflow

ZERO = Decimal(0)
DEADLINE_MARGIN_SECONDS = 15
IDLE_RECHECK_SECONDS = 30.0
HISTORY_LIMIT = 8_000
MAX_CLOSE_ORDERS_PER_REQUEST = 12
LOCAL_CLOSE_ID_BASE = 1_000_000_000
# The broker account is one netted (one-way) position per symbol across every quote we hedge:
# closing one quote's hedge is a plain order the other way. A reduce-only order would be
# rejected whenever other quotes' hedges leave the net position flat or on the other side.
NETTED = False


@dataclass
class PositionState:
    chain_id: int
    quote_id: int
    hedge_status: str = HedgeStatus.OPEN.value
    broker_quantity: str | None = None  # None until the first chain read
    symbol_name: str = ""
    broker_market: str = ""
    tick_size: str = "0.01"
    quote: dict[str, Any] | None = None
    chain_status: str | None = None
    close_id: int = (
        0  # the close request being worked (from RequestToClosePosition, else a local count)
    )
    close_seen_status: str | None = None
    legs: list[BrokerLeg] = field(default_factory=list)
    leg_close_ids: dict[str, int] = field(default_factory=dict)  # client order id -> close id
    reported: dict[str, str] = field(default_factory=dict)  # close id -> amount filled on chain
    close_failed: bool = False
    broker_rejected: bool = False
    events_applied: list[str] = field(default_factory=list)
    last_error: str | None = None
    operator_log: list[str] = field(default_factory=list)
    outcome: str | None = None


@workflow.defn(name="PositionWorkflow")
class PositionWorkflow(HedgeWorkflow[PositionState]):
    KIND = "position"

    def _apply_event(self, event: ev.SymmioEvent, log: ChainLog) -> None:
        s = self._state
        assert s is not None
        if isinstance(event, ev.RequestToClosePosition) and event.close_id is not None:
            if event.close_id != s.close_id:
                s.close_id = event.close_id
                s.close_seen_status = "event"

    @workflow.run
    async def run(self, params: PositionInput) -> str:
        carried = value_to_type(PositionState, params.resume, []) if params.resume else None
        self._state = carried or PositionState(params.chain_id, params.quote_id)
        s = self._state
        if carried is None:
            quote = await calls.read_quote(s.quote_id)
            info = await calls.symbol_info(quote.symbol_id)
            s.symbol_name = info.name
            try:
                rules = await calls.market_rules(info.name)
                s.broker_market, s.tick_size = rules.symbol, rules.tick_size
            except ActionImpossible as exc:
                s.last_error = str(exc)
                s.broker_market = info.name
            # What the intent hedged, not what the chain shows now: a liquidation or force-close
            # may land before this workflow starts, and the broker side must still follow it.
            s.broker_quantity = params.broker_quantity or str(self._chain_open(quote))
            await self._record(quote)
        while True:
            if self._abandoned:
                return await self._finish(HedgeStatus.FAILED, "abandoned by operator")
            if workflow.info().get_current_history_length() > HISTORY_LIMIT:
                workflow.continue_as_new(PositionInput(params.chain_id, params.quote_id, asdict(s)))
            try:
                quote, now = await self._refresh()
                action = next_position_action(self._situation(quote, now))
                if isinstance(action, Done):
                    outcome = f"flat ({quote.status.name})"
                    if workflow.patched("record-position-after-finish"):
                        await self._finish(HedgeStatus.CLOSED, outcome)
                        await self._record(quote)  # the ledger's position row ends CLOSED too
                        return outcome
                    await self._record(quote)  # histories from before the patch
                    return await self._finish(HedgeStatus.CLOSED, outcome)
                await self._perform(action, quote)
            except StepFailed as exc:
                await self._park_stuck(str(exc))

    # ------------------------------------------------------------------ facts

    @staticmethod
    def _chain_open(quote: Quote) -> Decimal:
        return quote.quantity - quote.closed_amount if quote.status in OPEN_STATUSES else ZERO

    async def _refresh(self) -> tuple[Quote, int]:
        s = self._state
        assert s is not None
        self._drain_logs()
        quote, now = await asyncio.gather(calls.read_quote(s.quote_id), calls.chain_time())
        previous = s.chain_status
        s.chain_status = quote.status.name
        s.quote = quote_summary(quote)
        if quote.status == QuoteStatus.CLOSE_PENDING and previous not in (
            QuoteStatus.CLOSE_PENDING.name,
            QuoteStatus.CANCEL_CLOSE_PENDING.name,
        ):
            if s.close_seen_status != "event":
                # No RequestToClosePosition event seen (yet): number it locally, in a range that can
                # never collide with a real closeId (client order ids derive from it).
                s.close_id = max(s.close_id + 1, LOCAL_CLOSE_ID_BASE)
            s.close_seen_status = None
            s.close_failed = False
            s.broker_rejected = False
        await broker_legs.refresh(s.legs)
        if previous != s.chain_status:
            await self._record(quote)
        return quote, now

    def _close_fills(self, close_id: int) -> Decimal:
        s = self._state
        assert s is not None
        return sum(
            (
                leg.filled
                for leg in s.legs
                if leg.purpose == "close" and s.leg_close_ids.get(leg.client_order_id) == close_id
            ),
            ZERO,
        )

    def _situation(self, quote: Quote, now: int) -> PositionSituation:
        s = self._state
        assert s is not None
        closing = quote.status in (QuoteStatus.CLOSE_PENDING, QuoteStatus.CANCEL_CLOSE_PENDING)
        unreported = (
            self._close_fills(s.close_id) - Decimal(s.reported.get(str(s.close_id), "0"))
            if closing
            else ZERO
        )
        return PositionSituation(
            chain_status=quote.status,
            chain_open_quantity=self._chain_open(quote),
            broker_quantity=self._broker_quantity(),
            close_order_type=quote.order_type,
            quantity_to_close=quote.quantity_to_close,
            close_order_open=any(not leg.final for leg in s.legs),
            unreported_close_fill=max(unreported, ZERO),
            deadline_near=closing and quote.deadline - now < DEADLINE_MARGIN_SECONDS,
            deadline_passed=closing and now > quote.deadline,
            close_failed=s.close_failed,
            broker_rejected=s.broker_rejected,
        )

    def _broker_quantity(self) -> Decimal:
        s = self._state
        assert s is not None
        base = Decimal(s.broker_quantity or "0")
        for leg in s.legs:
            if leg.purpose == "increase":
                base += leg.filled
            else:  # close / reduce
                base -= leg.filled
        return base

    # ------------------------------------------------------------------ actions

    async def _perform(self, action: Any, quote: Quote) -> None:
        s = self._state
        assert s is not None
        if isinstance(action, PlaceBrokerClose):
            await self._set_status(HedgeStatus.CLOSING)
            await self._place(quote, action.quantity, purpose="close")
        elif isinstance(action, WaitForFills):
            await self._wait(1.0, clear_first=True)
        elif isinstance(action, CancelBrokerOrder):
            await broker_legs.cancel_working(s.legs, self._record_leg)
        elif isinstance(action, FillCloseOnChain):
            fills = [
                Fill(leg.filled, avg)
                for leg in s.legs
                if leg.purpose == "close"
                and s.leg_close_ids.get(leg.client_order_id) == s.close_id
                and leg.filled > 0
                and (avg := leg.average) is not None
            ]
            price = close_price_to_report(quote.position_type, fills, quote.requested_close_price)
            try:
                await calls.fill_close_request(s.quote_id, action.amount, price)
                key = str(s.close_id)
                s.reported[key] = str(Decimal(s.reported.get(key, "0")) + action.amount)
                await calls.notify(
                    NotificationRow(s.quote_id, quote.party_a, "FillLimitOrderClose" if quote.order_type == OrderType.LIMIT else "RequestToClosePosition",
                                    "success", state_type="report", filled_amount_close=str(action.amount), avg_price_close=str(price))
                )  # fmt: skip
            except ActionImpossible as exc:
                s.last_error = str(exc)
                s.close_failed = True
        elif isinstance(action, AcceptCancelClose):
            try:
                await calls.accept_cancel_close_request(s.quote_id)
            except ActionImpossible as exc:
                s.last_error = str(exc)
                await self._wait(2.0, clear_first=True)
        elif isinstance(action, ReduceBroker):
            await self._set_status(HedgeStatus.UNWINDING)
            await self._place(quote, action.quantity, purpose="reduce")
        elif isinstance(action, IncreaseBroker):
            await self._set_status(HedgeStatus.HEDGING)
            await self._place(quote, action.quantity, purpose="increase")
        elif isinstance(action, Idle):
            await self._set_status(HedgeStatus.OPEN)
            await self._wait(IDLE_RECHECK_SECONDS, clear_first=True)
        else:  # pragma: no cover
            raise ApplicationError(f"unknown action {action!r}", non_retryable=True)

    async def _place(self, quote: Quote, quantity: Decimal, *, purpose: str) -> None:
        s = self._state
        assert s is not None
        request_legs = [
            leg for leg in s.legs if s.leg_close_ids.get(leg.client_order_id) == s.close_id
        ]
        if purpose == "close" and len(request_legs) >= MAX_CLOSE_ORDERS_PER_REQUEST:
            s.broker_rejected = True
            return
        side = (
            broker_side_for_open(quote.position_type)
            if purpose == "increase"
            else broker_side_for_close(quote.position_type)
        )
        cid = close_order_client_id(s.quote_id, s.close_id, len(request_legs) + 1)
        market = s.broker_market or s.symbol_name
        amount = format(quantity, "f")
        if purpose == "close":
            price = close_limit_price(
                quote.position_type, quote.requested_close_price, Decimal(s.tick_size)
            )
            tif = "IOC" if quote.order_type == OrderType.MARKET else "GTC"
            request = OrderRequest(
                cid, market, side.value, "limit", amount, format(price, "f"), NETTED, tif
            )
        else:
            request = OrderRequest(cid, market, side.value, "market", amount, None, NETTED)
        leg = BrokerLeg(cid, purpose, market, side.value, amount)
        s.leg_close_ids[cid] = s.close_id
        refused = await broker_legs.place(s.legs, leg, request, self._record_leg)
        if refused is not None:
            s.last_error = str(refused)
            if purpose != "close":  # exposure to fix: an operator decides
                raise StepFailed(f"broker {purpose}", str(refused)) from refused
            s.broker_rejected = True
        await self._record_leg(leg)
        if (
            purpose == "close"
            and quote.order_type == OrderType.MARKET
            and leg.final
            and leg.filled == 0
        ):
            await self._wait(1.0, clear_first=True)

    # ------------------------------------------------------------------ plumbing

    async def _record(self, quote: Quote) -> None:
        s = self._state
        assert s is not None
        await calls.upsert_position(
            PositionRow(
                chain_id=s.chain_id, quote_id=s.quote_id, party_a=quote.party_a, symbol=s.symbol_name,
                position_type=int(quote.position_type), open_quantity=str(self._chain_open(quote)),
                opened_price=str(quote.opened_price), broker_quantity=str(self._broker_quantity()),
                chain_status=quote.status.name, hedge_status=s.hedge_status,
            )
        )  # fmt: skip

    async def _record_leg(self, leg: BrokerLeg) -> None:
        s = self._state
        assert s is not None
        close_id = s.leg_close_ids.get(leg.client_order_id)
        await calls.upsert_order(
            broker_legs.order_row(
                leg, s.chain_id, s.quote_id, default_type="limit", close_id=close_id
            )
        )
