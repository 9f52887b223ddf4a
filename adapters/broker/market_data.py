"""The broker market data a workflow's first round reads: a market's rules and its mark price.

`market_data_for(config)` picks the reader: Binance USD-M is read directly (`adapters.broker.usdm`,
no ccxt in the process); any other exchange through a ccxt `BrokerAdapter`, imported only then.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from adapters.broker.client import BrokerConfig
from adapters.broker.symbols import MarketRules, SymbolEntry


class MarketData(Protocol):
    """What `broker_market_snapshot` reads; `BrokerAdapter` and `UsdmMarketData` both provide it."""

    async def rules(self, symbol: str | int) -> MarketRules: ...

    async def fetch_mark_price(self, symbol: str | int) -> Decimal: ...

    async def close(self) -> None: ...


def market_data_for(config: BrokerConfig, entries: Iterable[SymbolEntry] = ()) -> MarketData:
    from adapters.broker.usdm import EXCHANGE_ID, UsdmMarketData

    # `options` are ccxt's own client options: a configuration that sets any is read by ccxt
    if config.exchange_id == EXCHANGE_ID and not config.options:
        return UsdmMarketData(config, entries)
    from adapters.broker.adapter import BrokerAdapter

    return BrokerAdapter.from_config(config, entries)
