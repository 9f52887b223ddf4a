"""Price sources of the devnet oracle, the Binance one against the devnet exchange simulator."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from devnet.exchange.config import ExchangeConfig
from devnet.exchange.server import BackgroundExchange
from devnet.oracle.prices import BinancePriceSource, PriceUnavailable, StaticPriceSource, to_wad


@pytest.fixture(scope="module")
def exchange() -> Iterator[BackgroundExchange]:
    ex = BackgroundExchange(ExchangeConfig(tick_interval=0)).start()
    try:
        yield ex
    finally:
        ex.stop()


def test_binance_mark_price(exchange: BackgroundExchange) -> None:
    source = BinancePriceSource(exchange.rest_url)
    price = source.mark_price("BTCUSDT")
    assert price == Decimal("50000")  # frozen initial price of the simulator
    with pytest.raises(PriceUnavailable):
        source.mark_price("NOPEUSDT")
    source.close()


def test_binance_unreachable() -> None:
    with pytest.raises(PriceUnavailable, match="unreachable"):
        BinancePriceSource("http://127.0.0.1:9", timeout=0.5).mark_price("BTCUSDT")


def test_static_and_wad() -> None:
    source = StaticPriceSource({"BTCUSDT": Decimal("60000.5")})
    assert to_wad(source.mark_price("BTCUSDT")) == 600005 * 10**17
    source.set_price("ETHUSDT", Decimal("0.000000000000000001"))
    assert to_wad(source.mark_price("ETHUSDT")) == 1
    with pytest.raises(PriceUnavailable):
        source.mark_price("XRPUSDT")
    with pytest.raises(ValueError):
        source.set_price("BTCUSDT", Decimal(0))
