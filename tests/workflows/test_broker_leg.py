"""How a broker leg merges what the broker says (pure: no workflow, no I/O)."""

from __future__ import annotations

from interfaces.broker import OrderSnapshot
from workflows.broker_legs import LOST_AFTER_SECONDS, BrokerLeg

SYMBOL = "BTC/USDT:USDT"


def _resting() -> BrokerLeg:
    leg = BrokerLeg("h16c9n1", "close", SYMBOL, "sell", "0.024")
    leg.observe(OrderSnapshot("h16c9n1", "77", SYMBOL, "open", amount="0.024"), 0.0)
    return leg


def _missing() -> OrderSnapshot:
    return OrderSnapshot("h16c9n1", None, SYMBOL, "not_found")


def test_a_leg_closed_unseen_is_neither_final_nor_cancelled_again() -> None:
    leg = _resting()
    for t in (1.0, 5.0, 1.0 + LOST_AFTER_SECONDS):
        leg.observe(_missing(), t)
    assert leg.looks_lost(1.0 + LOST_AFTER_SECONDS)
    leg.closed_unseen(12.0)  # the cancel said "unknown order"
    assert leg.not_open and not leg.final and leg.filled == 0
    leg.observe(_missing(), 14.0)  # still not shown: still not final
    assert leg.not_open and not leg.final


def test_the_look_up_that_finds_it_settles_the_leg_with_its_fill() -> None:
    leg = _resting()
    leg.closed_unseen(3.0)
    found = OrderSnapshot("h16c9n1", "77", SYMBOL, "closed", amount="0.024", filled="0.024")
    leg.observe(found, 4.0)
    assert leg.final and str(leg.filled) == "0.024"
    assert not leg.not_open and leg.misses == 0


def test_only_an_order_the_broker_answered_for_is_acknowledged() -> None:
    assert _resting().acknowledged
    assert not BrokerLeg("h1o1", "open", SYMBOL, "buy", "0.01").acknowledged
    rejected = BrokerLeg("h1o1", "open", SYMBOL, "buy", "0.01")
    rejected.snapshot = rejected.rejected()
    assert not rejected.acknowledged
