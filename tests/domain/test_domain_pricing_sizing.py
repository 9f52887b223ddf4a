from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from domain.enums import OrderType, PositionType
from domain.pricing import (
    BrokerSide,
    broker_position_sign,
    broker_side_for_close,
    broker_side_for_open,
    clamp_close_price,
    clamp_open_price,
    close_limit_price,
    close_price_ok,
    hedger_chain_side,
    marketable_now,
    open_limit_price,
    open_price_ok,
    price_band,
    protected_market_price,
    slippage_price,
    upnl_party_a,
    upnl_party_b,
    within_band,
)
from domain.sizing import (
    Fill,
    average_price,
    broker_quantity,
    close_amount_to_report,
    close_price_to_report,
    meets_min_notional,
    open_amount_to_report,
    open_price_slippage_cost,
    open_price_to_report,
    quantity_is_hedgeable,
    total_filled,
)

D = Decimal
LONG, SHORT = PositionType.LONG, PositionType.SHORT


# ------------------------------------------------------------------------------------ sides


def test_hedger_takes_the_traders_side_on_the_broker() -> None:
    assert hedger_chain_side(LONG) == SHORT and hedger_chain_side(SHORT) == LONG
    assert broker_side_for_open(LONG) is BrokerSide.BUY
    assert broker_side_for_open(SHORT) is BrokerSide.SELL
    assert broker_side_for_close(LONG) is BrokerSide.SELL
    assert broker_side_for_close(SHORT) is BrokerSide.BUY
    assert BrokerSide.BUY.opposite is BrokerSide.SELL


@pytest.mark.parametrize("side", [LONG, SHORT])
@pytest.mark.parametrize("move", [D("-1234.5"), D("0"), D("17.25")])
def test_chain_plus_broker_is_flat(side: PositionType, move: Decimal) -> None:
    """Whatever the price does, hedger chain PnL + broker PnL == 0 (before fees)."""
    qty, entry = D("0.75"), D("60000")
    exit_price = entry + move
    chain_pnl = upnl_party_b(side, qty, entry, exit_price)
    # broker position: signed quantity on the trader's side
    broker_pnl = broker_position_sign(side) * qty * (exit_price - entry)
    assert chain_pnl + broker_pnl == 0
    assert upnl_party_a(side, qty, entry, exit_price) == -chain_pnl


def test_upnl_signs() -> None:
    assert upnl_party_a(LONG, D(2), D(100), D(110)) == D(20)
    assert upnl_party_a(SHORT, D(2), D(100), D(110)) == D(-20)
    assert upnl_party_b(LONG, D(2), D(100), D(90)) == D(20)


# ------------------------------------------------------------------------------ price checks


def test_contract_price_checks() -> None:
    assert open_price_ok(LONG, D(99), D(100)) and open_price_ok(LONG, D(100), D(100))
    assert not open_price_ok(LONG, D("100.01"), D(100))
    assert open_price_ok(SHORT, D(101), D(100)) and not open_price_ok(SHORT, D(99), D(100))
    assert close_price_ok(LONG, D(101), D(100)) and not close_price_ok(LONG, D(99), D(100))
    assert close_price_ok(SHORT, D(99), D(100)) and not close_price_ok(SHORT, D(101), D(100))
    assert clamp_open_price(LONG, D(101), D(100)) == D(100)
    assert clamp_open_price(SHORT, D(99), D(100)) == D(100)
    assert clamp_close_price(LONG, D(99), D(100)) == D(100)
    assert clamp_close_price(SHORT, D(101), D(100)) == D(100)


def test_limit_prices_always_pass_the_contract_check() -> None:
    rng = random.Random(5)
    ticks = [D("0.1"), D("0.01"), D("0.5"), D("1")]
    for _ in range(2000):
        requested = D(rng.randrange(1, 10**9)) / D(1000)
        tick = rng.choice(ticks)
        for side in (LONG, SHORT):
            lp = open_limit_price(side, requested, tick)
            assert open_price_ok(side, lp, requested)
            assert abs(lp - requested) < tick
            cp = close_limit_price(side, requested, tick)
            assert close_price_ok(side, cp, requested)
            assert abs(cp - requested) < tick


