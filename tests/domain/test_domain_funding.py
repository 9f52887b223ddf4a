"""domain.funding: the contract's window rule, per-side rates and the maxFundingRate cap."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.enums import PositionType
from domain.fixed import to_wei18
from domain.funding import (
    chain_rate,
    funding_boundary,
    interval_seconds,
    quote_rate,
    rate_per_epoch,
    side_rates,
)

D = Decimal
EPOCH, WINDOW = 28_800, 900  # the 0.8.4 fixture's BTCUSDT


def test_window_around_each_boundary_paid_once() -> None:
    assert funding_boundary(2 * EPOCH, EPOCH, WINDOW) == 2 * EPOCH
    assert funding_boundary(2 * EPOCH + WINDOW, EPOCH, WINDOW) == 2 * EPOCH
    assert funding_boundary(2 * EPOCH + WINDOW + 1, EPOCH, WINDOW) is None
    assert funding_boundary(3 * EPOCH - WINDOW - 1, EPOCH, WINDOW) is None
    assert funding_boundary(3 * EPOCH - WINDOW, EPOCH, WINDOW) == 3 * EPOCH
    assert funding_boundary(3 * EPOCH - 1, EPOCH, WINDOW, last_paid=2 * EPOCH) == 3 * EPOCH
    assert funding_boundary(3 * EPOCH + 5, EPOCH, WINDOW, last_paid=3 * EPOCH) is None
    with pytest.raises(ValueError):
        funding_boundary(1, 0, WINDOW)


def test_rates_follow_the_broker_and_are_capped() -> None:
    long, short = side_rates(D("0.0001"), D("0.00001"))
    assert (long, short) == (D("0.00011"), D("0.00009"))
    assert quote_rate(PositionType.LONG, long, short, D("0.001")) == D("0.00011")
    assert quote_rate(PositionType.SHORT, long, short, D("0.001")) == D("0.00009")
    assert quote_rate(PositionType.LONG, D("0.01"), short, D("0.001")) == D("0.001")
    assert quote_rate(PositionType.SHORT, long, D("-0.01"), D("0.001")) == D("-0.001")
    assert quote_rate(PositionType.LONG, long, short, D(0)) == 0  # maxFundingRate 0: nothing
    with pytest.raises(ValueError):
        side_rates(D("0.0001"), D("-1"))


def test_chain_rates_make_party_a_pay_when_positive_whatever_its_side() -> None:
    """protocol-core: a positive rate makes PartyA pay, LONG or SHORT. A market rate of +0.01%
    (longs pay shorts) is +0.01% for a LONG quote and −0.01% for a SHORT one; the spread is kept
    on both sides; the cap applies to the chain's rate."""
    long, short = side_rates(D("0.0001"), D("0.00001"))
    assert chain_rate(PositionType.LONG, long, short, D("0.001")) == D("0.00011")
    assert chain_rate(PositionType.SHORT, long, short, D("0.001")) == D("-0.00009")
    neg_long, neg_short = side_rates(D("-0.0003"))
    assert chain_rate(PositionType.SHORT, neg_long, neg_short, D("0.001")) == D("0.0003")  # pays
    assert chain_rate(PositionType.LONG, neg_long, neg_short, D("0.001")) == D("-0.0003")
    assert chain_rate(PositionType.SHORT, D(0), D("0.01"), D("0.001")) == D("-0.001")  # capped
    assert chain_rate(PositionType.SHORT, D(0), D("-0.01"), D("-0.001")) == D("0.001")
    assert chain_rate(PositionType.SHORT, long, short, D(0)) == 0


@pytest.mark.parametrize(
    ("rate", "interval", "epoch", "expected"),
    [
        (D("0.0001"), 8 * 3600, 8 * 3600, D("0.0001")),  # Binance's 8 h on an 8-h epoch
        (D("0.0001"), 4 * 3600, 8 * 3600, D("0.0002")),  # a 4-h symbol pays twice per epoch
        (D("-0.00025"), 3600, 8 * 3600, D("-0.002")),  # a 1-h symbol eight times; sign kept
        (D("0.0008"), 8 * 3600, 3600, D("0.0001")),  # a 1-h chain epoch: an eighth
        (D("0.0001"), 8 * 3600, 3 * 3600, D("0.0000375")),  # not a whole ratio: exact
        (D("0.0001"), 7, 3, D("0.000042857142857142")),  # 18 decimals, toward zero
        (D("-0.0001"), 7, 3, D("-0.000042857142857142")),
        (D(0), 3600, 28_800, D(0)),
    ],
)
def test_the_broker_rate_per_its_interval_becomes_a_rate_per_chain_epoch(
    rate: Decimal, interval: int, epoch: int, expected: Decimal
) -> None:
    got = rate_per_epoch(rate, interval, epoch)
    assert got == expected, got
    assert to_wei18(got, signed=True) * D("1e-18") == got  # what the chain activity sends


def test_rate_per_epoch_refuses_what_has_no_meaning() -> None:
    for interval, epoch in ((0, 28_800), (28_800, 0), (-3600, 28_800)):
        with pytest.raises(ValueError):
            rate_per_epoch(D("0.0001"), interval, epoch)
    for bad in (D("NaN"), D("Infinity")):
        with pytest.raises(ValueError):
            rate_per_epoch(bad, 3600, 3600)


def test_broker_intervals_read_as_seconds() -> None:
    default = 8 * 3600
    assert interval_seconds("8h", default) == 28_800
    assert interval_seconds("4h", default) == 14_400
    assert interval_seconds("1H", default) == 3600
    assert interval_seconds("30m", default) == 1800
    assert interval_seconds("1d", default) == 86_400
    assert interval_seconds(" 2h ", default) == 7200
    assert interval_seconds(900, default) == 900
    assert interval_seconds("900", default) == 900
    assert interval_seconds(None, default) == default  # the broker does not say: its default
    assert interval_seconds("", default) == default
    for bad in ("0h", "h", "4x", "-4h", "1.5h", 0, -1):
        with pytest.raises(ValueError):
            interval_seconds(bad, default)
