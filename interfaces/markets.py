"""The markets activities' contract (task queue `hedger-ops`): the symbol sync and market data.

`MarketsApi` declares the activities with their Temporal names and types; `activities.markets`
implements them. Decimals travel as strings (exact through any payload converter); the
`*_of` helpers turn the wire views into `domain.markets` values. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from temporalio import activity

from domain.markets import BrokerMarket, ContractSymbol


@dataclass(frozen=True)
class SymbolPage:
    start: int
    size: int


@dataclass(frozen=True)
class ContractSymbolView:
    """One `getSymbols` entry, decimals removed."""

    symbol_id: int
    name: str
    is_valid: bool
    min_acceptable_quote_value: str
    min_acceptable_portion_lf: str
    trading_fee: str
    max_leverage: str
    funding_rate_epoch_duration: int
    funding_rate_window_time: int


@dataclass(frozen=True)
class BrokerMarketView:
    """One linear perpetual the broker lists (ccxt `load_markets`)."""

    market_id: str
    symbol: str
    base: str
    settle: str
    tick_size: str
    step_size: str
    min_notional: str
    max_quantity: str | None
    active: bool = True


@dataclass(frozen=True)
class PublishInput:
    contract: list[ContractSymbolView]
    markets: list[BrokerMarketView]


@dataclass(frozen=True)
class PublishResult:
    tradable: list[str] = field(default_factory=list)
    not_tradable: dict[str, str] = field(default_factory=dict)  # name -> why


@dataclass(frozen=True)
class MarketDataResult:
    updated: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # tradable, but the broker sent no data


def contract_symbol_of(view: ContractSymbolView) -> ContractSymbol:
    return ContractSymbol(
        symbol_id=view.symbol_id, name=view.name, is_valid=view.is_valid,
        min_acceptable_quote_value=Decimal(view.min_acceptable_quote_value),
        min_acceptable_portion_lf=Decimal(view.min_acceptable_portion_lf),
        trading_fee=Decimal(view.trading_fee), max_leverage=Decimal(view.max_leverage),
        funding_rate_epoch_duration=view.funding_rate_epoch_duration,
        funding_rate_window_time=view.funding_rate_window_time,
    )  # fmt: skip


def broker_market_of(view: BrokerMarketView) -> BrokerMarket:
    return BrokerMarket(
        market_id=view.market_id, symbol=view.symbol, base=view.base, settle=view.settle,
        tick_size=Decimal(view.tick_size), step_size=Decimal(view.step_size),
        min_notional=Decimal(view.min_notional),
        max_quantity=Decimal(view.max_quantity) if view.max_quantity else None,
        active=view.active,
    )  # fmt: skip


class MarketsApi:
    @activity.defn(name="markets_contract_symbols")
    async def contract_symbols(self, page: SymbolPage) -> list[ContractSymbolView]:
        """One page of the contract's symbols (ids start..start+size-1 in the contract's order)."""
        raise NotImplementedError

    @activity.defn(name="markets_broker_markets")
    async def broker_markets(self) -> list[BrokerMarketView]:
        """The broker's linear perpetuals, freshly loaded."""
        raise NotImplementedError

    @activity.defn(name="markets_publish_symbols")
    async def publish_symbols(self, inp: PublishInput) -> PublishResult:
        """Join with the configured limits and upsert `symbols` and `symbol_locked_params`."""
        raise NotImplementedError

    @activity.defn(name="markets_refresh_market_data")
    async def refresh_market_data(self) -> MarketDataResult:
        """Mark prices, 24 h change and volume, funding of the published tradable symbols."""
        raise NotImplementedError