def test_slippage_and_protected_market_price() -> None:
    assert slippage_price(BrokerSide.BUY, D(100), D("0.01")) == D(101)
    assert slippage_price(BrokerSide.SELL, D(100), D("0.01")) == D(99)
    with pytest.raises(ValueError):
        slippage_price(BrokerSide.BUY, D(100), D("-0.01"))
    # LONG market open: broker BUY capped by the trader's requested price
    assert protected_market_price(BrokerSide.BUY, D(100), D("0.05"), D(102), D("0.1")) == D(102)
    assert protected_market_price(BrokerSide.BUY, D(100), D("0.01"), D(102), D("0.1")) == D(101)
    assert protected_market_price(BrokerSide.SELL, D(100), D("0.05"), D(98), D("0.1")) == D(98)
    # aggressive rounding so the IOC can fill ...
    assert protected_market_price(BrokerSide.SELL, D("100.03"), D(0), D(90), D("0.1")) == D(100)
    assert protected_market_price(BrokerSide.BUY, D("100.03"), D(0), D(200), D("0.1")) == D("100.1")
    # ... but never past the bound
    assert protected_market_price(BrokerSide.BUY, D("100.03"), D(0), D("100.05"), D("0.1")) == D(
        100
    )
    assert protected_market_price(BrokerSide.SELL, D("100.03"), D(0), D("100.01"), D("0.1")) == D(
        "100.1"
    )
    rng = random.Random(3)
    for _ in range(1000):
        mark = D(rng.randrange(10**4, 10**6)) / 100
        bound = mark * D(rng.randrange(95, 106)) / 100
        for side in (BrokerSide.BUY, BrokerSide.SELL):
            p = protected_market_price(side, mark, D("0.01"), bound, D("0.1"))
            assert p <= bound if side is BrokerSide.BUY else p >= bound


def test_bands_and_marketability() -> None:
    assert price_band(D(100), D(5)) == (D(95), D(105))
    assert within_band(D(105), D(100), D(5)) and not within_band(D("105.01"), D(100), D(5))
    with pytest.raises(ValueError):
        price_band(D(100), D(-1))
    assert marketable_now(LONG, D(101), D(100), closing=False)
    assert not marketable_now(LONG, D(99), D(100), closing=False)
    assert marketable_now(LONG, D(99), D(100), closing=True)
    assert marketable_now(SHORT, D(101), D(100), closing=True)
    assert not marketable_now(SHORT, D(101), D(100), closing=False)


# ------------------------------------------------------------------------------------ sizing


def test_broker_quantity_and_min_notional() -> None:
    assert broker_quantity(D("1.23456"), D("0.001")) == D("1.234")
    assert broker_quantity(D("0.0009"), D("0.001")) == 0
    assert meets_min_notional(D("0.001"), D(5000), D(5))
    assert not meets_min_notional(D("0.001"), D(4999), D(5))
    assert quantity_is_hedgeable(D("0.003"), D("0.001"))
    assert not quantity_is_hedgeable(D("0.0035"), D("0.001"))
    assert not quantity_is_hedgeable(D(0), D("0.001"))


def test_fill_validation_and_average() -> None:
    with pytest.raises(ValueError):
        Fill(D(0), D(1))
    with pytest.raises(ValueError):
        Fill(D(1), D(0))
    fills = [Fill(D(1), D(100)), Fill(D(3), D(104))]
    assert total_filled(fills) == D(4)
    assert average_price(fills) == D(103)
    with pytest.raises(ValueError):
        average_price([])
    thirds = [Fill(D(1), D(1)), Fill(D(1), D(1)), Fill(D(1), D(2))]
    assert average_price(thirds) == D("1.333333333333333333")


def test_reported_open_price_is_bounded_and_rounded_trader_side() -> None:
    thirds = [Fill(D(1), D(1)), Fill(D(1), D(1)), Fill(D(1), D(2))]  # avg 4/3
    assert open_price_to_report(LONG, thirds, D(2)) == D("1.333333333333333333")
    assert open_price_to_report(SHORT, thirds, D(1)) == D("1.333333333333333334")
    # broker filled worse than requested → clamp (the hedger absorbs the gap)
    assert open_price_to_report(LONG, [Fill(D(1), D(101))], D(100)) == D(100)
    assert open_price_to_report(SHORT, [Fill(D(1), D(99))], D(100)) == D(100)
    assert open_price_slippage_cost(LONG, [Fill(D(2), D(101))], D(100)) == D(2)
    assert open_price_slippage_cost(LONG, [Fill(D(2), D(99))], D(100)) == 0
    assert close_price_to_report(LONG, thirds, D(1)) == D("1.333333333333333334")
    assert close_price_to_report(SHORT, thirds, D(2)) == D("1.333333333333333333")
    assert close_price_to_report(LONG, [Fill(D(1), D(99))], D(100)) == D(100)


