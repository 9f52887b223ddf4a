"""The open policy allocates headroom above what a quote locks (so the open cannot revert on solvency)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from domain.enums import OrderType, PositionType, TradingState
from domain.policy import AcceptOpen, OpenContext, SymbolConfig, decide_open
from domain.quote import LockedValues, Quote

US = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def _quote() -> Quote:
    return Quote(
        id=1, party_a="0x70997970C51812dc3A010C7d01b50e0d17dc79C8", symbol_id=1, position_type=PositionType.SHORT,
        order_type=OrderType.MARKET, requested_open_price=Decimal("59400"), market_price=Decimal("60000"),
        quantity=Decimal("0.02"), locked_values=LockedValues(Decimal("36"), Decimal("19"), Decimal("185"), Decimal("185")),
        deadline=10_000,
    )  # fmt: skip


def _ctx(available: str, allocatable: str = "1000000") -> OpenContext:
    symbol = SymbolConfig(1, "BTCUSDT", True, "BTC/USDT:USDT", Decimal("0.001"), Decimal("5"), Decimal("100"),
                          Decimal("250000"), Decimal("0"), Decimal("2"), Decimal("0.1"))  # fmt: skip
    return OpenContext(US, symbol, Decimal("1000000"), Decimal("0"), Decimal("60000"), 1_000, 30,
                       Decimal(available), TradingState.ACTIVE, Decimal(allocatable))  # fmt: skip


def test_top_up_allocates_twice_what_the_quote_locks() -> None:
    decision = decide_open(_quote(), _ctx("0"))
    assert isinstance(decision, AcceptOpen)
    assert decision.required_allocation == Decimal("240")
    assert decision.allocate_before_lock == Decimal("480")


def test_enough_headroom_allocates_nothing_and_headroom_is_capped_by_what_is_allocatable() -> None:
    assert decide_open(_quote(), _ctx("480")).allocate_before_lock == 0  # type: ignore[union-attr]
    assert decide_open(_quote(), _ctx("0", allocatable="300")).allocate_before_lock == Decimal(
        "300"
    )  # type: ignore[union-attr]
    no_headroom = replace(_ctx("0"), allocation_headroom=Decimal(0))
    assert decide_open(_quote(), no_headroom).allocate_before_lock == Decimal("240")  # type: ignore[union-attr]
