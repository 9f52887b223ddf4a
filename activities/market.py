"""Market metadata from the broker (task queue `hedger-broker`): what the open policy needs to size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import activity

from activities.broker import to_application_error
from hedger.broker.adapter import BrokerAdapter
from hedger.broker.errors import BrokerError


@dataclass(frozen=True)
class SymbolRef:
    name: str  # SYMMIO symbol name, e.g. "BTCUSDT"


@dataclass(frozen=True)
class MarketRulesView:
    symbol: str  # broker market, e.g. "BTC/USDT:USDT"
    step_size: str
    tick_size: str
    min_notional: str
    max_quantity: str | None


class MarketActivities:
    def __init__(self, adapter: BrokerAdapter) -> None:
        self.adapter = adapter

    def activities(self) -> list[Any]:
        return [self.market_rules]

    @activity.defn(name="broker_market_rules")
    async def market_rules(self, ref: SymbolRef) -> MarketRulesView:
        """Step, tick, min notional of the broker market mapped to a SYMMIO symbol name."""
        try:
            rules = await self.adapter.rules(ref.name)
        except BrokerError as exc:
            raise to_application_error(exc) from exc
        return MarketRulesView(
            symbol=rules.symbol,
            step_size=format(rules.step_size, "f"),
            tick_size=format(rules.tick_size, "f"),
            min_notional=format(rules.min_notional, "f"),
            max_quantity=format(rules.max_qty, "f") if rules.max_qty is not None else None,
        )
