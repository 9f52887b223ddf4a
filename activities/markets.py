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
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from adapters.broker.adapter import BrokerAdapter
from adapters.broker.symbols import MarketRules
from adapters.chain.client import ChainClient
from domain.funding import listed_interval, next_epoch_boundary
from domain.markets import (
    MarketPolicy,
    MarketSnapshot,
    charged_funding_sides,
    funding_sides,
    publish_symbols,
)
from interfaces.funding import DEFAULT_BROKER_FUNDING_INTERVAL
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


@dataclass(frozen=True, slots=True)
class ChargedFunding:
    """How `FundingWorkflow` turns the broker's rate into what it charges on chain: the
    broker's interval for this market, the symbol's chain epoch, the spread, the chain's time."""

    broker_interval: int
    epoch_duration: int
    spread: Decimal
    chain_now: int


def snapshot_of(
    symbol_id: int,
    ticker: Mapping[str, Any] | None,
    funding: Mapping[str, Any] | None,
    charged: ChargedFunding | None = None,
) -> MarketSnapshot | None:
    """One symbol's market data from a ccxt ticker and funding-rate structure (None without a
    mark price). With `charged`, the funding rates and next funding time are what the funding
    workflow will charge at the symbol's next chain epoch, not the broker's own."""
    t_info = (ticker or {}).get("info") or {}
    f_info = (funding or {}).get("info") or {}
    mark = _dec(f_info.get("markPrice"), (funding or {}).get("markPrice"),
                (ticker or {}).get("markPrice"), t_info.get("lastPrice"), (ticker or {}).get("last"))  # fmt: skip
    if mark is None or mark <= 0:
        return None
    rate = _dec(f_info.get("lastFundingRate"), (funding or {}).get("fundingRate"))
    long_rate: Decimal | None
    short_rate: Decimal | None
    long_rate, short_rate = funding_sides(rate) if rate is not None else (None, None)
    next_time = _dec(f_info.get("nextFundingTime"), (funding or {}).get("fundingTimestamp"))
    if charged is not None and charged.epoch_duration > 0:
        if rate is not None:
            long_rate, short_rate = charged_funding_sides(
                rate, charged.broker_interval, charged.epoch_duration, charged.spread
            )
        next_time = Decimal(next_epoch_boundary(charged.chain_now, charged.epoch_duration) * 1000)
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

    async def _funding_intervals(self, symbols: list[str]) -> Mapping[str, Any]:
        """ccxt `fetchFundingIntervals` (Binance lists only symbols off the default 8 h); a
        broker without it, or failing to answer, leaves every market on the default."""
        try:
            return await self.broker.fetch_funding_intervals(symbols)
        except Exception as exc:  # the rates are still published, unscaled by a wrong interval
            log.warning("no funding intervals from the broker (%s); using 8 h", exc)
            return {}

    @activity.defn(name="markets_refresh_market_data")
    async def refresh_market_data(self) -> MarketDataResult:
        markets = await market_store.tradable_markets(self.engine)
        if not markets:
            return MarketDataResult()
        symbols = sorted({m.broker_market for m in markets})
        tickers = await self.broker.fetch_tickers(symbols)
        funding = await self.broker.fetch_funding_rates(symbols)
        intervals = await self._funding_intervals(symbols)
        try:
            chain_now: int | None = (await self.chain.latest_block()).timestamp
        except Exception as exc:  # marks and volumes are still worth publishing
            log.warning("chain time unavailable (%s); funding published as the broker's", exc)
            chain_now = None
        snapshots, missing = [], []
        for m in markets:
            charged = None
            if chain_now is not None:
                try:
                    interval = listed_interval(
                        intervals.get(m.broker_market), DEFAULT_BROKER_FUNDING_INTERVAL
                    )
                except ValueError as exc:
                    log.warning("funding interval of %s: %s; using 8 h", m.broker_market, exc)
                    interval = DEFAULT_BROKER_FUNDING_INTERVAL
                charged = ChargedFunding(
                    interval, m.funding_epoch, self.policy.funding_spread, chain_now
                )
            snap = snapshot_of(
                m.symbol_id, tickers.get(m.broker_market), funding.get(m.broker_market), charged
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
