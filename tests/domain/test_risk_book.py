"""The exposure book counts every quote in flight against the caps, exactly once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.risk_book import Reservation, open_interest, reserve, resize, symbol_notional

D = Decimal
CAPS = {"max_open_interest": D(1000), "max_notional_per_symbol": D(600)}


def test_reservations_count_until_a_cap_is_reached() -> None:
    book: dict[int, Reservation] = {}
    granted = [reserve(book, q, "BTCUSDT", D(250), **CAPS).granted for q in range(1, 5)]
    assert granted == [True, True, False, False]  # 750 > 600 per symbol
    assert symbol_notional(book, "BTCUSDT") == D(500)
    assert reserve(book, 9, "ETHUSDT", D(500), **CAPS).granted
    refused = reserve(book, 10, "SOLUSDT", D(1), **CAPS)
    assert not refused.granted and "open interest" in refused.reason
    assert open_interest(book) == D(1000)


def test_a_retried_reservation_is_not_counted_twice() -> None:
    book: dict[int, Reservation] = {}
    assert reserve(book, 1, "BTCUSDT", D(600), **CAPS).granted
    again = reserve(book, 1, "BTCUSDT", D(600), **CAPS)
    assert again.granted and again.symbol_notional == D(600)


def test_resize_follows_what_happened_and_zero_releases() -> None:
    book: dict[int, Reservation] = {}
    reserve(book, 1, "BTCUSDT", D(600), **CAPS)
    resize(book, 1, "BTCUSDT", D(200))
    assert open_interest(book) == D(200)
    resize(book, 1, "BTCUSDT", D(0))
    assert book == {}
    resize(book, 7, "ETHUSDT", D(50))  # a position from before the book
    assert book == {7: Reservation("ETHUSDT", D(50))}


def test_negative_notional_is_refused() -> None:
    with pytest.raises(ValueError):
        reserve({}, 1, "BTCUSDT", D(-1), **CAPS)