def test_reported_prices_always_pass_checks() -> None:
    rng = random.Random(11)
    for _ in range(500):
        fills = [
            Fill(D(rng.randrange(1, 1000)) / 100, D(rng.randrange(9000, 11000)) / 7)
            for _ in range(rng.randrange(1, 5))
        ]
        requested = D(rng.randrange(9000, 11000)) / 7
        for side in (LONG, SHORT):
            assert open_price_ok(side, open_price_to_report(side, fills, requested), requested)
            assert close_price_ok(side, close_price_to_report(side, fills, requested), requested)


def test_open_amount_market() -> None:
    r = open_amount_to_report(OrderType.MARKET, D(1), D(1))
    assert (r.amount, r.excess) == (D(1), D(0))
    r = open_amount_to_report(OrderType.MARKET, D(1), D("0.9"))
    assert (r.amount, r.excess) == (None, D(0))
    r = open_amount_to_report(OrderType.MARKET, D(1), D("1.2"))
    assert (r.amount, r.excess) == (D(1), D("0.2"))
    with pytest.raises(ValueError):
        open_amount_to_report(OrderType.MARKET, D(0), D(1))


def test_open_amount_limit_partial() -> None:
    r = open_amount_to_report(OrderType.LIMIT, D(1), D("0.4"))
    assert (r.amount, r.excess) == (D("0.4"), D(0))
    assert open_amount_to_report(OrderType.LIMIT, D(1), D(0)).amount is None
    r = open_amount_to_report(OrderType.LIMIT, D(1), D("1.5"))
    assert (r.amount, r.excess) == (D(1), D("0.5"))
    # min acceptable quote value: totalForPartyA 100 for quantity 1, min value 10 →
    # each part must be >= 0.1 of the quantity
    kw: dict[str, Any] = {"total_for_party_a": D(100), "min_acceptable_quote_value": D(10)}
    assert open_amount_to_report(OrderType.LIMIT, D(1), D("0.05"), **kw).amount is None
    r = open_amount_to_report(OrderType.LIMIT, D(1), D("0.95"), **kw)
    assert (r.amount, r.excess) == (D("0.9"), D("0.05"))  # remainder kept at 0.1
    assert open_amount_to_report(OrderType.LIMIT, D(1), D("0.5"), **kw).amount == D("0.5")
    assert open_amount_to_report(OrderType.LIMIT, D(1), D(1), **kw).amount == D(1)
    # a quote too small to split at all
    kw2: dict[str, Any] = {"total_for_party_a": D(15), "min_acceptable_quote_value": D(10)}
    assert open_amount_to_report(OrderType.LIMIT, D(1), D("0.7"), **kw2).amount is None


def test_close_amount() -> None:
    r = close_amount_to_report(OrderType.MARKET, D(2), D(2))
    assert (r.amount, r.excess) == (D(2), D(0))
    assert close_amount_to_report(OrderType.MARKET, D(2), D(1)).amount is None
    r = close_amount_to_report(OrderType.LIMIT, D(2), D("0.5"))
    assert (r.amount, r.excess) == (D("0.5"), D(0))
    r = close_amount_to_report(OrderType.LIMIT, D(2), D("2.5"))
    assert (r.amount, r.excess) == (D(2), D("0.5"))
    assert close_amount_to_report(OrderType.LIMIT, D(2), D(0)).amount is None
    with pytest.raises(ValueError):
        close_amount_to_report(OrderType.LIMIT, D(0), D(1))


# ------------------------------------------------------- contract "Quote value is low" checks

from domain.fixed import from_wei18, to_wei18  # noqa: E402
from domain.quote import LockedValues  # noqa: E402
from domain.sizing import open_fill_is_valid  # noqa: E402

LV = LockedValues(cva=D(10), lf=D(5), party_a_mm=D(85), party_b_mm=D(5))  # totalA 100


