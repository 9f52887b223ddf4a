from __future__ import annotations

import random
from decimal import Decimal, localcontext

import pytest

from domain.fixed import (
    CHAIN_QUANTUM,
    INT256_MAX,
    INT256_MIN,
    UINT256_MAX,
    from_wei18,
    is_chain_exact,
    is_multiple_of_step,
    mul_div_down,
    round_down_to_step,
    round_up_to_step,
    to_chain_precision,
    to_wei18,
)

D = Decimal


@pytest.mark.parametrize(
    ("value", "wei"),
    [
        (D("0"), 0),
        (D("1"), 10**18),
        (D("1.5"), 15 * 10**17),
        (D("0.000000000000000001"), 1),
        (D("1E-18"), 1),
        (D("65000.12"), 6500012 * 10**16),
        (D("1.000000000000000000000"), 10**18),  # trailing zeros beyond 18 are fine
        (D("1E+3"), 10**21),
        (5, 5 * 10**18),
    ],
)
def test_to_wei18_exact(value: Decimal | int, wei: int) -> None:
    assert to_wei18(value) == wei


def test_from_wei18_strips_trailing_zeros() -> None:
    assert str(from_wei18(10**18)) == "1"
    assert str(from_wei18(15 * 10**17)) == "1.5"
    assert from_wei18(1) == D("1e-18")
    assert from_wei18(0) == 0
    assert from_wei18(-(10**18)) == D(-1)
    assert str(from_wei18(10**40)) == "10000000000000000000000"


def test_rejects_precision_loss() -> None:
    with pytest.raises(ValueError, match="more than 18 decimals"):
        to_wei18(D("0.0000000000000000001"))
    with pytest.raises(ValueError, match="more than 18 decimals"):
        to_wei18(D("1.1234567890123456789"))
    assert not is_chain_exact(D("1e-19"))
    assert is_chain_exact(D("1e-18"))


def test_rejects_floats_bools_nonfinite_and_range() -> None:
    with pytest.raises(TypeError):
        to_wei18(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_wei18(True)
    with pytest.raises(TypeError):
        from_wei18(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        to_wei18(D("NaN"))
    with pytest.raises(ValueError):
        to_wei18(D("Infinity"))
    with pytest.raises(ValueError, match="uint256"):
        to_wei18(D("-1"))
    assert to_wei18(D("-1"), signed=True) == -(10**18)
    with localcontext() as ctx:
        ctx.prec = 100  # the default 28 digits would round this sum
        too_big = from_wei18(UINT256_MAX) + CHAIN_QUANTUM
    with pytest.raises(ValueError, match="uint256"):
        to_wei18(too_big)
    assert to_wei18(from_wei18(UINT256_MAX)) == UINT256_MAX
    assert to_wei18(from_wei18(INT256_MIN), signed=True) == INT256_MIN
    with pytest.raises(ValueError, match="int256"):
        to_wei18(from_wei18(INT256_MAX + 1), signed=True)


def test_round_trip_independent_of_context_precision() -> None:
    rng = random.Random(1234)
    with localcontext() as ctx:
        ctx.prec = 5  # a hostile ambient context must not matter
        for _ in range(3000):
            wei = rng.choice([rng.randrange(0, 10**6), rng.randrange(0, UINT256_MAX)])
            assert to_wei18(from_wei18(wei)) == wei
            signed = rng.randrange(INT256_MIN, INT256_MAX)
            assert to_wei18(from_wei18(signed), signed=True) == signed


def test_decimal_round_trip() -> None:
    rng = random.Random(99)
    for _ in range(2000):
        digits = rng.randrange(0, 10**30)
        exp = rng.randrange(-18, 5)
        value = D(digits).scaleb(exp) if exp else D(digits)
        with localcontext() as ctx:
            ctx.prec = 80
            value = D(digits) * D(10) ** exp
        assert from_wei18(to_wei18(value)) == value


@pytest.mark.parametrize(
    ("value", "step", "down", "up"),
    [
        (D("1.2345"), D("0.01"), D("1.23"), D("1.24")),
        (D("1.23"), D("0.01"), D("1.23"), D("1.23")),
        (D("7"), D("5"), D("5"), D("10")),
        (D("0.0009"), D("0.001"), D("0"), D("0.001")),
        (D("-1.2345"), D("0.01"), D("-1.24"), D("-1.23")),
        (
            D("123456789012345678901234567890.123"),
            D("0.1"),
            D("123456789012345678901234567890.1"),
            D("123456789012345678901234567890.2"),
        ),
        (D("1.5"), D("0.25"), D("1.5"), D("1.5")),
        (D("1.6"), D("0.25"), D("1.5"), D("1.75")),
    ],
)
def test_step_rounding(value: Decimal, step: Decimal, down: Decimal, up: Decimal) -> None:
    assert round_down_to_step(value, step) == down
    assert round_up_to_step(value, step) == up


def test_step_rounding_properties() -> None:
    rng = random.Random(7)
    steps = [D("0.001"), D("0.1"), D("1"), D("0.25"), D("5"), D("1e-18"), D("0.0003")]
    for _ in range(3000):
        step = rng.choice(steps)
        value = D(rng.randrange(-(10**12), 10**12)) / D(10**6)
        down, up = round_down_to_step(value, step), round_up_to_step(value, step)
        assert down <= value <= up
        assert up - down in (0, step)
        assert is_multiple_of_step(down, step) and is_multiple_of_step(up, step)
        assert (down == up) == is_multiple_of_step(value, step)


def test_step_must_be_positive() -> None:
    with pytest.raises(ValueError):
        round_down_to_step(D(1), D(0))
    with pytest.raises(ValueError):
        round_up_to_step(D(1), D("-0.1"))


def test_chain_precision_and_mul_div() -> None:
    third = D(1) / D(3)
    assert to_chain_precision(third) == D("0.333333333333333333")
    assert to_chain_precision(third, round_up=True) == D("0.333333333333333334")
    assert mul_div_down(D(10), D(1), D(3)) == D("3.333333333333333333")
    assert mul_div_down(D("2.5"), D("4"), D("2")) == D(5)
    with pytest.raises(ZeroDivisionError):
        mul_div_down(D(1), D(1), D(0))


def test_domain_arithmetic_is_exact_for_large_values() -> None:
    """The default decimal context (28 digits) would round these; the domain must not."""
    from domain.enums import OrderType, PositionType, QuoteStatus
    from domain.hedge_actions import ReduceBroker, is_hedged
    from domain.position_path import PositionSituation, next_position_action
    from domain.pricing import upnl_party_a
    from domain.quote import LockedValues, Quote

    big = D("123456789012.000000000000000001")  # 30 significant digits
    tiny = D("1e-18")
    q = Quote(
        id=1,
        party_a="0xa",
        symbol_id=1,
        position_type=PositionType.LONG,
        order_type=OrderType.LIMIT,
        requested_open_price=D(1),
        market_price=D(1),
        quantity=big,
        locked_values=LockedValues(D(1), D(1), D(1), D(1)),
        deadline=10,
        status=QuoteStatus.OPENED,
        closed_amount=tiny,
    )
    assert q.open_quantity == D("123456789012")
    assert not is_hedged(big, D("123456789012"))
    s = PositionSituation(
        chain_status=QuoteStatus.OPENED,
        chain_open_quantity=D("123456789012"),
        broker_quantity=big,
    )
    assert next_position_action(s) == ReduceBroker(tiny)
    assert upnl_party_a(PositionType.LONG, big, D(1), D(2)) == big
