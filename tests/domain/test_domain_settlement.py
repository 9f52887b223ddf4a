"""The close top-up (domain.settlement) on the numbers of the bug report, which
tests/contract/test_close_settlement.py replays on the devnet contract: a 0.02 BTC LONG at 90x
opened at 50,005, the mark at 52,500, PartyB's fill at 52,494.5 and PartyB's allocation for that
PartyA 22.44 — PartyA's profit 49.79; the contract accepts the fill after a top-up of
profit − allocation + 1."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import pytest

from domain.enums import PositionType
from domain.quote import LockedValues
from domain.settlement import (
    CloseSettlement,
    CloseSettlementFacts,
    SettleCandidate,
    close_settlement,
    close_top_up,
    needed_from_settlement,
    quotes_to_settle,
    realised_pnl_for_party_a,
)

D = Decimal
LONG, SHORT = PositionType.LONG, PositionType.SHORT
QUOTE_LOCKED = LockedValues(D(2), D(1), D("8.112"), D(5))
ONE = D(1)


def _facts(**changes: object) -> CloseSettlementFacts:
    base = CloseSettlementFacts(
        position_type=LONG, opened_price=D(50_005), open_quantity=D("0.02"),
        quote_locked=QUOTE_LOCKED, filled_amount=D("0.02"), closed_price=D("52494.5"),
        market_price=D(52_500), party_b_allocated=D("22.44"), party_b_locked=QUOTE_LOCKED,
        upnl_party_b=D("-49.9"),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_realised_pnl_signs_and_rounding() -> None:
    assert realised_pnl_for_party_a(LONG, D(50_005), D("52494.5"), D("0.02")) == D("49.79")
    assert realised_pnl_for_party_a(SHORT, D(50_005), D("52494.5"), D("0.02")) == D("-49.79")
    assert realised_pnl_for_party_a(SHORT, D(100), D(90), D(1)) == D(10)
    # the contract divides the wei product by 1e18, rounding toward zero
    assert realised_pnl_for_party_a(LONG, D(1), D("1.000000000000000001"), D("0.5")) == 0


def test_one_position_the_solvency_check_and_the_profit_need_the_same_top_up() -> None:
    result = close_settlement(_facts())
    assert result.party_a_pnl == D("49.79")
    # 22.44 − (2 + 1) − 49.9 + 3 released + 0.11 (the fill is 5.5 below the mark)
    assert result.available_after == D("-27.35")
    assert result.shortfall == D("27.35")
    assert close_top_up(_facts(), ONE) == D("28.35")  # profit − allocation + 1, as on the chain


def test_offsetting_position_passes_solvency_but_not_the_profit_payment() -> None:
    # a SHORT of the same size offsets the uPnL and doubles what PartyB has locked
    facts = _facts(upnl_party_b=D(0), party_b_locked=LockedValues(D(4), D(2), D("16.224"), D(10)))
    result = close_settlement(facts)
    assert result.available_after == D("19.55")
    assert result.shortfall == D("27.35")
    assert close_top_up(facts, ONE) == D("28.35")


def test_no_top_up_when_the_allocation_covers_the_close() -> None:
    enough = _facts(party_b_allocated=D("49.79"))
    assert close_settlement(enough).shortfall == 0
    assert close_top_up(enough, ONE) == 0
    one_wei_short = _facts(party_b_allocated=D("49.789999999999999999"))
    assert close_top_up(one_wei_short, ONE) == D("1.000000000000000001")
    # PartyA losing: PartyB receives, nothing to pay
    losing = _facts(closed_price=D(49_000), market_price=D(49_000), upnl_party_b=D("20.1"))
    assert close_settlement(losing).party_a_pnl == D("-20.1")
    assert close_top_up(losing, ONE) == 0


def test_short_and_partial_fill() -> None:
    # PartyA SHORT from 52,000, the price fell to 50,000: PartyA earns 40 on 0.02, half filled
    facts = _facts(
        position_type=SHORT, opened_price=D(52_000), closed_price=D(50_010), market_price=D(50_000),
        filled_amount=D("0.01"), party_b_allocated=D(10), upnl_party_b=D(-40),
    )  # fmt: skip
    result = close_settlement(facts)
    assert result.party_a_pnl == D("19.9")
    # 10 − 3 − 40 + 1.5 released (half of cva + lf) + 0.1 (a short closed above the mark)
    assert result.available_after == D("-31.4")
    assert result.shortfall == D("31.4")
    assert close_top_up(facts, D(0)) == D("31.4")


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError):
        close_settlement(_facts(filled_amount=D("0.03")))
    with pytest.raises(ValueError):
        close_settlement(_facts(filled_amount=D(0)))
    with pytest.raises(ValueError):
        close_top_up(_facts(), D(-1))


def _contract_accepts(f: CloseSettlementFacts, top_up: Decimal) -> bool:
    """The contract's two checks written out independently, on the topped-up allocation."""
    w = 10**18

    def wei(x: Decimal) -> int:
        return int(x * w)

    filled, open_qty = wei(f.filled_amount), wei(f.open_quantity)
    allocated = wei(f.party_b_allocated + top_up)
    unlocked = filled * (wei(f.quote_locked.cva) + wei(f.quote_locked.lf)) // open_qty
    b = allocated - wei(f.party_b_locked.cva) - wei(f.party_b_locked.lf) + wei(f.upnl_party_b)
    b += unlocked
    closed, market = wei(f.closed_price), wei(f.market_price)
    diff = filled * abs(closed - market) // w
    long = f.position_type == LONG
    a_gains = (closed >= market) == long
    b += -diff if a_gains else diff
    opened = wei(f.opened_price)
    profit = (closed - opened) * filled // w if long else (opened - closed) * filled // w
    if closed < opened and long or closed > opened and not long:
        profit = 0  # PartyA loses: nothing paid from PartyB's allocation
    return b >= 0 and allocated >= profit


