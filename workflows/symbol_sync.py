"""The markets front-ends see, kept current by two Temporal Schedules on `hedger-ops`.

* `SymbolSyncWorkflow` (every `HEDGER_SYMBOL_SYNC_SECONDS`): the contract's symbols, page by
  page, joined with the broker's markets and the configured limits into the tables the API
  serves; then one market-data refresh, so a fresh deployment has prices at once.
* `MarketDataWorkflow` (every `HEDGER_MARKET_DATA_SECONDS`): mark prices, 24 h change and
  volume, funding of the published tradable symbols.

Each run is short and ends; a failed run leaves the last published data in place and the next
run starts afresh (the schedule skips a run while the previous one is still going).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from interfaces.markets import (
        ContractSymbolView,
        MarketDataResult,
        MarketsApi,
        PublishInput,
        SymbolPage,
    )

MAX_PAGES = 1000  # 100,000 symbols at the default page size: a runaway loop ends
STEP_TIMEOUT = timedelta(seconds=30)
STEP_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=10))


@dataclass(frozen=True)
class SymbolSyncInput:
    page_size: int = 100


@dataclass(frozen=True)
class SymbolSyncResult:
    tradable: list[str] = field(default_factory=list)
    not_tradable: dict[str, str] = field(default_factory=dict)
    priced: list[str] = field(default_factory=list)


@workflow.defn(name="SymbolSync")
class SymbolSyncWorkflow:
    @workflow.run
    async def run(self, params: SymbolSyncInput) -> SymbolSyncResult:
        size = max(1, params.page_size)
        contract: list[ContractSymbolView] = []
        for page in range(MAX_PAGES):
            batch = await workflow.execute_activity_method(
                MarketsApi.contract_symbols,
                SymbolPage(page * size, size),
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=STEP_RETRY,
            )
            contract.extend(batch)
            if len(batch) < size:
                break
        markets = await workflow.execute_activity_method(
            MarketsApi.broker_markets, start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY
        )
        published = await workflow.execute_activity_method(
            MarketsApi.publish_symbols,
            PublishInput(contract, markets),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )
        priced = await _refresh()
        return SymbolSyncResult(published.tradable, published.not_tradable, priced.updated)


@workflow.defn(name="MarketData")
class MarketDataWorkflow:
    @workflow.run
    async def run(self) -> MarketDataResult:
        return await _refresh()


async def _refresh() -> MarketDataResult:
    return await workflow.execute_activity_method(
        MarketsApi.refresh_market_data,
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=RetryPolicy(maximum_attempts=2),
    )
