"""Funding activities (task queue `hedger-ops`): read-only. The symbols with a funding epoch
and our PartyB's open quotes (chain views: `getSymbols`, `partyBPositionsCount` /
`getPartyBOpenPositions` per PartyA, each quote's `maxFundingRate` and
`lastFundingPaymentTimestamp`), and the broker's current funding rate per symbol (ccxt
`fetchFundingRates`). The charge itself is the chain activity `chain_charge_funding_rate`.
The contract is `interfaces.funding.FundingApi`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from eth_utils.address import to_checksum_address
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.broker import to_application_error
from activities.markets import _dec
from adapters.broker.adapter import BrokerAdapter
from adapters.broker.errors import BrokerError
from adapters.chain.client import ChainClient
from adapters.chain.errors import RpcUnavailable
from domain.quote import OPEN_STATUSES, Quote
from interfaces.funding import (
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
        return [self.snapshot, self.broker_rates]

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
            for party_a in sorted(await self._party_as()):
                a = to_checksum_address(party_a)
                count = int(await chain.view("partyBPositionsCount", b, a))
                for start in range(0, count, PAGE_SIZE):
                    for raw in await chain.view("getPartyBOpenPositions", b, a, start, PAGE_SIZE):
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
        return FundingSnapshot(symbols, sorted(quotes, key=lambda q: q.quote_id))

    @activity.defn(name="funding_broker_rates")
    async def broker_rates(self, request: BrokerRatesRequest) -> dict[str, str]:
        broker = self._broker()
        try:
            markets: dict[str, str] = {}
            for name in request.symbols:
                try:
                    markets[name] = (await broker.rules(name)).symbol
                except BrokerError as exc:
                    if exc.retryable:
                        raise
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
