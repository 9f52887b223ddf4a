from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from domain.enums import OrderType, PositionType, QuoteStatus, TradingState
from domain.errors import SolverErrorCode as C
from domain.policy import (
    AcceptClose,
    AcceptOpen,
    CloseContext,
    LockedParams,
    OpenContext,
    Reject,
    SymbolConfig,
    decide_close,
    decide_open,
    order_type_acceptable,
)
from domain.pricing import BrokerSide
from domain.quote import LockedValues, Quote

D = Decimal
PARTY_A = "0x00000000000000000000000000000000000000a1"
US = "0x00000000000000000000000000000000000000b1"
OTHER = "0x00000000000000000000000000000000000000b2"


def quote(**over: Any) -> Quote:
    q = Quote(
        id=1,
        party_a=PARTY_A,
        symbol_id=1,
        position_type=PositionType.LONG,
        order_type=OrderType.MARKET,
        requested_open_price=D(60_300),  # slippage-adjusted above mark
        market_price=D(60_000),
        quantity=D("0.1"),
        # notional 6030, totalA 603 → 10x
        locked_values=LockedValues(cva=D(60), lf=D(30), party_a_mm=D(513), party_b_mm=D(60)),
        deadline=1_000,
    )
    return replace(q, **over)


SYMBOL = SymbolConfig(
    symbol_id=1,
    name="BTCUSDT",
    supported=True,
    broker_market="BTC/USDT:USDT",
    step_size=D("0.001"),
    min_notional=D(100),
    max_leverage=D(50),
    notional_cap=D(1_000_000),
    notional_used=D(0),
    price_band_pct=D(5),
)


def ctx(**over: Any) -> OpenContext:
    c = OpenContext(
        our_address=US,
        symbol=SYMBOL,
        open_interest_cap=D(10_000_000),
        open_interest_used=D(0),
        mark_price=D(60_000),
        now=900,
        min_seconds_to_hedge=30,
        available_allocation=D(1_000),
        trading_state=TradingState.ACTIVE,
    )
    return replace(c, **over)


def sym(**over: Any) -> SymbolConfig:
    return replace(SYMBOL, **over)


def code(result: AcceptOpen | AcceptClose | Reject) -> C | None:
    return result.code if isinstance(result, Reject) else None


def test_accept_market_long() -> None:
    r = decide_open(quote(), ctx())
    assert isinstance(r, AcceptOpen)
    assert r.broker_side is BrokerSide.BUY and r.broker_quantity == D("0.1")
    assert r.broker_market == "BTC/USDT:USDT"
    assert r.required_allocation == D(150) and r.allocate_before_lock == 0
    assert r.notional == D(6030)


def test_accept_short_limit() -> None:
    q = quote(
        position_type=PositionType.SHORT, order_type=OrderType.LIMIT, requested_open_price=D(61_000)
    )
    r = decide_open(q, ctx())
    assert isinstance(r, AcceptOpen) and r.broker_side is BrokerSide.SELL


def test_allocation_shortfall_is_allocated_first_or_rejected() -> None:
    r = decide_open(quote(), ctx(available_allocation=D(100), allocatable_balance=D(50)))
    assert isinstance(r, AcceptOpen) and r.allocate_before_lock == D(50)
    r = decide_open(quote(), ctx(available_allocation=D(100), allocatable_balance=D(49)))
    assert code(r) == C.PARTY_B_SOLVENCY_QUOTE_LEFT


@pytest.mark.parametrize(
    ("q_over", "c_over", "expected"),
    [
        ({}, {"trading_state": TradingState.REDUCE_ONLY}, C.TRADING_NOT_ACTIVE),
        ({}, {"trading_state": TradingState.HALTED}, C.TRADING_NOT_ACTIVE),
        ({"status": QuoteStatus.LOCKED}, {}, C.INVALID_QUOTE_STATE),
        ({"party_bs_whitelist": (OTHER,)}, {}, C.NOT_WHITELISTED),
        ({"party_a": US}, {}, C.NOT_WHITELISTED),
        ({}, {"symbol": None}, C.SYMBOL_NOT_SUPPORTED),
        ({}, {"symbol": replace(SYMBOL, supported=False)}, C.SYMBOL_NOT_SUPPORTED),
        ({}, {"symbol": replace(SYMBOL, broker_market=None)}, C.SYMBOL_NOT_SUPPORTED),
        ({}, {"symbol": replace(SYMBOL, accept_market=False)}, C.ORDER_TYPE_NOT_ACCEPTED),
        ({}, {"now": 971}, C.DEADLINE_TOO_CLOSE),
        ({}, {"now": 1_001}, C.DEADLINE_TOO_CLOSE),
        ({"quantity": D("0.1005")}, {}, C.INVALID_QUANTITY),
        ({"quantity": D("0.001")}, {}, C.INVALID_QUANTITY),  # notional 60 < 100
        ({}, {"symbol": replace(SYMBOL, max_quantity=D("0.05"))}, C.INVALID_QUANTITY),
        ({"locked_values": LockedValues()}, {}, C.LOCKED_VALUES_OUT_OF_BOUNDS),
        ({}, {"symbol": replace(SYMBOL, max_leverage=D(9))}, C.LEVERAGE_TOO_HIGH),
        ({}, {"mark_price": None}, C.NO_MARK_PRICE),
        ({}, {"mark_price": D(70_000)}, C.MARKET_MOVEMENT),  # outside the 5 % band
        ({}, {"mark_price": D(60_400)}, C.MARKET_MOVEMENT),  # MARKET LONG: mark past request
        ({}, {"symbol": replace(SYMBOL, notional_used=D(995_000))}, C.OVER_MAX_CAPACITY),
        ({}, {"open_interest_used": D(9_995_000)}, C.PARTY_B_SOLVENCY_OR_MAX_OPEN_INTEREST),
        ({}, {"available_allocation": D(149)}, C.PARTY_B_SOLVENCY_QUOTE_LEFT),
    ],
)
def test_rejections(q_over: dict[str, Any], c_over: dict[str, Any], expected: C) -> None:
    r = decide_open(quote(**q_over), ctx(**c_over))
    assert isinstance(r, Reject)
    assert r.code == expected
    assert r.message  # human readable, starts with the table's message
    assert r.code in list(C)


