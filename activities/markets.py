"""Markets activities (task queue `hedger-ops`): what the front-end API publishes.

Reads the contract's symbols (ViewFacet `getSymbols`, one page per call) and the broker's
markets and market data (ccxt: `load_markets`, `fetch_tickers`, `fetch_funding_rates`, public
endpoints), and writes the `symbols` / `symbol_locked_params` tables the API serves. The join
with the configured limits is `domain.markets.publish_symbols`. Each activity is idempotent:
a retry reads again and writes the same rows. The contract is `interfaces.markets.MarketsApi`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from adapters.broker.adapter import BrokerAdapter
from adapters.broker.symbols import MarketRules
from adapters.chain.client import ChainClient
from domain.markets import MarketPolicy, MarketSnapshot, funding_sides, publish_symbols
from interfaces.markets import (
    BrokerMarketView,
    ContractSymbolView,
    MarketDataResult,
    MarketsApi,
    PublishInput,
    PublishResult,
    SymbolPage,
    broker_market_of,
    contract_symbol_of,
)
from ledger import market_store

log = logging.getLogger(__name__)


def _f(value: Decimal) -> str:
    return format(value, "f")


def _dec(*candidates: Any) -> Decimal | None:
    """The first candidate that is a finite number (broker strings first: exact)."""
    for value in candidates:
        if value is None or value == "":
            continue
        try:
            d = Decimal(str(value))
        except InvalidOperation:
            continue
        if d.is_finite():
            return d
    return None


def snapshot_of(
    symbol_id: int, ticker: Mapping[str, Any] | None, funding: Mapping[str, Any] | None
) -> MarketSnapshot | None:
    """One symbol's market data from a ccxt ticker and funding-rate structure (None without a
    mark price)."""
    t_info = (ticker or {}).get("info") or {}
    f_info = (funding or {}).get("info") or {}
    mark = _dec(f_info.get("markPrice"), (funding or {}).get("markPrice"),
                (ticker or {}).get("markPrice"), t_info.get("lastPrice"), (ticker or {}).get("last"))  # fmt: skip
    if mark is None or mark <= 0:
        return None
    rate = _dec(f_info.get("lastFundingRate"), (funding or {}).get("fundingRate"))
    long_rate, short_rate = funding_sides(rate) if rate is not None else (None, None)
    next_time = _dec(f_info.get("nextFundingTime"), (funding or {}).get("fundingTimestamp"))
    return MarketSnapshot(
        symbol_id=symbol_id,
        mark_price=mark,
        price_change_percent=_dec(t_info.get("priceChangePercent"), (ticker or {}).get("percentage")),
        trade_volume=_dec(t_info.get("quoteVolume"), (ticker or {}).get("quoteVolume")),
        next_funding_time=int(next_time) if next_time is not None and next_time > 0 else None,
        funding_rate_long=long_rate,
        funding_rate_short=short_rate,
    )  # fmt: skip


class MarketsActivities(MarketsApi):
    def __init__(
        self, engine: AsyncEngine, chain: ChainClient, broker: BrokerAdapter, policy: MarketPolicy
    ) -> None:
        self.engine = engine
        self.chain = chain
        self.broker = broker
        self.policy = policy

    def activities(self) -> list[Any]:
        return [
            self.contract_symbols, self.broker_markets, self.publish_symbols,
            self.refresh_market_data,
        ]  # fmt: skip

    @activity.defn(name="markets_contract_symbols")
    async def contract_symbols(self, page: SymbolPage) -> list[ContractSymbolView]:
        return [
            ContractSymbolView(
                symbol_id=s.symbol_id,
                name=s.name,
                is_valid=s.is_valid,
                min_acceptable_quote_value=_f(s.min_acceptable_quote_value),
                min_acceptable_portion_lf=_f(s.min_acceptable_portion_lf),
                trading_fee=_f(s.trading_fee),
                max_leverage=_f(s.max_leverage),
                funding_rate_epoch_duration=s.funding_rate_epoch_duration,
                funding_rate_window_time=s.funding_rate_window_time,
            )  # fmt: skip
            for s in await self.chain.get_symbols(page.start, page.size)
        ]

    @activity.defn(name="markets_broker_markets")
    async def broker_markets(self) -> list[BrokerMarketView]:
        out = []
        for market in (await self.broker.reload_markets()).values():
            if not market.get("contract") or not market.get("linear") or not market.get("swap"):
                continue
            rules = MarketRules.from_ccxt_market(market)
            out.append(
                BrokerMarketView(
                    market_id=rules.market_id,
                    symbol=rules.symbol,
                    base=str(market.get("base") or ""),
                    settle=rules.settle,
                    tick_size=_f(rules.tick_size),
                    step_size=_f(rules.step_size),
                    min_notional=_f(rules.min_notional),
                    max_quantity=_f(rules.max_qty) if rules.max_qty is not None else None,
                    active=market.get("active") is not False,
                )  # fmt: skip
            )
        return sorted(out, key=lambda m: m.symbol)

    @activity.defn(name="markets_publish_symbols")
    async def publish_symbols(self, inp: PublishInput) -> PublishResult:
        rows = publish_symbols(
            [contract_symbol_of(v) for v in inp.contract],
            [broker_market_of(v) for v in inp.markets],
            self.policy,
        )
        await market_store.publish_symbols(self.engine, rows)
        return PublishResult(
            tradable=[r.name for r in rows if r.tradable],
            not_tradable={r.name: r.reason or "" for r in rows if not r.tradable},
        )

    @activity.defn(name="markets_refresh_market_data")
    async def refresh_market_data(self) -> MarketDataResult:
        markets = await market_store.tradable_markets(self.engine)
        if not markets:
            return MarketDataResult()
        symbols = sorted({m.broker_market for m in markets})
        tickers = await self.broker.fetch_tickers(symbols)
        funding = await self.broker.fetch_funding_rates(symbols)
        snapshots, missing = [], []
        for m in markets:
            snap = snapshot_of(
                m.symbol_id, tickers.get(m.broker_market), funding.get(m.broker_market)
            )
            if snap is None:
                missing.append(m.name)
            else:
                snapshots.append(snap)
        await market_store.write_market_data(self.engine, snapshots)
        if missing:
            log.warning("no market data from the broker for %s", ", ".join(missing))
        return MarketDataResult(
            updated=[m.name for m in markets if m.name not in missing], missing=missing
        )
