"""Funding activities (task queue `hedger-ops`): read-only. The symbols with a funding epoch
and our PartyB's open quotes (chain views: `getSymbols`, the `getPartyBOpenPositions` pages
per PartyA, each quote's `maxFundingRate` and
`lastFundingPaymentTimestamp`), the broker's current funding rate per symbol (ccxt
`fetchFundingRates`) and its funding interval (ccxt `fetchFundingIntervals`, 8 h when unlisted). The charge itself is the chain activity `chain_charge_funding_rate`.
The contract is `interfaces.funding.FundingApi`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from eth_utils.address import to_checksum_address
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.broker_errors import to_application_error
from activities.markets import _dec
from adapters.broker.adapter import BrokerAdapter
from adapters.broker.errors import BrokerError
from adapters.chain.client import ChainClient
from adapters.chain.errors import RpcUnavailable
from domain.funding import listed_interval
from domain.quote import OPEN_STATUSES, Quote
from interfaces.funding import (
    DEFAULT_BROKER_FUNDING_INTERVAL,
    BrokerRatesRequest,
    FundingApi,
    FundingQuote,
    FundingSnapshot,
    FundingSnapshotRequest,
    FundingSymbol,
)

PAGE_SIZE = 50


def _s(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


class FundingActivities(FundingApi):
    """Around the chain and broker clients of the ops worker's reads (`chain()`, `broker()`)
    and the PartyAs to look at (`party_as()`: the ledger's)."""

    def __init__(
        self,
        chain: Callable[[], ChainClient],
        broker: Callable[[], BrokerAdapter],
        party_as: Callable[[], Awaitable[set[str]]],
    ) -> None:
        self._chain, self._broker, self._party_as = chain, broker, party_as

    def activities(self) -> list[Any]:
        return [self.snapshot, self.party_as, self.broker_rates, self.broker_intervals]

    @activity.defn(name="funding_party_as")
    async def party_as(self) -> list[str]:
        return sorted({a.lower() for a in await self._party_as()})

    @activity.defn(name="funding_snapshot")
    async def snapshot(self, request: FundingSnapshotRequest) -> FundingSnapshot:
        chain = self._chain()
        try:
            symbols: list[FundingSymbol] = []
            while page := await chain.get_symbols(len(symbols), PAGE_SIZE):
                symbols += [
                    FundingSymbol(
                        s.symbol_id,
                        s.name,
                        s.funding_rate_epoch_duration,
                        s.funding_rate_window_time,
                    )  # fmt: skip
                    for s in page
                ]
                if len(page) < PAGE_SIZE:
                    break
            quotes: list[FundingQuote] = []
            b = to_checksum_address(request.party_b)
            party_as = request.party_as
            if party_as is None:
                party_as = sorted(await self._party_as())
            for party_a in party_as:
                a = to_checksum_address(party_a)
                for raw in await chain.party_b_open_positions(b, a, PAGE_SIZE):
                    q = Quote.from_struct(raw)
                    if q.status in OPEN_STATUSES:
                        quotes.append(
                            FundingQuote(
                                q.id,
                                a,
                                q.symbol_id,
                                int(q.position_type),
                                _s(q.max_funding_rate),
                                q.last_funding_payment_timestamp,
                            )  # fmt: skip
                        )
        except RpcUnavailable as exc:
            raise ApplicationError(f"RpcUnavailable: {exc}", type="RpcUnavailable") from exc
        return snapshot_page(symbols, quotes, request)

    async def _markets(self, names: list[str]) -> dict[str, str]:
        """SYMMIO symbol name → the broker's unified symbol, for the names the broker lists."""
        broker = self._broker()
        markets: dict[str, str] = {}
        for name in names:
            try:
                markets[name] = (await broker.rules(name)).symbol
            except BrokerError as exc:
                if exc.retryable:
                    raise
        return markets

    @activity.defn(name="funding_broker_rates")
    async def broker_rates(self, request: BrokerRatesRequest) -> dict[str, str]:
        broker = self._broker()
        try:
            markets = await self._markets(request.symbols)
            if not markets:
                return {}
            funding = await broker.fetch_funding_rates(sorted(set(markets.values())))
        except BrokerError as exc:
            raise to_application_error(exc) from exc
        rates: dict[str, str] = {}
        for name, market in markets.items():
            entry = funding.get(market) or {}
            rate = _dec((entry.get("info") or {}).get("lastFundingRate"), entry.get("fundingRate"))
            if rate is not None:
                rates[name] = format(rate, "f")
        return rates

    @activity.defn(name="funding_broker_intervals")
    async def broker_intervals(self, request: BrokerRatesRequest) -> dict[str, int]:
        broker = self._broker()
        try:
            markets = await self._markets(request.symbols)
            if not markets:
                return {}
            listed = await broker.fetch_funding_intervals(sorted(set(markets.values())))
        except BrokerError as exc:
            raise to_application_error(exc) from exc
        intervals: dict[str, int] = {}
        for name, market in markets.items():
            try:
                intervals[name] = listed_interval(
                    listed.get(market), DEFAULT_BROKER_FUNDING_INTERVAL
                )
            except ValueError as exc:
                raise ApplicationError(
                    f"the broker's funding interval of {market}: {exc}", type="BrokerBadResponse"
                ) from exc
        return intervals


def snapshot_page(
    symbols: list[FundingSymbol], quotes: list[FundingQuote], request: FundingSnapshotRequest
) -> FundingSnapshot:
    """The quotes `request` asks for, by id: those after `after_quote_id`, at most
    `max_quotes` of them (`more` when some were left out)."""
    later = sorted((q for q in quotes if q.quote_id > request.after_quote_id),
                   key=lambda q: q.quote_id)  # fmt: skip
    limit = request.max_quotes
    if limit is not None and len(later) > limit:
        return FundingSnapshot(symbols, later[:limit], more=True)
    return FundingSnapshot(symbols, later)
