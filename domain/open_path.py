"""The open path's decision (DESIGN §4): given the facts, the single next action.

Every branch ends hedged-and-open (`Done(HEDGED_OPEN)`) or flat (`Done(FLAT)`); the decision
never leaves broker exposure without a chain counterpart: its first rule reconciles the broker
side to the chain side. Quantities are the trader's quantity units; `broker_filled` is the
absolute size of the broker hedge attributed to this quote (its side is fixed by
`domain.pricing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.enums import OrderType, QuoteStatus, TradingState
from domain.fixed import exact
from domain.hedge_actions import (
    OPENED_ONCE_STATUSES,
    OUR_PENDING_STATUSES,
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
)
from domain.quote import LockedValues
from domain.sizing import open_amount_to_report
from domain.trading_state import allows_new_opens, keeps_resting_opening_orders

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class OpenSituation:
    """Facts the open path decides on; refresh them (chain read, broker query) before asking.

    `broker_filled`: broker hedge currently held for this quote (fills minus unwinds).
    `deadline_near`: too little time left to finish (cancel the order and open what filled).
    `deadline_passed`: `now > quote.deadline`: openPosition is impossible.
    `want_open`: set it False as soon as the intent unlocks, loses the lock race or is
    abandoned: while it is True a PENDING quote that is not ours yields `Lock` again.
    `broker_rejected`: no more broker orders will be placed for this intent (rejections,
    attempts exhausted).
    `open_failed`: openPosition reverted and will not be retried.
    `chain_open_quantity`: filledAmount on chain once OPENED (on a partial LIMIT open the
    parent's `quantity` becomes the filled amount and a child quote takes the rest).
    `min_acceptable_quote_value` with `locked_values`, `expected_open_price` (the price that
    will be reported) and `requested_open_price`: the contract's "Quote value is low" checks,
    reproduced exactly; with only `total_for_party_a`: an estimate. `step_size`: broker lot, so
    a reduced partial report leaves an unwindable excess.
    """

    chain_status: QuoteStatus
    ours: bool
    order_type: OrderType
    quantity: Decimal
    broker_filled: Decimal = ZERO
    broker_order_open: bool = False
    deadline_near: bool = False
    deadline_passed: bool = False
    trading_state: TradingState = TradingState.ACTIVE
    want_open: bool = True
    broker_rejected: bool = False
    open_failed: bool = False
    chain_open_quantity: Decimal = ZERO
    total_for_party_a: Decimal | None = None
    min_acceptable_quote_value: Decimal = ZERO
    locked_values: LockedValues | None = None
    expected_open_price: Decimal | None = None
    requested_open_price: Decimal | None = None
    step_size: Decimal | None = None


@exact
def next_open_action(s: OpenSituation) -> OpenAction:
    """The single next step of the open path (DESIGN §4 steps 2–6 and cancel handling).

    Order of rules:
    1. OPENED (or later: closing, closed, liquidated) by us → cancel the working order, then
       `Done(HEDGED_OPEN)`: the position workflow takes the broker side over as it is and
       makes it equal the chain.
    2. Not ours on chain (PENDING, locked by another, CANCELED, EXPIRED, liquidated) → make the
       broker flat; then `Lock` if still wanted and possible, else `Done(FLAT)`.
    3. LOCKED / CANCEL_PENDING by us:
       a. order working: cancel it on cancel request, deadline near/passed, HALTED or give-up;
          otherwise wait;
       b. fills and the chain can still open: report what is reportable (`OpenOnChain`); a
          MARKET under-fill is topped up while allowed, else unwound;
       c. fills and the chain cannot open (deadline passed, open failed) → unwind;
       d. nothing filled: place the order while allowed, else `AcceptCancel` (cancel requested)
          or `Unlock`.
    """
    # 1. The open happened on chain (it may be closing or over already): the position
    # workflow owns the broker side from here, so stop our working order and hand over what the
    # broker holds; it brings the broker to the chain (one owner, never two trading at once).
    if s.ours and s.chain_status in OPENED_ONCE_STATUSES:
        if s.broker_order_open:
            return CancelBrokerOrder()
        return Done(Outcome.HEDGED_OPEN)

    # 2. Nothing on chain is ours.
    if not (s.ours and s.chain_status in OUR_PENDING_STATUSES):
        if s.broker_order_open:
            return CancelBrokerOrder()
        if s.broker_filled > 0:
            return UnwindBroker(s.broker_filled)
        if (
            s.chain_status == QuoteStatus.PENDING
            and not s.ours
            and s.want_open
            and not s.deadline_near
            and not s.deadline_passed
            and allows_new_opens(s.trading_state)
        ):
            return Lock()
        return Done(Outcome.FLAT)

    # 3. Locked by us.
    cancel_requested = s.chain_status == QuoteStatus.CANCEL_PENDING
    chain_can_open = not s.deadline_passed and not s.open_failed
    may_place = (
        s.want_open
        and not cancel_requested
        and not s.broker_rejected
        and chain_can_open
        and not s.deadline_near
        and allows_new_opens(s.trading_state)
    )
    if s.broker_order_open:
        if (
            cancel_requested
            or not chain_can_open
            or s.deadline_near
            or not s.want_open
            or not keeps_resting_opening_orders(s.trading_state)
        ):
            return CancelBrokerOrder()
        return WaitForFills()
    if s.broker_filled > 0:
        if chain_can_open:
            report = open_amount_to_report(
                s.order_type,
                s.quantity,
                s.broker_filled,
                total_for_party_a=s.total_for_party_a,
                min_acceptable_quote_value=s.min_acceptable_quote_value,
                locked_values=s.locked_values,
                opened_price=s.expected_open_price,
                requested_open_price=s.requested_open_price,
                remainder_cancelled=cancel_requested,
                step_size=s.step_size,
            )
            if report.amount is not None:
                return OpenOnChain(report.amount)  # any excess is unwound by rule 1 afterwards
            if s.order_type == OrderType.MARKET and may_place and s.broker_filled < s.quantity:
                return PlaceBrokerOrder(s.quantity - s.broker_filled)
        return UnwindBroker(s.broker_filled)
    if may_place:
        return PlaceBrokerOrder(s.quantity)
    if cancel_requested:
        return AcceptCancel()
    return Unlock()
