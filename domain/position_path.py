"""The position path's decision (DESIGN §5): given the facts, the single next action.

Close requests are hedged on the broker first and only then filled on chain; cancel-close,
expiry, force-cancel-close, force-close, emergency close and liquidation all reduce to "make
the broker side equal what is open on chain".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.enums import OrderType, QuoteStatus
from domain.fixed import exact
from domain.hedge_actions import (
    CLOSING_STATUSES,
    OPEN_STATUSES,
    AcceptCancelClose,
    CancelBrokerOrder,
    Done,
    FillCloseOnChain,
    Idle,
    IncreaseBroker,
    Outcome,
    PlaceBrokerClose,
    PositionAction,
    ReduceBroker,
    WaitForFills,
)
from domain.quote import LockedValues
from domain.sizing import close_amount_to_report

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PositionSituation:
    """Facts the position path decides on.

    `chain_open_quantity`: quantity − closedAmount on chain (0 once CLOSED / LIQUIDATED).
    `broker_quantity`: broker hedge currently held for this quote (after any close fills).
    `unreported_close_fill`: broker close fills of the current request not yet on chain.
    `close_failed`: the last fillCloseRequest of this request was refused (it is tried again;
    a cancel-close then gives up filling: the broker is re-hedged and the cancel accepted).
    `close_given_up`: an operator unwound this request: it is no longer worked.
    `deadline_near` / `deadline_passed`: of the close request.
    `limit_reached`: the market reached a LIMIT close's price (its resting order traded, or the
    broker mark got there): from then on anyone may force-close it after the cooldowns, so the
    rest is closed at once (the resting order is cancelled, the remainder placed at market and
    filled on chain at the requested price).
    `locked_values` / `min_acceptable_quote_value` / `step_size`: optional, for the contract's
    remaining-value guard on partial close fills (`domain.sizing.close_fill_is_valid`).
    """

    chain_status: QuoteStatus
    chain_open_quantity: Decimal
    broker_quantity: Decimal
    close_order_type: OrderType = OrderType.MARKET
    quantity_to_close: Decimal = ZERO
    close_order_open: bool = False
    unreported_close_fill: Decimal = ZERO
    deadline_near: bool = False
    deadline_passed: bool = False
    close_failed: bool = False
    close_given_up: bool = False
    broker_rejected: bool = False
    limit_reached: bool = False
    locked_values: LockedValues | None = None
    min_acceptable_quote_value: Decimal = ZERO
    step_size: Decimal | None = None


@exact
def _reconcile(broker: Decimal, chain: Decimal) -> ReduceBroker | IncreaseBroker | None:
    if broker > chain:
        return ReduceBroker(broker - chain)
    if broker < chain:
        return IncreaseBroker(chain - broker)
    return None


@exact
def next_position_action(s: PositionSituation) -> PositionAction:
    """The single next step of the position path (DESIGN §5).

    * A live close request (CLOSE_PENDING / CANCEL_CLOSE_PENDING, before its deadline, not given
      up by an operator): a working order is cancelled on cancel-close or near the deadline,
      LIMIT fills are reported as they come, MARKET fills once complete (an under-fill is topped
      up while allowed); with nothing placed yet, a broker close order is placed (not on
      cancel-close). A refused fill is tried again; on a cancel-close after a refused fill, and
      for fills that can no longer be reported, the broker is re-hedged; then
      `AcceptCancelClose` answers a cancel-close, else `Idle` (the request waits for the trader
      or expiry).
    * Otherwise (OPENED, expired / force-cancelled close, force / emergency close,
      liquidation, CLOSED): cancel any working close order and bring the broker to exactly the
      chain's open quantity; `Idle` while open, `Done(FLAT)` once nothing is open.
    """
    live_close = (
        s.chain_status in CLOSING_STATUSES and not s.deadline_passed and not s.close_given_up
    )
    if live_close:
        guard: dict[str, Any] = {
            "locked_values": s.locked_values,
            "open_quantity": s.chain_open_quantity,
            "min_acceptable_quote_value": s.min_acceptable_quote_value,
            "step_size": s.step_size,
        }
        cancel_req = s.chain_status == QuoteStatus.CANCEL_CLOSE_PENDING
        may_place = not cancel_req and not s.broker_rejected and not s.deadline_near
        if s.close_order_open:
            if cancel_req or s.deadline_near:
                return CancelBrokerOrder()
            if s.close_order_type == OrderType.LIMIT and s.unreported_close_fill > 0:
                report = close_amount_to_report(
                    OrderType.LIMIT, s.quantity_to_close, s.unreported_close_fill, **guard
                )
                if report.amount is not None:
                    return FillCloseOnChain(report.amount)
            if s.close_order_type == OrderType.LIMIT and s.limit_reached:
                return CancelBrokerOrder()  # the rest goes at market (below)
            return WaitForFills()
        # A refused fill is tried again, unless the trader asked to cancel: then give up filling.
        keep_filling = not (cancel_req and s.close_failed)
        if s.unreported_close_fill > 0 and keep_filling:
            report = close_amount_to_report(
                s.close_order_type, s.quantity_to_close, s.unreported_close_fill, **guard
            )
            if report.amount is not None:
                return FillCloseOnChain(report.amount)
            if may_place and s.unreported_close_fill < s.quantity_to_close:  # MARKET top-up
                return PlaceBrokerClose(s.quantity_to_close - s.unreported_close_fill)
        elif s.unreported_close_fill == 0 and may_place and s.quantity_to_close > 0:
            return PlaceBrokerClose(s.quantity_to_close)
        fix = _reconcile(s.broker_quantity, s.chain_open_quantity)
        if fix is not None:
            return fix
        return AcceptCancelClose() if cancel_req else Idle()

    if s.close_order_open:
        return CancelBrokerOrder()
    target = s.chain_open_quantity if s.chain_status in OPEN_STATUSES else ZERO
    fix = _reconcile(s.broker_quantity, target)
    if fix is not None:
        return fix
    return Idle() if s.chain_status in OPEN_STATUSES else Done(Outcome.FLAT)


def idle_recheck_seconds(quiet_rechecks: int, base: float, cap: float) -> float:
    """How long an OPENED position with nothing to do sleeps before its `quiet_rechecks`-th
    re-read of the chain (from 1): `base`, doubling with each quiet recheck, at most `cap`."""
    if quiet_rechecks <= 1:
        return base
    return min(cap, base * float(2 ** min(quiet_rechecks - 1, 30)))