def test_the_top_up_is_exactly_enough_on_random_closes() -> None:
    rng = random.Random(14)
    for _ in range(400):
        side = rng.choice((LONG, SHORT))
        opened = D(rng.randint(20_000, 80_000))
        open_qty = D(rng.randint(1, 500)) / 100
        lv = LockedValues(D(rng.randint(1, 900)) / 10, D(rng.randint(1, 400)) / 10, D(1), D(1))
        others = LockedValues(D(rng.randint(0, 900)) / 10, D(rng.randint(0, 400)) / 10, D(0), D(0))
        facts = CloseSettlementFacts(
            position_type=side, opened_price=opened, open_quantity=open_qty, quote_locked=lv,
            filled_amount=D(rng.randint(1, int(open_qty * 100))) / 100,
            closed_price=opened * D(rng.randint(800, 1200)) / 1000,
            market_price=opened * D(rng.randint(800, 1200)) / 1000,
            party_b_allocated=D(rng.randint(0, 50_000)) / 10,
            party_b_locked=LockedValues(lv.cva + others.cva, lv.lf + others.lf, D(0), D(0)),
            upnl_party_b=D(rng.randint(-50_000, 50_000)) / 10,
        )  # fmt: skip
        result = close_settlement(facts)
        if result.shortfall == 0:
            assert _contract_accepts(facts, D(0))
            continue
        assert not _contract_accepts(facts, D(0))
        assert _contract_accepts(facts, result.shortfall)
        assert not _contract_accepts(facts, result.shortfall - D("0.000000000000000001"))
        assert facts.party_b_allocated + close_top_up(facts, ONE) > facts.party_b_allocated


def test_settling_helps_only_the_realised_profit_check() -> None:
    # the bug report's one-position case: short in check 1 — settling cannot fix it
    assert needed_from_settlement(close_settlement(_facts()), D("22.44")) is None
    # PartyA's profit 3,000 against an allocation of 1,923.2, check 1 fine: 1,076.8 to settle
    offset = CloseSettlement(party_a_pnl=D(3000), available_after=D("1263.2"), shortfall=D(0))
    assert needed_from_settlement(offset, D("1923.2")) == D("1076.8")
    assert needed_from_settlement(offset, D(5000)) == 0  # the allocation already pays it


def test_the_largest_losses_of_party_a_are_settled_first_as_few_as_cover_it() -> None:
    c = [
        SettleCandidate(7, SHORT, D(60_000), D("0.1"), D(90_000)),  # PartyA loses 3,000
        SettleCandidate(8, LONG, D(60_000), D("0.1"), D(90_000)),  # PartyA gains: never settled
        SettleCandidate(9, SHORT, D(80_000), D("0.1"), D(90_000)),  # PartyA loses 1,000
        SettleCandidate(3, LONG, D(95_000), D("0.2"), D(90_000)),  # PartyA loses 1,000
    ]
    assert quotes_to_settle(c, D(0)) == []
    assert quotes_to_settle(c, D("2999.99")) == [7]
    assert quotes_to_settle(c, D(3500)) == [3, 7]  # ties by quote id
    assert quotes_to_settle(c, D(5000)) == [3, 7, 9]
    assert quotes_to_settle(c, D("5000.01")) is None  # the losses fall short
    assert quotes_to_settle(c[1:2], D(1)) is None
    assert quotes_to_settle([], D(1)) is None
