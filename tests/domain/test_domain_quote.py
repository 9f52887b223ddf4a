from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.enums import OrderType, PositionType, QuoteStatus
from domain.fixed import to_wei18
from domain.quote import LockedValues, Quote, same_address

D = Decimal
W = 10**18
PARTY_A = "0x00000000000000000000000000000000000000A1"
US = "0x00000000000000000000000000000000000000B1"
OTHER = "0x00000000000000000000000000000000000000B2"
ZERO_ADDR = "0x0000000000000000000000000000000000000000"


def send_quote(**over: Any) -> Quote:
    kw: dict[str, Any] = dict(
        quote_id=7,
        party_a=PARTY_A,
        party_bs_whitelist=[],
        symbol_id=1,
        position_type=0,
        order_type=1,
        price=60_000 * W,
        market_price=59_990 * W,
        quantity=W // 10,
        cva=60 * W,
        lf=30 * W,
        party_amm=510 * W,
        party_bmm=60 * W,
        trading_fee=W // 1000,
        deadline=1_000,
        create_timestamp=900,
    )
    kw.update(over)
    return Quote.from_send_quote_event(**kw)


def test_locked_values_totals() -> None:
    lv = LockedValues(D(6), D(3), D(51), D(6))
    assert lv.total_for_party_a == D(60)
    assert lv.total_for_party_b == D(15)
    assert LockedValues.from_wei(6 * W, 3 * W, 51 * W, 6 * W) == lv
    assert lv + lv - lv == lv
    assert lv.scaled(D(1), D(3)).cva == D(2)
    assert lv.scaled(D(1), D(7)).lf == D("0.428571428571428571")  # rounded down like Solidity


def test_from_send_quote_event() -> None:
    q = send_quote()
    assert q.id == 7 and q.status == QuoteStatus.PENDING and q.party_b is None
    assert q.position_type is PositionType.LONG and q.order_type is OrderType.MARKET
    assert q.requested_open_price == D(60000) and q.quantity == D("0.1")
    assert q.locked_values.total_for_party_b == D(150)
    assert q.initial_locked_values == q.locked_values
    assert q.trading_fee == D("0.001")
    assert q.notional_at_request == D(6000)
    assert q.leverage == D(10)
    assert q.open_quantity == 0  # nothing open before OPENED
    assert q.create_timestamp == q.status_modify_timestamp == 900


def test_whitelist_rule() -> None:
    assert send_quote().party_b_may_lock(US)
    assert not send_quote().party_b_may_lock(PARTY_A.lower())  # empty list: anyone but PartyA
    wl = send_quote(party_bs_whitelist=[OTHER])
    assert not wl.party_b_may_lock(US) and wl.party_b_may_lock(OTHER.lower())
    assert same_address(US, US.lower()) and not same_address(None, US)


def test_deadline() -> None:
    q = send_quote(deadline=1000)
    assert not q.deadline_passed(1000)  # contract: block.timestamp <= deadline
    assert q.deadline_passed(1001)
    assert q.seconds_left(990) == 10


def struct_tuple(**over: Any) -> list[Any]:
    fields: dict[str, Any] = dict(
        id=9,
        whitelist=[US],
        symbol_id=2,
        position_type=1,
        order_type=0,
        opened_price=3000 * W,
        initial_opened_price=3000 * W,
        requested_open_price=2990 * W,
        market_price=2995 * W,
        quantity=2 * W,
        closed_amount=W // 2,
        initial_locked=(10 * W, 5 * W, 50 * W, 10 * W),
        locked=(8 * W, 4 * W, 40 * W, 8 * W),
        max_funding_rate=W // 100,
        party_a=PARTY_A,
        party_b=US,
        status=4,
        avg_closed_price=3100 * W,
        requested_close_price=0,
        quantity_to_close=0,
        parent_id=3,
        create_ts=100,
        status_ts=200,
        last_funding_ts=150,
        deadline=500,
        trading_fee=W // 1000,
        affiliate=ZERO_ADDR,
    )
    fields.update(over)
    return list(fields.values())


def test_from_struct() -> None:
    q = Quote.from_struct(struct_tuple())
    assert q.status == QuoteStatus.OPENED and q.is_locked_by(US.lower())
    assert q.position_type is PositionType.SHORT and q.order_type is OrderType.LIMIT
    assert q.open_quantity == D("1.5")
    assert q.locked_values.total_for_party_a == D(52)
    assert q.affiliate is None and q.parent_id == 3
    assert q.party_bs_whitelist == (US,)
    # later versions append fields: ignored
    assert Quote.from_struct([*struct_tuple(), -5, 7]) == q
    with pytest.raises(ValueError):
        Quote.from_struct(struct_tuple()[:26])
    assert Quote.from_struct(struct_tuple(party_b=ZERO_ADDR, status=0)).party_b is None


def test_invariants() -> None:
    with pytest.raises(ValueError):
        Quote.from_struct(struct_tuple(closed_amount=3 * W))


def test_local_evolution_partial_open_and_close() -> None:
    q = send_quote(order_type=0, quantity=W)  # LIMIT, quantity 1, totalA 600
    q = q.locked(US, at=910)
    assert q.status == QuoteStatus.LOCKED and q.is_locked_by(US)
    assert q.unlocked().party_b is None
    o = q.opened(D("0.5"), D(59_000), at=920)
    assert o.status == QuoteStatus.OPENED and o.quantity == D("0.5")
    # pro rata (×0.5) and scaled by opened/requested (59000/60000)
    assert o.locked_values.cva == D(60) * D("0.5") * D(59000) / D(60000)
    assert o.open_quantity == D("0.5")
    with pytest.raises(ValueError):
        q.opened(D(2), D(1))
    c = o.close_requested(D(61_000), D("0.2"), OrderType.LIMIT, deadline=2000, at=930)
    assert c.status == QuoteStatus.CLOSE_PENDING and c.quantity_to_close == D("0.2")
    f = c.close_filled(D("0.1"), D(61_000), QuoteStatus.CLOSE_PENDING, at=940)
    assert f.closed_amount == D("0.1") and f.quantity_to_close == D("0.1")
    assert f.avg_closed_price == D(61_000)
    f2 = f.close_filled(D("0.1"), D(62_000), QuoteStatus.OPENED)
    assert f2.avg_closed_price == D(61_500) and f2.quantity_to_close == 0
    assert f2.open_quantity == D("0.3")
    assert f2.locked_values.cva < f.locked_values.cva
    with pytest.raises(ValueError):
        f2.close_filled(D(1), D(1), QuoteStatus.CLOSED)


def test_round_trip_wei_fields() -> None:
    q = send_quote(price=123456789012345678901, quantity=1)
    assert to_wei18(q.requested_open_price) == 123456789012345678901
    assert to_wei18(q.quantity) == 1
