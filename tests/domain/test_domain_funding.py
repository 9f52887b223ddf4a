"""domain.funding: the contract's window rule, per-side rates and the maxFundingRate cap."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.enums import PositionType
from domain.funding import chain_rate, funding_boundary, quote_rate, side_rates

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