def test_first_failure_wins() -> None:
    # halted AND not whitelisted AND too late → the trading state is reported
    r = decide_open(quote(party_bs_whitelist=(OTHER,)), ctx(trading_state="HALTED", now=2000))
    assert code(r) == C.TRADING_NOT_ACTIVE


def test_limit_far_from_mark_but_in_band_is_accepted() -> None:
    # a LIMIT LONG below the mark rests on the broker; no marketability requirement
    q = quote(order_type=OrderType.LIMIT, requested_open_price=D(58_000))
    assert isinstance(decide_open(q, ctx()), AcceptOpen)


def test_locked_params_bounds() -> None:
    # cva 60 / totalA 603 ≈ 9.95 %; lf 30 / 603 ≈ 4.98 %; partyBmm 60 / notional 6030 ≈ 1 %
    ok = LockedParams(cva_pct=D(9), lf_pct=D(4), party_a_mm_pct=D(87), party_b_mm_pct=D(1))
    assert isinstance(decide_open(quote(), ctx(symbol=sym(locked_params=ok))), AcceptOpen)
    for bad in (
        replace(ok, cva_pct=D(11), party_a_mm_pct=D(85)),
        replace(ok, lf_pct=D(6), party_a_mm_pct=D(85)),
        replace(ok, party_b_mm_pct=D("0.9")),
    ):
        r = decide_open(quote(), ctx(symbol=sym(locked_params=bad)))
        assert code(r) == C.LOCKED_VALUES_OUT_OF_BOUNDS, bad


def test_symbol_mismatch_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        decide_open(quote(symbol_id=2), ctx())


def test_order_type_acceptable() -> None:
    assert order_type_acceptable(OrderType.LIMIT, SYMBOL)
    assert not order_type_acceptable(OrderType.LIMIT, sym(accept_limit=False))
    assert order_type_acceptable(OrderType.MARKET, sym(accept_limit=False))


# -------------------------------------------------------------------------------- close


def close_quote(**over: Any) -> Quote:
    q = quote(
        status=QuoteStatus.CLOSE_PENDING,
        party_b=US,
        opened_price=D(60_000),
        quantity_to_close=D("0.05"),
        requested_close_price=D(59_800),
        order_type=OrderType.MARKET,
        deadline=2_000,
    )
    return replace(q, **over)


def cctx(**over: Any) -> CloseContext:
    c = CloseContext(
        our_address=US,
        symbol=SYMBOL,
        mark_price=D(60_000),
        now=1_500,
        min_seconds_to_close=10,
        trading_state=TradingState.ACTIVE,
    )
    return replace(c, **over)


@pytest.mark.parametrize("state", list(TradingState))
def test_close_allowed_in_every_trading_state(state: TradingState) -> None:
    r = decide_close(close_quote(), cctx(trading_state=state))
    assert isinstance(r, AcceptClose)
    assert r.broker_side is BrokerSide.SELL and r.reduce_only
    assert r.broker_quantity == D("0.05")


def test_close_short_buys_back() -> None:
    q = close_quote(position_type=PositionType.SHORT, requested_close_price=D(60_200))
    r = decide_close(q, cctx())
    assert isinstance(r, AcceptClose) and r.broker_side is BrokerSide.BUY


@pytest.mark.parametrize(
    ("q_over", "c_over", "expected"),
    [
        ({"status": QuoteStatus.OPENED}, {}, C.INVALID_QUOTE_STATE),
        ({"party_b": OTHER}, {}, C.INVALID_QUOTE_STATE),
        ({"quantity_to_close": D("0.2")}, {}, C.INVALID_QUANTITY),
        ({"quantity_to_close": D(0)}, {}, C.INVALID_QUANTITY),
        ({}, {"now": 1_995}, C.DEADLINE_TOO_CLOSE),
        ({}, {"symbol": None}, C.SYMBOL_NOT_SUPPORTED),
        ({"quantity_to_close": D("0.0505")}, {}, C.INVALID_QUANTITY),  # MARKET, not on step
        ({}, {"mark_price": None}, C.NO_MARK_PRICE),
        ({}, {"mark_price": D(59_700)}, C.MARKET_MOVEMENT),
    ],
)
def test_close_rejections(q_over: dict[str, Any], c_over: dict[str, Any], expected: C) -> None:
    assert code(decide_close(close_quote(**q_over), cctx(**c_over))) == expected


def test_limit_close_rests_and_rounds_down_to_step() -> None:
    q = close_quote(
        order_type=OrderType.LIMIT, quantity_to_close=D("0.0505"), requested_close_price=D(65_000)
    )
    r = decide_close(q, cctx(mark_price=None))
    assert isinstance(r, AcceptClose) and r.broker_quantity == D("0.05")
