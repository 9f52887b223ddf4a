"""The exposure book: notional reserved per quote, checked against the caps atomically.

An intent reserves its notional before it locks; the reservation stays while the position is
open (resized as it closes) and is released when the quote ends flat. Because every intent in
flight holds a reservation, quotes being locked or hedged count against the caps as much as
open positions do, and many concurrent quotes cannot all pass a cap that only some fit under.
Pure: the `RiskControlWorkflow` holds the book and applies these functions one update at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.fixed import exact

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Reservation:
    symbol: str
    notional: Decimal


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    granted: bool
    open_interest: Decimal  # total reserved after this request (granted or not)
    symbol_notional: Decimal  # reserved for the request's symbol after this request
    reason: str = ""


@exact
def open_interest(book: dict[int, Reservation]) -> Decimal:
    return sum((r.notional for r in book.values()), ZERO)


@exact
def symbol_notional(book: dict[int, Reservation], symbol: str) -> Decimal:
    return sum((r.notional for r in book.values() if r.symbol == symbol), ZERO)


@exact
def reserve(
    book: dict[int, Reservation],
    quote_id: int,
    symbol: str,
    notional: Decimal,
    *,
    max_open_interest: Decimal,
    max_notional_per_symbol: Decimal,
) -> ReserveOutcome:
    """Reserve `notional` for `quote_id` unless a cap would be exceeded (mutates `book` when
    granted). A quote that already holds a reservation keeps it: a retried request is granted
    again without counting twice."""
    if notional < 0:
        raise ValueError("notional must be >= 0")
    held = book.get(quote_id)
    if held is not None:
        return ReserveOutcome(True, open_interest(book), symbol_notional(book, held.symbol))
    total = open_interest(book) + notional
    per_symbol = symbol_notional(book, symbol) + notional
    if total > max_open_interest:
        return ReserveOutcome(
            False, total - notional, per_symbol - notional,
            f"open interest cap: {total} > {max_open_interest}",
        )  # fmt: skip
    if per_symbol > max_notional_per_symbol:
        return ReserveOutcome(
            False, total - notional, per_symbol - notional,
            f"{symbol} notional cap: {per_symbol} > {max_notional_per_symbol}",
        )  # fmt: skip
    book[quote_id] = Reservation(symbol, notional)
    return ReserveOutcome(True, total, per_symbol)


def resize(book: dict[int, Reservation], quote_id: int, symbol: str, notional: Decimal) -> None:
    """What `quote_id` holds from now on (0 releases it). Resizing never checks the caps: it
    follows what already happened (a partial open, a close, a position from before the book)."""
    if notional <= 0:
        book.pop(quote_id, None)
    else:
        book[quote_id] = Reservation(symbol, notional)
