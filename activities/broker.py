"""Broker activities (DESIGN §2 "Broker Order Maker"): thin wrappers over `BrokerAdapter`.

The worker constructs one `BrokerActivities` around one shared ccxt client and registers
`BrokerActivities.activities()` on the `hedger-broker` task queue, with
`max_task_queue_activities_per_second` from `worker_options()` (the Temporal-side rate limit;
ccxt's own limiter spaces the requests of each process).

The contract (names, inputs, outputs) is `interfaces.broker.BrokerApi`.

Failures: a `BrokerError` becomes an `ApplicationError` whose `type` names it
(`activities.broker_errors`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from temporalio import activity

from activities.broker_errors import translated
from activities.market_data import market_snapshot_of, rules_view
from adapters.broker.adapter import SETTLED_LOOKUPS, BrokerAdapter
from adapters.broker.errors import BrokerError
from interfaces.broker import (
    BalanceInput,
    BalanceSnapshot,
    BrokerApi,
    Fill,
    FillPollResult,
    MarketRulesView,
    MarketSnapshot,
    MarkPriceInput,
    OrderRef,
    OrderRequest,
    OrderSnapshot,
    PollFillsInput,
    PositionsInput,
    PositionSnapshot,
    SymbolRef,
)
from interfaces.temporal import TaskQueues

# `HEDGER_BROKER_ACTIVITIES_PER_SECOND`'s default. It was 10: at 2 intents/s (about five broker
# activities each) the queue ran at the cap, a placement waited up to 1.3 s for dispatch and
# the latency collapsed above 2 intents/s (bench/, activity_dispatch_by_type).
DEFAULT_ACTIVITIES_PER_SECOND = 40.0


class BrokerActivities(BrokerApi):
    def __init__(
        self, adapter: BrokerAdapter, activities_per_second: float = DEFAULT_ACTIVITIES_PER_SECOND
    ) -> None:
        self.adapter = adapter
        self.activities_per_second = activities_per_second

    def activities(self) -> Sequence[Callable[..., Any]]:
        return [
            self.place_order,
            self.cancel_order,
            self.fetch_order,
            self.fetch_fills,
            self.poll_fills,
            self.fetch_positions,
            self.fetch_balance,
            self.fetch_mark_price,
            self.market_rules,
            self.market_snapshot,
        ]

    def worker_options(self) -> dict[str, Any]:
        """Keyword arguments for `temporalio.worker.Worker` on the broker task queue."""
        return {
            "task_queue": TaskQueues.BROKER,
            "activities": self.activities(),
            "max_task_queue_activities_per_second": self.activities_per_second,
        }

    @activity.defn(name="broker_place_order")
    @translated
    async def place_order(self, inp: OrderRequest) -> OrderSnapshot:
        # A retry may follow a placement whose answer was lost: look the id up several times
        # (read lag) before sending it again.
        first = activity.info().attempt <= 1
        return await self.adapter.create_order(inp, lookups=1 if first else SETTLED_LOOKUPS)

    @activity.defn(name="broker_cancel_order")
    @translated
    async def cancel_order(self, inp: OrderRef) -> OrderSnapshot:
        return await self.adapter.cancel_order(inp.symbol, inp.client_order_id)

    @activity.defn(name="broker_fetch_order")
    @translated
    async def fetch_order(self, inp: OrderRef) -> OrderSnapshot:
        snap = await self.adapter.fetch_order(inp.symbol, inp.client_order_id, with_fees=True)
        if snap is None:
            rules = await self.adapter.rules(inp.symbol)
            return OrderSnapshot(inp.client_order_id, None, rules.symbol, "not_found")
        return snap

    @activity.defn(name="broker_fetch_fills")
    @translated
    async def fetch_fills(self, inp: OrderRef) -> list[Fill]:
        return await self.adapter.fetch_fills(inp.symbol, inp.client_order_id)

    @activity.defn(name="broker_poll_fills")
    @translated
    async def poll_fills(self, inp: PollFillsInput) -> FillPollResult:
        """Poll (REST) until the order is final or `timeout_seconds` pass; heartbeats every poll.

        Transient broker errors during the wait are ridden out (the next poll tries again);
        the deadline survives activity retries through the heartbeat details. On timeout the
        order is cancelled first when `cancel_on_timeout` (what filled until then is reported).
        Set a heartbeat timeout on the activity so a dead worker is noticed.
        """
        info = activity.info()
        details = info.heartbeat_details
        deadline = float(details[0]) if details else time.time() + inp.timeout_seconds
        last: OrderSnapshot | None = None
        while True:
            try:
                last = await self.adapter.fetch_order(inp.symbol, inp.client_order_id) or last
            except BrokerError as exc:
                if not exc.retryable:
                    raise
            activity.heartbeat(
                deadline, last.status if last else None, last.filled if last else None
            )
            if last is not None and last.is_final:
                return await self._result(inp, last, timed_out=False)
            if time.time() >= deadline:
                return await self._timed_out(inp, last)
            await asyncio.sleep(inp.interval_seconds)

    async def _timed_out(self, inp: PollFillsInput, last: OrderSnapshot | None) -> FillPollResult:
        if inp.cancel_on_timeout:
            last = await self.adapter.cancel_order(inp.symbol, inp.client_order_id)
        if last is None or last.status == "not_found":
            rules = await self.adapter.rules(inp.symbol)
            return FillPollResult(
                OrderSnapshot(inp.client_order_id, None, rules.symbol, "not_found"), [], True
            )
        return await self._result(inp, last, timed_out=True)

    async def _result(
        self, inp: PollFillsInput, last: OrderSnapshot, timed_out: bool
    ) -> FillPollResult:
        final = (
            await self.adapter.fetch_order(inp.symbol, inp.client_order_id, with_fees=True) or last
        )
        fills = (
            await self.adapter.fetch_fills(inp.symbol, inp.client_order_id)
            if Decimal(final.filled) > 0
            else []
        )
        return FillPollResult(order=final, fills=fills, timed_out=timed_out)

    @activity.defn(name="broker_fetch_positions")
    @translated
    async def fetch_positions(self, inp: PositionsInput) -> list[PositionSnapshot]:
        return await self.adapter.fetch_positions(inp.symbols)

    @activity.defn(name="broker_fetch_balance")
    @translated
    async def fetch_balance(self, inp: BalanceInput) -> BalanceSnapshot:
        return await self.adapter.fetch_balance(inp.asset)

    @activity.defn(name="broker_fetch_mark_price")
    @translated
    async def fetch_mark_price(self, inp: MarkPriceInput) -> str:
        return format(await self.adapter.fetch_mark_price(inp.symbol), "f")

    @activity.defn(name="broker_market_rules")
    @translated
    async def market_rules(self, ref: SymbolRef) -> MarketRulesView:
        """Step, tick, min notional of the broker market mapped to a SYMMIO symbol name."""
        return rules_view(await self.adapter.rules(ref.name))

    @activity.defn(name="broker_market_snapshot")
    @translated
    async def market_snapshot(self, ref: SymbolRef) -> MarketSnapshot:
        """The market's rules and its mark price; an unlisted symbol is an answer, not an error."""
        return await market_snapshot_of(self.adapter, ref.name)
