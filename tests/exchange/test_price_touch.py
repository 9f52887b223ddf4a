"""`touch_price`: the market trades at a price for one match and is back at once."""

from __future__ import annotations

from decimal import Decimal

from devnet.exchange.config import ExchangeConfig
from devnet.exchange.engine import Engine


def _resting_buy(engine: Engine) -> tuple[str, Decimal]:
    mid = engine.markets["BTCUSDT"].path.mid
    price = (mid * Decimal("0.95")).quantize(Decimal("0.1"))
    order = engine.place("BTCUSDT", "BUY", "LIMIT", Decimal("0.02"), price, "GTC", False, "h1o1")
    assert order.is_open and order.executed_qty == 0
    return order.client_order_id, price


def test_a_touch_fills_one_chunk_of_a_crossed_limit_order_and_restores_the_price() -> None:
    engine = Engine(ExchangeConfig(tick_interval=0, partial_fill_notional=Decimal(300), seed=3))
    before = engine.markets["BTCUSDT"].path.mid
    cid, price = _resting_buy(engine)
    engine.touch_price("BTCUSDT", price - 1)
    order = engine.find("BTCUSDT", None, cid)
    chunk = order.executed_qty
    assert 0 < chunk < Decimal("0.02") and order.is_open
    assert engine.markets["BTCUSDT"].path.mid == before
    engine.tick()  # back above the order: nothing more fills
    assert engine.find("BTCUSDT", None, cid).executed_qty == chunk


def test_while_the_price_stays_crossed_every_tick_fills_another_chunk() -> None:
    """Why the e2e partial-fill test touches: between two set_price calls each tick fills."""
    engine = Engine(ExchangeConfig(tick_interval=0, partial_fill_notional=Decimal(300), seed=3))
    cid, price = _resting_buy(engine)
    engine.set_price("BTCUSDT", price - 1)
    first = engine.find("BTCUSDT", None, cid).executed_qty
    engine.tick()
    assert engine.find("BTCUSDT", None, cid).executed_qty > first
