"""Broker order sizing and what to report on chain from broker fills.

Rules (SYMMIO.md §2.2, DESIGN §4 step 5):
* the broker order quantity is the quote's quantity rounded **down** to the market step;
* MARKET opens/closes must report the whole quantity (`filledAmount == quantity`);
* LIMIT may report a part (`0 < filledAmount <= quantity`); for an open, both the filled part and
  the remainder must keep `lockedValues.totalForPartyA() >= minAcceptableQuoteValue`;
* the reported price is the broker average, bounded by the trader's requested price by side.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext

from domain.enums import OrderType, PositionType
from domain.fixed import (
    CHAIN_QUANTUM,
    exact,
    is_multiple_of_step,
    round_down_to_step,
    round_up_to_step,
    to_chain_precision,
)
from domain.pricing import clamp_close_price, clamp_open_price
from domain.quote import LockedValues

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Fill:
    quantity: Decimal
    price: Decimal

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"fill quantity must be > 0, got {self.quantity}")
        if self.price <= 0:
            raise ValueError(f"fill price must be > 0, got {self.price}")


def broker_quantity(quantity: Decimal, step: Decimal) -> Decimal:
    """Quote quantity → broker order quantity: rounded down to the market step."""
    return round_down_to_step(quantity, step)


@exact
def meets_min_notional(quantity: Decimal, price: Decimal, min_notional: Decimal) -> bool:
    return quantity * price >= min_notional


@exact
def total_filled(fills: Iterable[Fill]) -> Decimal:
    return sum((f.quantity for f in fills), ZERO)


def average_price(fills: Iterable[Fill]) -> Decimal:
    """Volume-weighted average price, rounded to 18 decimals (half-even).

    Callers that must respect a bound use `open_price_to_report` / `close_price_to_report`,
    which round in the safe direction instead.
    """
    fills = list(fills)
    qty = total_filled(fills)
    if qty == 0:
        raise ValueError("average_price of no fills")
    with localcontext() as ctx:
        ctx.prec = 120
        avg = sum((f.quantity * f.price for f in fills), ZERO) / qty
        return avg.quantize(Decimal("1e-18"))


def _exact_average(fills: list[Fill]) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 120
        return sum((f.quantity * f.price for f in fills), ZERO) / total_filled(fills)


@exact
def open_price_to_report(
    trader_side: PositionType, fills: Iterable[Fill], requested: Decimal
) -> Decimal:
    """`openedPrice` for openPosition: the broker average, rounded to 18 decimals in the
    trader-favourable direction (down for LONG, up for SHORT) and bounded by the requested
    price, so the contract check always passes. If the broker filled worse than requested
    (possible only for a MARKET hedge sent without a price cap) the hedger absorbs the gap."""
    avg = _exact_average(list(fills))
    rounded = to_chain_precision(avg, round_up=trader_side == PositionType.SHORT)
    return clamp_open_price(trader_side, rounded, requested)


@exact
def close_price_to_report(
    trader_side: PositionType, fills: Iterable[Fill], requested: Decimal
) -> Decimal:
    """`closedPrice` for fillCloseRequest: broker average rounded trader-favourably (up when
    closing a LONG, down when closing a SHORT), bounded by the requested close price."""
    avg = _exact_average(list(fills))
    rounded = to_chain_precision(avg, round_up=trader_side == PositionType.LONG)
    return clamp_close_price(trader_side, rounded, requested)


@exact
def open_price_slippage_cost(
    trader_side: PositionType, fills: Iterable[Fill], requested: Decimal
) -> Decimal:
    """What the hedger loses when the broker filled worse than the requested price (>= 0)."""
    fills = list(fills)
    avg = _exact_average(fills)
    gap = avg - requested if trader_side == PositionType.LONG else requested - avg
    return max(ZERO, gap) * total_filled(fills)


@dataclass(frozen=True, slots=True)
class FillReport:
    """What to report on chain (`amount`, None = nothing reportable now) and how much broker
    quantity has no chain counterpart and must be unwound (`excess`)."""

    amount: Decimal | None
    excess: Decimal


@exact
def open_fill_is_valid(
    locked_values: LockedValues,
    quote_quantity: Decimal,
    filled_amount: Decimal,
    opened_price: Decimal,
    requested_open_price: Decimal,
    min_acceptable_quote_value: Decimal,
    *,
    remainder_cancelled: bool = False,
) -> bool:
    """The contract's "Quote value is low" checks of openPosition, with its integer rounding.

    The opened part's locked values (pro rata per component, then × openedPrice /
    requestedOpenPrice) must total (for PartyA) at least `minAcceptableQuoteValue`; on a partial
    fill the unscaled remainder must too, unless the quote was CANCEL_PENDING (the remainder is
    cancelled, `remainder_cancelled=True`).
    """
    if not 0 < filled_amount <= quote_quantity:
        return False
    if filled_amount == quote_quantity:
        applied = locked_values.scaled(opened_price, requested_open_price)
        return applied.total_for_party_a >= min_acceptable_quote_value
    filled_part = locked_values.scaled(filled_amount, quote_quantity)
    applied = filled_part.scaled(opened_price, requested_open_price)
    if applied.total_for_party_a < min_acceptable_quote_value:
        return False
    if remainder_cancelled:
        return True
    remainder = locked_values.total_for_party_a - filled_part.total_for_party_a
    return remainder >= min_acceptable_quote_value


@exact
def open_amount_to_report(
    order_type: OrderType,
    quote_quantity: Decimal,
    broker_filled: Decimal,
    *,
    total_for_party_a: Decimal | None = None,
    min_acceptable_quote_value: Decimal = ZERO,
    locked_values: LockedValues | None = None,
    opened_price: Decimal | None = None,
    requested_open_price: Decimal | None = None,
    remainder_cancelled: bool = False,
    step_size: Decimal | None = None,
) -> FillReport:
    """filledAmount for openPosition from the cumulative broker fill.

    MARKET: the whole quantity or nothing (an under-fill reports None; the caller tops up or
    unwinds). LIMIT: what filled, at most the quantity, rounded down to 18 decimals.

    `minAcceptableQuoteValue` (checked when `min_acceptable_quote_value > 0`):
    * with `locked_values`, `opened_price` and `requested_open_price` the contract's checks are
      reproduced exactly (`open_fill_is_valid`);
    * otherwise an estimate from `total_for_party_a` (price ratio 1) is used.
    If the opened part is too small nothing is reportable (None: unwind). If only the remainder
    is too small, the reported part is reduced until the remainder is valid — on the broker
    `step_size` grid when given, so that the `excess` can be unwound on the broker. Any
    over-fill is `excess`.
    """
    if broker_filled < 0 or quote_quantity <= 0:
        raise ValueError("quantities must be positive")
    exact_check = (
        min_acceptable_quote_value > 0
        and locked_values is not None
        and opened_price is not None
        and requested_open_price is not None
    )

    def valid(amount: Decimal) -> bool:
        assert locked_values is not None and opened_price is not None
        assert requested_open_price is not None
        return open_fill_is_valid(
            locked_values,
            quote_quantity,
            amount,
            opened_price,
            requested_open_price,
            min_acceptable_quote_value,
            remainder_cancelled=remainder_cancelled,
        )

    if order_type == OrderType.MARKET:
        if broker_filled < quote_quantity or (exact_check and not valid(quote_quantity)):
            return FillReport(None, ZERO)
        return FillReport(quote_quantity, broker_filled - quote_quantity)

    amount = to_chain_precision(min(broker_filled, quote_quantity))
    if amount <= 0:
        return FillReport(None, ZERO)
    grid = step_size if step_size is not None else CHAIN_QUANTUM
    if exact_check:
        assert locked_values is not None
        if valid(amount):
            return FillReport(amount, broker_filled - amount)
        if amount == quote_quantity:
            return FillReport(None, ZERO)
        # the opened part alone: is it big enough? (remainder ignored)
        assert opened_price is not None and requested_open_price is not None
        if not open_fill_is_valid(
            locked_values,
            quote_quantity,
            amount,
            opened_price,
            requested_open_price,
            min_acceptable_quote_value,
            remainder_cancelled=True,
        ):
            return FillReport(None, ZERO)
        # remainder too small: largest valid amount below, estimated then walked down the grid
        total = locked_values.total_for_party_a
        estimate = quote_quantity - _div(min_acceptable_quote_value * quote_quantity, total)
        candidate = round_down_to_step(min(estimate, amount), grid)
        for _ in range(64):
            if candidate <= 0:
                break
            if valid(candidate):
                return FillReport(candidate, broker_filled - candidate)
            candidate -= grid
        return FillReport(None, ZERO)
    if total_for_party_a is not None and min_acceptable_quote_value > 0 and amount < quote_quantity:
        # estimate: value of a part = totalForPartyA × part / quantity
        min_part = round_up_to_step(
            _div(min_acceptable_quote_value * quote_quantity, total_for_party_a), CHAIN_QUANTUM
        )
        if amount < min_part:
            return FillReport(None, ZERO)
        if not remainder_cancelled:
            max_amount = round_down_to_step(quote_quantity - min_part, grid)
            if max_amount < min_part:
                return FillReport(None, ZERO)
            amount = min(amount, max_amount)
    return FillReport(amount, broker_filled - amount)


@exact
def close_fill_is_valid(
    locked_values: LockedValues,
    open_quantity: Decimal,
    filled_amount: Decimal,
    min_acceptable_quote_value: Decimal,
) -> bool:
    """The "Remaining quote value is low" guard of closeQuote, conservatively: a fill that
    leaves part of the position open must leave locked values (each component minus its pro
    rata share, rounded down like the contract) totalling at least `minAcceptableQuoteValue`.
    (requestToClosePosition already enforces this for the requested quantity, so it binds only
    on partial fills of a request to close everything.)"""
    if not 0 < filled_amount <= open_quantity:
        return False
    if filled_amount == open_quantity:
        return True
    released = locked_values.scaled(filled_amount, open_quantity)
    remaining = locked_values.total_for_party_a - released.total_for_party_a
    return remaining >= min_acceptable_quote_value


@exact
def close_amount_to_report(
    order_type: OrderType,
    quantity_to_close: Decimal,
    broker_filled: Decimal,
    *,
    locked_values: LockedValues | None = None,
    open_quantity: Decimal | None = None,
    min_acceptable_quote_value: Decimal = ZERO,
    step_size: Decimal | None = None,
) -> FillReport:
    """filledAmount for fillCloseRequest: MARKET must be the whole `quantityToClose`;
    LIMIT reports what filled (<= quantityToClose), rounded down to 18 decimals.

    With `locked_values`, `open_quantity` and `min_acceptable_quote_value > 0`, a LIMIT partial
    report is reduced (on the `step_size` grid when given) until `close_fill_is_valid`; None
    when no amount is valid yet (wait for more fills, or re-hedge them)."""
    if broker_filled < 0 or quantity_to_close <= 0:
        raise ValueError("quantities must be positive")
    checked = (
        locked_values is not None and open_quantity is not None and min_acceptable_quote_value > 0
    )

    def valid(amount: Decimal) -> bool:
        if not checked:
            return True
        assert locked_values is not None and open_quantity is not None
        return close_fill_is_valid(locked_values, open_quantity, amount, min_acceptable_quote_value)

    if order_type == OrderType.MARKET:
        if broker_filled >= quantity_to_close and valid(quantity_to_close):
            return FillReport(quantity_to_close, broker_filled - quantity_to_close)
        return FillReport(None, ZERO)
    amount = to_chain_precision(min(broker_filled, quantity_to_close))
    if amount <= 0:
        return FillReport(None, ZERO)
    if not valid(amount):
        grid = step_size if step_size is not None else CHAIN_QUANTUM
        amount = round_down_to_step(amount, grid)
        for _ in range(64):
            if amount <= 0 or valid(amount):
                break
            amount -= grid
        if amount <= 0 or not valid(amount):
            return FillReport(None, ZERO)
    return FillReport(amount, broker_filled - amount)


def quantity_is_hedgeable(quantity: Decimal, step: Decimal) -> bool:
    """True if the broker can trade exactly this quantity."""
    return quantity > 0 and is_multiple_of_step(quantity, step)


def _div(a: Decimal, b: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 120
        return a / b
