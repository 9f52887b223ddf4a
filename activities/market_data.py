"""`broker_market_snapshot` for the workflow worker's local reads: a market's rules and mark
price, read through a `MarketData` (for Binance USD-M the ccxt-free reader,
`adapters.broker.usdm`). The broker worker serves the same activity through its ccxt adapter
(`BrokerActivities.market_snapshot`); both answer with `market_snapshot_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio import activity

from activities.broker_errors import translated
from adapters.broker.errors import UNKNOWN_SYMBOL, BrokerError
from adapters.broker.market_data import MarketData
from adapters.broker.symbols import MarketRules
from interfaces.broker import MarketRulesView, MarketSnapshot, SymbolRef


def rules_view(rules: MarketRules) -> MarketRulesView:
    return MarketRulesView(
        symbol=rules.symbol,
        step_size=format(rules.step_size, "f"),
        tick_size=format(rules.tick_size, "f"),
        min_notional=format(rules.min_notional, "f"),
        max_quantity=format(rules.max_qty, "f") if rules.max_qty is not None else None,
    )


async def market_snapshot_of(data: MarketData, name: str) -> MarketSnapshot:
    """The market's rules and its mark price; an unlisted symbol is an answer, not an error."""
    try:
        rules = await data.rules(name)
    except BrokerError as exc:
        if exc.kind != UNKNOWN_SYMBOL:
            raise
        return MarketSnapshot(None, None, unlisted=exc.message)
    mark = await data.fetch_mark_price(rules.symbol)
    return MarketSnapshot(rules_view(rules), format(mark, "f"))


class MarketDataReads:
    """The market-data local read of one workflow worker (`close()` on shutdown)."""

    def __init__(self, data: MarketData) -> None:
        self.data = data

    def local_reads(self) -> Sequence[Callable[..., Any]]:
        return [self.market_snapshot]

    @activity.defn(name="broker_market_snapshot")
    @translated
    async def market_snapshot(self, ref: SymbolRef) -> MarketSnapshot:
        return await market_snapshot_of(self.data, ref.name)

    async def close(self) -> None:
        await self.data.close()
