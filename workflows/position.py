"""`PositionWorkflow` (`position-<chainId>-<quoteId>`): an opened quote until nothing is open.

Like the intent workflow it is a reconciliation loop over a pure decision
(`domain.position_path.next_position_action`): close requests (MARKET / LIMIT, partial) are
hedged on the broker first and only then filled on chain; cancel-close, expiry,
force-cancel-close, force-close, emergency close and liquidation all reduce to "make the broker
side equal what is open on chain". Long-lived: it continues-as-new before its history grows
large, carrying what it knows (`PositionState`).

It starts hedged: the intent workflow opens on chain only after the broker filled, and starts
this workflow once both sides agree, so the broker quantity starts at the chain's open quantity.

A close request is identified by its requested price and deadline. Its closeId comes from the
RequestToClosePosition event; when the chain shows CLOSE_PENDING first (the listeners lag the
chain), the request is numbered locally and renumbered when its event lands, its broker orders
kept. What was already filled on chain for it is the chain's closedAmount minus the amount when
the request was first seen, never a count of our own.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.converter import value_to_type
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import events as ev
    from domain.enums import HedgeStatus, OrderType, PositionType, QuoteStatus, TradingState
    from domain.fixed import from_wei18, to_wei18
    from domain.hedge_actions import (
        OPEN_STATUSES,
        AcceptCancelClose,
        CancelBrokerOrder,
        Done,
        FillCloseOnChain,
        Idle,
        IncreaseBroker,
        PlaceBrokerClose,
        PositionAction,
        ReduceBroker,
        WaitForFills,
        WaitForProtocol,
    )
    from domain.ids import close_order_client_id
    from domain.notifications import Liquidated, Step, wording
    from domain.position_path import (
        PositionSituation,
        idle_recheck_seconds,
        next_position_action,
    )
    from domain.pricing import (
        broker_side_for_close,
        broker_side_for_open,
        close_limit_price,
        limit_close_reached,
    )
    from domain.quote import Quote
    from domain.sizing import Fill, close_price_to_report
    from domain.trading_state import hold_during_pause, is_protocol_paused
    from interfaces.broker import OrderRequest
    from interfaces.chain import quote_summary
    from interfaces.ledger import NotificationRow, PositionRow
    from interfaces.risk import ExposureResize
    from interfaces.workflows import (
        SIGNAL_EMERGENCY_CLOSE,
        SIGNAL_HANDOVER,
        ChainLog,
        EmergencyClose,
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
DEADLINE_MARGIN_SECONDS = 15
IDLE_RECHECK_SECONDS = 30.0
IDLE_RECHECK_MAX_SECONDS = 600.0
# Runs started before it re-read the chain every 30 s while idle; from it on an OPENED position
# backs off to IDLE_RECHECK_MAX_SECONDS between quiet rechecks (`_idle_seconds`).
IDLE_BACKOFF_PATCH = FAST_PATH_PATCH  # developed as "idle-recheck-backoff"
# Runs started before it read the quote and the chain time in two activities; from it on one.
QUOTE_NOW_PATCH = FAST_PATH_PATCH  # developed as "quote-and-time-in-one"
MAX_CLOSE_ORDERS_PER_REQUEST = 12
LOCAL_CLOSE_ID_BASE = 1_000_000_000
CLOSE_IDS_KEPT = 20
HANDOVER_WAIT_SECONDS = 600.0  # a position started by a listener waits this long for its intent  # closeIds seen in events, by request, remembered
MAX_FILL_BACKOFF_SECONDS = 30.0
# The broker account is one netted (one-way) position per symbol across every quote we hedge:
# closing one quote's hedge is a plain order the other way. A reduce-only order would be
# rejected whenever other quotes' hedges leave the net position flat or on the other side.
NETTED = False
CLOSING = (QuoteStatus.CLOSE_PENDING, QuoteStatus.CANCEL_CLOSE_PENDING)
# Runs started before it never read the trading state (closes ran in every operator state);
# from it on, a protocol pause of PartyB actions holds chain transactions back.
PATCH_PROTOCOL_PAUSE = "position-protocol-pause"
# Runs started before it never read the broker's mark for a LIMIT close.
PATCH_LIMIT_MARK = "position-limit-close-mark"
# Runs started before it told the front-end only of close fills; from it on also of a close
# request cancelled, a third party's force-close and a liquidation.
NOTIFY_CLOSE_STEPS_PATCH = "notify-close-steps"


@dataclass
class PositionState(HedgeState):
    hedge_status: str = HedgeStatus.OPEN.value
    broker_quantity: str | None = None  # None until the first chain read
    started: bool = False
    symbol_name: str = ""
    broker_market: str = ""
    tick_size: str = "0.01"
    min_acceptable_quote_value: str = "0"
    close_id: int = 0  # the close request being worked (from its event, else a local number)
    close_key: str | None = None  # "<requested close price, wei>:<deadline>" of that request
    close_ids_seen: dict[str, int] = field(default_factory=dict)  # close key -> closeId (events)
    close_baseline: dict[str, str] = field(
        default_factory=dict
    )  # close id -> closedAmount at start
    leg_close_ids: dict[str, int] = field(default_factory=dict)  # client order id -> close id
    reported: dict[str, str] = field(default_factory=dict)  # close id -> filled on chain (display)
    close_failed: bool = False  # the last fillCloseRequest for this request was refused
    close_failures: int = 0
    given_up_close_key: str | None = None  # operator `unwind`: stop working this request
    broker_rejected: bool = False
    book_notional: str | None = None  # what the exposure book holds for this quote
    # as the close path sees it: PROTOCOL_PAUSED or ACTIVE, from the chain with the quote
    # (runs before the fast path: the effective state, from the ops worker)
    trading_state: str = TradingState.ACTIVE.value
    emergency: EmergencyClose | None = None  # an emergency close asked for, not yet done
    limit_reached_key: str | None = None  # close key of the LIMIT request the market reached
    # a third party's forceClosePosition not yet alerted: amount, price, legs before it, key
    force_close: dict[str, str] | None = None
    emergencies: int = 0
    idle_rechecks: int = 0  # quiet idle rechecks in a row (the idle sleep doubles with each)


def _close_key(price_wei: int, deadline: int) -> str:
    return f"{price_wei}:{deadline}"


@workflow.defn(name="PositionWorkflow")
class PositionWorkflow(HedgeWorkflow[PositionState]):
    KIND = "position"
    SEQ_BASE = 10**12  # a position's ledger writes are newer than its intent's
    UNWIND_MEANS = "stop working the current close request; the broker goes back to the chain"
    # A close request being worked: after its deadline PartyA may force-close at the requested
    # price (or the request lapses) whatever the broker did.
    DEADLINE_STATUSES = frozenset(status.name for status in CLOSING)
    DEADLINE_MEANS = "fill or answer the close request by then"

    def __init__(self) -> None:
        super().__init__()
        self._handover: str | None = None
        self._early_emergency: EmergencyClose | None = None
        self._market: PositionMarket | None = None  # from the intent that opened it

    def _apply_event(self, event: ev.SymmioEvent, log: ChainLog) -> None:
        s = self._state
        assert s is not None
        if isinstance(event, ev.RequestToClosePosition) and event.close_id is not None:
            s.close_ids_seen[_close_key(event.close_price, event.deadline)] = event.close_id
            while len(s.close_ids_seen) > CLOSE_IDS_KEPT:
                del s.close_ids_seen[next(iter(s.close_ids_seen))]
        if isinstance(event, ev.ForceClosePosition) and not event.legacy:
            s.force_close = {
                "amount": str(from_wei18(event.filled_amount)),
                "price": str(from_wei18(event.closed_price)),
                "legs_before": str(len(s.legs)),
                "key": str(event.key),
                # the request it closed (the chain clears requestedClosePrice once closed)
                "requested": str(from_wei18(int(s.close_key.split(":")[0]))) if s.close_key else "",
            }
        self._notify_event(event)

    def _notify_event(self, event: ev.SymmioEvent) -> None:
        """What an event tells the trader: a third party's force-close, the close request
        cancelled (a forced cancel-close too), a liquidation of this position."""
        s = self._state
        assert s is not None
        if isinstance(event, ev.ForceClosePosition) and not event.legacy:
            if workflow.patched(NOTIFY_CLOSE_STEPS_PATCH):
                self._notify_step(
                    f"force-close:{event.key}", event.party_a, Step.FORCE_CLOSED,
                    filled_amount_close=str(from_wei18(event.filled_amount)),
                    avg_price_close=str(from_wei18(event.closed_price)),
                    message="closed by a third party's forceClosePosition at the requested price",
                )  # fmt: skip
        elif isinstance(event, ev.AcceptCancelCloseRequest | ev.ForceCancelCloseRequest):
            if s.quote is not None and workflow.patched(NOTIFY_CLOSE_STEPS_PATCH):
                self._notify_close_cancelled(str(s.quote["party_a"]))
        elif isinstance(event, ev.LiquidatePositionsPartyA | ev.LiquidatePositionsPartyB):
            if s.quote_id in event.quote_ids and workflow.patched(NOTIFY_CLOSE_STEPS_PATCH):
                amounts = event.liquidated_amounts or ()
                index = event.quote_ids.index(s.quote_id)
                amount = str(from_wei18(amounts[index])) if index < len(amounts) else None
                party = (
                    Liquidated.PARTY_A
                    if isinstance(event, ev.LiquidatePositionsPartyA)
                    else Liquidated.PARTY_B
                )
                self._notify_liquidated(event.party_a, party, amount)

    def _notify_step(
        self, key: str, party_a: str, step: Step, *, liquidated: Liquidated | None = None,
        filled_amount_close: str | None = None, avg_price_close: str | None = None,
        message: str | None = None,
    ) -> None:  # fmt: skip
        """Tell the front-end `step` of this position once per `key` (`domain.notifications`)."""
        s = self._state
        assert s is not None
        order_type = OrderType[s.quote["order_type"]] if s.quote else OrderType.MARKET
        words = wording(step, order_type=order_type, liquidated=liquidated)
        row = NotificationRow(
            s.quote_id, party_a, words.last_seen_action, words.action_status,
            state_type=words.state_type, failure_type=words.failure_type, failure_message=message,
            filled_amount_close=filled_amount_close, avg_price_close=avg_price_close,
            order_type=int(order_type),
        )  # fmt: skip
        self._notify_once(key, row)

    def _notify_close_cancelled(self, party_a: str) -> None:
        """Once per close request (its key survives the renumbering of a local close id): our
        accept returning and its event arriving are one notice."""
        s = self._state
        assert s is not None
        self._notify_step(f"close-cancelled:{s.close_key}", party_a, Step.CLOSE_CANCELLED)

    def _notify_liquidated(
        self, party_a: str, party: Liquidated | None, amount: str | None
    ) -> None:
        whose = {Liquidated.PARTY_A: "the trader's", Liquidated.PARTY_B: "the hedger's"}
        text = f"closed by {whose[party]} liquidation" if party else "closed by a liquidation"
        self._notify_step("liquidated", party_a, Step.LIQUIDATED, liquidated=party,
                          filled_amount_close=amount, message=text)  # fmt: skip

    @workflow.signal(name=SIGNAL_HANDOVER)
    def handover(self, broker_quantity: str) -> None:
        """The intent's hand-over: the broker quantity it built (when a listener started this
        workflow first, the intent tells it this way)."""
        s = self._state
        if s is not None and s.broker_quantity is None:
            s.broker_quantity = broker_quantity
        elif s is None:
            self._handover = broker_quantity
        self._wake.set()

    @workflow.signal(name=SIGNAL_EMERGENCY_CLOSE)
    def emergency_close(self, command: EmergencyClose) -> None:
        """Close the whole position now with emergencyClosePosition, then flatten the broker."""
        if self._state is not None:
            self._state.emergency = command
        else:
            self._early_emergency = command
        self._wake.set()

    def _unapply_event(self, event: ev.SymmioEvent, log: ChainLog) -> None:
        s = self._state
        assert s is not None
        if isinstance(event, ev.RequestToClosePosition) and event.close_id is not None:
            key = _close_key(event.close_price, event.deadline)
            if s.close_ids_seen.get(key) == event.close_id:
                del s.close_ids_seen[key]  # reorged away: the chain read decides what is left

    def _on_unwind(self) -> None:
        s = self._state
        if s is not None and s.close_key is not None:
            s.given_up_close_key = s.close_key  # the broker goes back to what the chain holds

    def _resume_input(self) -> PositionInput:
        s = self._state
        assert s is not None
        return PositionInput(s.chain_id, s.quote_id, asdict(s), history_limit=s.history_limit)

    @workflow.run
    async def run(self, params: PositionInput) -> str:
        carried = value_to_type(PositionState, params.resume, []) if params.resume else None
        state = carried or PositionState(params.chain_id, params.quote_id)
        state.history_limit = params.history_limit or state.history_limit
        if carried is None:
            state.broker_quantity = params.broker_quantity or self._handover
            self._market = params.market
        if self._early_emergency is not None:
            state.emergency = self._early_emergency
        self._begin(state)
        return await self._loop()

    async def _start(self, quote: Quote) -> None:
        s = self._state
        assert s is not None
        if self._market is not None:  # the intent's (it hedged on them a moment ago)
            market = self._market
            s.symbol_name, s.min_acceptable_quote_value = (
                market.symbol_name,
                market.min_acceptable_quote_value,
            )
            s.broker_market, s.tick_size = market.broker_market, market.tick_size
        else:
            info = await calls.symbol_info(quote.symbol_id)
            s.symbol_name = info.name
            s.min_acceptable_quote_value = info.min_acceptable_quote_value
            try:
                rules = await calls.market_rules(info.name)
                s.broker_market, s.tick_size = rules.symbol, rules.tick_size
            except ActionImpossible as exc:
                s.last_error = str(exc)
                s.broker_market = info.name
        # What the intent hedged, not what the chain shows now: a liquidation or force-close
        # may land before this workflow starts, and the broker side must still follow it.
        # Started by a listener (a close request raced the hand-over): wait for the intent.
        if s.broker_quantity is None:
            try:
                await workflow.wait_condition(
                    lambda: s.broker_quantity is not None,
                    timeout=timedelta(seconds=HANDOVER_WAIT_SECONDS),
                )
            except TimeoutError:
                s.last_error = (
                    "no hand-over from the intent: the broker is assumed to match the chain"
                )
                s.broker_quantity = str(self._chain_open(quote))
        s.started = True
        self._record(quote)

    async def _step(self) -> str | None:
        quote, now = await self._refresh()
        s = self._state
        assert s is not None
        if not s.started:
            await self._start(quote)
        if s.emergency is not None:
            if await self._emergency_close(quote):
                return None
        action = await self._next_action(quote, now)
        if s.force_close is not None and isinstance(action, Idle | Done):
            self._alert_force_close(quote)
        if isinstance(action, Done):
            if (
                quote.status == QuoteStatus.LIQUIDATED
                and "liquidated" not in s.notified
                and workflow.patched(NOTIFY_CLOSE_STEPS_PATCH)
            ):  # the liquidation's event did not reach this workflow: the chain says it all
                self._notify_liquidated(quote.party_a, None, None)
            outcome = f"flat ({quote.status.name})"
            await self._set_status(HedgeStatus.CLOSED)
            self._record(quote)  # the ledger's position row ends CLOSED too
            return await self._finish(HedgeStatus.CLOSED, outcome)
        await self._perform(action, quote, now)
        return None

    async def _next_action(self, quote: Quote, now: int) -> PositionAction:
        s = self._state
        assert s is not None
        await broker_legs.refresh(s.legs, self._record_leg)
        if quote.status in CLOSING and quote.order_type == OrderType.LIMIT:
            await self._watch_limit(quote)
        action = next_position_action(self._situation(quote, now))
        if is_protocol_paused(s.trading_state):
            return hold_during_pause(action)
        return action

    async def _settled(self) -> bool:
        quote, now = await self._refresh()
        return isinstance(await self._next_action(quote, now), Done)

    # ------------------------------------------------------------------ facts

    @staticmethod
    def _chain_open(quote: Quote) -> Decimal:
        return quote.quantity - quote.closed_amount if quote.status in OPEN_STATUSES else ZERO

    async def _refresh(self) -> tuple[Quote, int]:
        s = self._state
        assert s is not None
        self._drain_logs()
        if workflow.patched(PATCH_PROTOCOL_PAUSE) and workflow.patched(QUOTE_NOW_PATCH):
            # The close path obeys the protocol's pause alone (an operator's halt or
            # reduce-only never holds risk-reducing work): read with the quote, from the chain.
            local = workflow.patched(LOCAL_READS_PATCH)
            quote, now, paused = await calls.position_facts(s.quote_id, local=local)
            s.trading_state = (
                TradingState.PROTOCOL_PAUSED if paused else TradingState.ACTIVE
            ).value
        elif workflow.patched(PATCH_PROTOCOL_PAUSE):
            quote, now, s.trading_state = await asyncio.gather(
                calls.read_quote(s.quote_id), calls.chain_time(),
                calls.trading_state_or(s.trading_state),
            )  # fmt: skip
        else:
            quote, now = await asyncio.gather(calls.read_quote(s.quote_id), calls.chain_time())
        previous = s.chain_status
        s.chain_status = quote.status.name
        s.quote = quote_summary(quote)
        self._saw_chain_time(now)
        if quote.status in CLOSING:
            self._track_close_request(quote)
        if previous != s.chain_status and s.started:
            self._record(quote)
        return quote, now

    def _track_close_request(self, quote: Quote) -> None:
        """Which close request the chain shows, and under which close id it is worked."""
        s = self._state
        assert s is not None
        key = _close_key(to_wei18(quote.requested_close_price), quote.deadline)
        real = s.close_ids_seen.get(key)
        if key != s.close_key:  # a new request
            s.close_key = key
            # without its event yet: a local number that can never collide with a real closeId
            s.close_id = real if real is not None else max(s.close_id + 1, LOCAL_CLOSE_ID_BASE)
            s.close_baseline[str(s.close_id)] = str(quote.closed_amount)
            s.close_failed, s.close_failures, s.broker_rejected = False, 0, False
        elif real is not None and s.close_id != real and s.close_id >= LOCAL_CLOSE_ID_BASE:
            # its event landed: renumber the request, keeping its broker orders and fills
            local, s.close_id = s.close_id, real
            for cid, close_id in s.leg_close_ids.items():
                if close_id == local:
                    s.leg_close_ids[cid] = real
            s.close_baseline[str(real)] = s.close_baseline.pop(str(local), str(quote.closed_amount))
            if str(local) in s.reported:
                s.reported[str(real)] = s.reported.pop(str(local))

    async def _watch_limit(self, quote: Quote) -> None:
        """Has the market reached the LIMIT close's price? Its resting order traded, or the
        broker's mark is there (read each step: a resting order may fill only in part)."""
        s = self._state
        assert s is not None
        if s.close_key is None or s.limit_reached_key == s.close_key:
            return
        if not workflow.patched(PATCH_LIMIT_MARK):
            return
        reached = self._close_fills(s.close_id) > 0
        if not reached:
            try:
                mark = await calls.mark_price(s.broker_market or s.symbol_name)
            except (calls.StepFailed, ActionImpossible) as exc:
                s.last_error = f"mark price: {exc}"
                return
            reached = limit_close_reached(
                quote.position_type, quote.requested_close_price, mark, Decimal(s.tick_size)
            )
        if reached:
            s.limit_reached_key = s.close_key
            self._show("the market reached the LIMIT close's price: closing the rest at market")

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

    def _reported_on_chain(self, quote: Quote) -> Decimal:
        """What the chain already closed of the current request (closedAmount since it began)."""
        s = self._state
        assert s is not None
        baseline = Decimal(s.close_baseline.get(str(s.close_id), str(quote.closed_amount)))
        return max(ZERO, quote.closed_amount - baseline)

    def _situation(self, quote: Quote, now: int) -> PositionSituation:
        s = self._state
        assert s is not None
        closing = quote.status in CLOSING
        unreported = (
            self._close_fills(s.close_id) - self._reported_on_chain(quote) if closing else ZERO
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
            close_given_up=closing and s.given_up_close_key == s.close_key,
            broker_rejected=s.broker_rejected,
            limit_reached=closing and s.limit_reached_key == s.close_key,
            # the contract's "remaining quote value is low" guard on partial close fills
            locked_values=quote.locked_values,
            min_acceptable_quote_value=Decimal(s.min_acceptable_quote_value),
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

    async def _perform(self, action: Any, quote: Quote, now: int) -> None:
        s = self._state
        assert s is not None
        if not isinstance(action, Idle):
            s.idle_rechecks = 0  # something happened: the next quiet spell starts short again
        if isinstance(action, PlaceBrokerClose):
            await self._set_status(HedgeStatus.CLOSING)
            await self._place(quote, action.quantity, purpose="close")
        elif isinstance(action, WaitForFills):
            until = quote.deadline - DEADLINE_MARGIN_SECONDS - now if quote.status in CLOSING else 0
            await self._wait_for_fills(until)
        elif isinstance(action, CancelBrokerOrder):
            await broker_legs.cancel_working(s.legs, self._record_leg)
        elif isinstance(action, FillCloseOnChain):
            await self._fill_close(quote, action.amount)
        elif isinstance(action, AcceptCancelClose):
            try:
                await calls.accept_cancel_close_request(s.quote_id)
            except ActionImpossible as exc:
                s.last_error = str(exc)
                await self._wait(2.0, clear_first=True)
            else:
                if workflow.patched(NOTIFY_CLOSE_STEPS_PATCH):
                    self._notify_close_cancelled(quote.party_a)
        elif isinstance(action, ReduceBroker):
            await self._set_status(HedgeStatus.UNWINDING)
            await self._place(quote, action.quantity, purpose="reduce")
        elif isinstance(action, IncreaseBroker):
            await self._set_status(HedgeStatus.HEDGING)
            await self._place(quote, action.quantity, purpose="increase")
        elif isinstance(action, WaitForProtocol):
            await self._hold_for_protocol("the close path")
        elif isinstance(action, Idle):
            await self._set_status(HedgeStatus.OPEN)
            await self._wait(self._idle_seconds(quote), clear_first=True)
        else:  # pragma: no cover
            raise ApplicationError(f"unknown action {action!r}", non_retryable=True)

    def _idle_seconds(self, quote: Quote) -> float:
        """How long an idle position sleeps before reading the chain again (any event wakes it
        at once): `IDLE_RECHECK_SECONDS` while a close request is pending (a LIMIT close's market
        is watched); an OPENED position with nothing to do doubles it on each quiet recheck up to
        `IDLE_RECHECK_MAX_SECONDS`, so thousands of open positions cost the workers little (the
        listeners deliver every event; the recheck only backs them up)."""
        s = self._state
        assert s is not None
        if quote.status != QuoteStatus.OPENED or not workflow.patched(IDLE_BACKOFF_PATCH):
            s.idle_rechecks = 0
            return IDLE_RECHECK_SECONDS
        s.idle_rechecks += 1
        return idle_recheck_seconds(s.idle_rechecks, IDLE_RECHECK_SECONDS, IDLE_RECHECK_MAX_SECONDS)

    def _alert_force_close(self, quote: Quote) -> None:
        """The broker followed a third party's force-close: say what it cost us — the chain's
        close price against the broker's price for the same quantity (the penalty over the
        requested price is part of it)."""
        s = self._state
        assert s is not None
        fc = s.force_close
        assert fc is not None
        s.force_close = None
        amount, price = Decimal(fc["amount"]), Decimal(fc["price"])
        after = [leg for leg in s.legs[int(fc["legs_before"]) :] if leg.filled > 0]
        fills = [Fill(leg.filled, avg) for leg in after if (avg := leg.average) is not None]
        sign = 1 if quote.position_type == PositionType.LONG else -1  # the trader's side
        requested = Decimal(fc.get("requested") or quote.requested_close_price)
        penalty = sign * (price - requested) * amount
        text = (
            f"force-closed by a third party: {amount} {s.symbol_name} at {price:.2f} (requested "
            f"{requested:.2f}; penalty {penalty:.2f} USD)"
        )
        if fills:
            broker = sum((f.price * f.quantity for f in fills), ZERO) / sum(
                (f.quantity for f in fills), ZERO
            )
            cost = sign * (price - broker) * amount
            text += f"; broker hedge closed at {broker:.2f}: cost {cost:.2f} USD"
        else:
            text += "; no broker trade followed it: cost unknown"
        self._alert("force_closed", "warning", text, f"force-close:{fc['key']}")

    async def _emergency_close(self, quote: Quote) -> bool:
        """Work an `emergency_close` request: True when it acted (the facts are read again)."""
        s = self._state
        assert s is not None
        request = s.emergency
        assert request is not None
        if request.symbol_id is not None and request.symbol_id != quote.symbol_id:
            s.emergency = None  # another symbol was made invalid
            return False
        if quote.status == QuoteStatus.CANCEL_CLOSE_PENDING:
            return False  # the contract refuses it here: the cancel-close is answered first
        if quote.status not in (QuoteStatus.OPENED, QuoteStatus.CLOSE_PENDING):
            s.emergency = None  # nothing left open on chain: the broker follows the chain
            return False
        if is_protocol_paused(s.trading_state):
            await self._hold_for_protocol("the emergency close")
            return True
        if any(not leg.final for leg in s.legs):
            await broker_legs.cancel_working(s.legs, self._record_leg)
            return True
        await self._set_status(HedgeStatus.CLOSING)
        s.emergencies += 1
        self._show(f"emergency close ({request.reason}): emergencyClosePosition, then the broker")
        self._alert(
            "emergency_close", "critical",
            f"emergency close of {self._chain_open(quote)} {s.symbol_name} by "
            f"{request.operator or 'unknown'}: {request.reason}", f"emergency:{s.emergencies}",
        )  # fmt: skip
        try:
            await calls.emergency_close_position(s.quote_id)
        except ActionImpossible as exc:
            s.last_error = f"emergency close refused: {exc}"
            self._alert("emergency_close_refused", "critical", s.last_error,
                        f"emergency-refused:{s.emergencies}")  # fmt: skip
        s.emergency = None
        return True

    async def _fill_close(self, quote: Quote, amount: Decimal) -> None:
        s = self._state
        assert s is not None
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
            await calls.fill_close_request(s.quote_id, amount, price, quote.closed_amount)
        except ActionImpossible as exc:
            # Refused (a revert): keep working the request (it may pass later, e.g. once the
            # allocation covers PartyA's profit); a cancel-close is answered meanwhile.
            s.last_error = str(exc)
            s.close_failed = True
            s.close_failures += 1
            await self._wait(min(MAX_FILL_BACKOFF_SECONDS, 2.0**s.close_failures), clear_first=True)
            return
        s.close_failed = False
        key = str(s.close_id)
        s.reported[key] = str(Decimal(s.reported.get(key, "0")) + amount)
        action = (
            "FillLimitOrderClose"
            if quote.order_type == OrderType.LIMIT
            else "RequestToClosePosition"
        )
        # SYMMIO's SDK files a `report` as a partial fill and does not show it: a fill that
        # completes the close request (always, for MARKET) is an `alert`.
        partial = quote.order_type == OrderType.LIMIT and amount < quote.quantity_to_close
        state_type = "report"
        if workflow.patched("close-fill-alert") and not partial:
            state_type = "alert"
        self._write(
            NotificationRow(
                s.quote_id, quote.party_a, action, "success", state_type=state_type,
                filled_amount_close=str(amount), avg_price_close=str(price),
            )
        )  # fmt: skip

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
        if purpose == "close" and s.limit_reached_key == s.close_key:
            # a LIMIT close the market reached: the rest at market, filled at the requested price
            request = OrderRequest(cid, market, side.value, "market", amount, None, NETTED)
        elif purpose == "close":
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
        await self._record_leg(leg)
        if refused is not None:
            s.last_error = str(refused)
            if purpose != "close":  # exposure to fix: a person decides
                raise NeedsOperator(f"broker {purpose} refused: {refused}") from refused
            s.broker_rejected = True
        if (
            purpose == "close"
            and quote.order_type == OrderType.MARKET
            and leg.final
            and leg.filled == 0
        ):
            await self._wait(1.0, clear_first=True)

    # ------------------------------------------------------------------ recording

    def _record(self, quote: Quote) -> None:
        s = self._state
        assert s is not None
        row = PositionRow(
            chain_id=s.chain_id, quote_id=s.quote_id, party_a=quote.party_a, symbol=s.symbol_name,
            position_type=int(quote.position_type), open_quantity=str(self._chain_open(quote)),
            opened_price=str(quote.opened_price), broker_quantity=str(self._broker_quantity()),
            chain_status=quote.status.name, hedge_status=s.hedge_status, seq=self._seq(),
        )  # fmt: skip
        self._write(row)
        # what the position holds in the exposure book (released once nothing is open)
        notional = self._chain_open(quote) * quote.opened_price
        if s.book_notional is None or notional != Decimal(s.book_notional):
            s.book_notional = str(notional)
            change = ExposureResize(s.quote_id, s.symbol_name, str(notional))
            self._write(change)

    async def _record_leg(self, leg: BrokerLeg) -> None:
        s = self._state
        assert s is not None
        close_id = s.leg_close_ids.get(leg.client_order_id)
        row = broker_legs.order_row(
            leg, s.chain_id, s.quote_id, default_type="limit", seq=self._seq(), close_id=close_id
        )
        self._write(row)