def _contract_valid(
    lv: tuple[int, int, int, int], qty: int, filled: int, op: int, rp: int, mn: int, cancelled: bool
) -> bool:
    """Independent integer (wei) transcription of openPosition's checks."""
    if filled == qty:
        return sum(x * op // rp for x in (lv[0], lv[1], lv[2])) >= mn
    part = [x * filled // qty for x in lv]
    applied = [x * op // rp for x in part]
    if applied[0] + applied[1] + applied[2] < mn:
        return False
    return cancelled or (lv[0] + lv[1] + lv[2]) - (part[0] + part[1] + part[2]) >= mn


def test_open_fill_is_valid_matches_contract_integer_math() -> None:
    rng = random.Random(21)
    for _ in range(1500):
        a, b, c, e = (rng.randrange(0, 10**21) for _ in range(4))
        lv = (a, b, c, e)
        qty = rng.randrange(1, 10**19)
        filled = rng.randrange(1, qty + 1)
        rp = rng.randrange(10**17, 10**23)
        op = rp + rng.randrange(-(10**16), 10**16)
        mn = rng.randrange(0, 10**21)
        cancelled = rng.random() < 0.3
        expected = _contract_valid(lv, qty, filled, op, rp, mn, cancelled)
        got = open_fill_is_valid(
            LockedValues(*(from_wei18(x) for x in lv)),
            from_wei18(qty),
            from_wei18(filled),
            from_wei18(op),
            from_wei18(rp),
            from_wei18(mn),
            remainder_cancelled=cancelled,
        )
        assert got == expected


def test_open_amount_exact_path() -> None:
    kw: dict[str, Any] = {
        "min_acceptable_quote_value": D(10),
        "locked_values": LV,
        "opened_price": D(100),
        "requested_open_price": D(100),
        "step_size": D("0.01"),
    }
    r = open_amount_to_report(OrderType.LIMIT, D(1), D("0.95"), **kw)
    assert (r.amount, r.excess) == (D("0.9"), D("0.05"))
    r = open_amount_to_report(
        OrderType.LIMIT,
        D(1),
        D("0.95"),
        remainder_cancelled=True,
        **kw,
    )
    assert r.amount == D("0.95")
    assert open_amount_to_report(OrderType.LIMIT, D(1), D("0.05"), **kw).amount is None
    # a better price for the trader shrinks the locked values: 0.15 × (50/100) → 7.5 < 10
    kw_half: dict[str, Any] = {**kw, "opened_price": D(50)}
    assert open_amount_to_report(OrderType.LIMIT, D(1), D("0.15"), **kw_half).amount is None
    assert open_amount_to_report(OrderType.LIMIT, D(1), D("0.15"), **kw).amount == D("0.15")
    # MARKET full fill whose scaled value is too low cannot be opened
    small: dict[str, Any] = {**kw, "min_acceptable_quote_value": D(60), "opened_price": D(50)}
    assert open_amount_to_report(OrderType.MARKET, D(1), D(1), **small).amount is None
    assert open_amount_to_report(OrderType.MARKET, D(1), D(1), **kw).amount == D(1)
    assert to_wei18(D("0.9")) == 9 * 10**17


def test_close_remaining_value_guard() -> None:
    from domain.sizing import close_fill_is_valid

    # open 1, totalA 100, min 10: a fill may leave 0 or >= 10 of value open
    assert close_fill_is_valid(LV, D(1), D(1), D(10))
    assert close_fill_is_valid(LV, D(1), D("0.9"), D(10))
    assert not close_fill_is_valid(LV, D(1), D("0.95"), D(10))
    assert not close_fill_is_valid(LV, D(1), D(0), D(10))
    guard: dict[str, Any] = {
        "locked_values": LV,
        "open_quantity": D(1),
        "min_acceptable_quote_value": D(10),
        "step_size": D("0.01"),
    }
    r = close_amount_to_report(OrderType.LIMIT, D(1), D("0.95"), **guard)
    assert (r.amount, r.excess) == (D("0.9"), D("0.05"))
    assert close_amount_to_report(OrderType.LIMIT, D(1), D(1), **guard).amount == D(1)
    tiny = {**guard, "min_acceptable_quote_value": D(100)}
    assert close_amount_to_report(OrderType.LIMIT, D(1), D("0.5"), **tiny).amount is None
    assert close_amount_to_report(OrderType.MARKET, D("0.5"), D("0.5"), **tiny).amount is None
