"""Broker activities: results, error translation for Temporal, the heartbeating fill poll."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest
from broker_helpers import limit, market, new_cid
from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.broker import BrokerActivities
from adapters.broker.adapter import BrokerAdapter
from devnet.exchange.admin import ExchangeAdmin
from interfaces.broker import (
    BalanceInput,
    MarkPriceInput,
    OrderRef,
    OrderRequest,
    OrderSnapshot,
    PollFillsInput,
    PositionsInput,
    SymbolRef,
)


@pytest.fixture
def acts(adapter: BrokerAdapter) -> BrokerActivities:
    return BrokerActivities(adapter)


async def test_place_fetch_cancel_and_account_reads(acts: BrokerActivities) -> None:
    env = ActivityEnvironment()
    cid = new_cid()
    placed = await env.run(acts.place_order, limit("BTCUSDT", "buy", "0.01", "40000", cid))
    assert isinstance(placed, OrderSnapshot) and placed.status == "open"
    assert (
        await env.run(acts.fetch_order, OrderRef("BTCUSDT", cid))
    ).exchange_order_id == placed.exchange_order_id
    assert (await env.run(acts.cancel_order, OrderRef("BTCUSDT", cid))).status == "canceled"
    assert (await env.run(acts.fetch_order, OrderRef("BTCUSDT", new_cid()))).status == "not_found"
    assert Decimal(await env.run(acts.fetch_mark_price, MarkPriceInput("BTCUSDT"))) > 0
    assert Decimal((await env.run(acts.fetch_balance, BalanceInput())).free) > 0
    await env.run(acts.place_order, market("SOLUSDT", "sell", "3"))
    [pos] = await env.run(acts.fetch_positions, PositionsInput(["SOLUSDT"]))
    assert pos.symbol == "SOL/USDT:USDT" and Decimal(pos.amount) == -3


async def test_market_snapshot_is_rules_and_mark_in_one_and_unlisted_is_an_answer(
    acts: BrokerActivities,
) -> None:
    env = ActivityEnvironment()
    snap = await env.run(acts.market_snapshot, SymbolRef("BTCUSDT"))
    assert snap.rules == await env.run(acts.market_rules, SymbolRef("BTCUSDT"))
    mark = Decimal(await env.run(acts.fetch_mark_price, MarkPriceInput("BTCUSDT")))
    assert snap.mark_price is not None and snap.unlisted is None
    assert abs(Decimal(snap.mark_price) - mark) <= mark * Decimal("0.01")  # the market may move
    unlisted = await env.run(acts.market_snapshot, SymbolRef("NOPEUSDT"))
    assert unlisted.rules is None and unlisted.mark_price is None
    assert unlisted.unlisted and "NOPEUSDT" in unlisted.unlisted


async def test_terminal_error_is_non_retryable_application_error(acts: BrokerActivities) -> None:
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(acts.place_order, market("BTCUSDT", "buy", "900"))
    assert err.value.type == "InsufficientMargin" and err.value.non_retryable
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(acts.place_order, market("NOPEUSDT", "buy", "1"))
    assert err.value.type == "UnknownSymbol" and err.value.non_retryable


async def test_rate_limit_is_retryable_with_retry_after(
    acts: BrokerActivities, admin: ExchangeAdmin
) -> None:
    await acts.adapter.symbols()
    await admin.add_fault("rate_limit", path="/fapi/v3/account", retry_after=3)
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(acts.fetch_balance, BalanceInput())
    assert err.value.type == "BrokerRateLimited" and not err.value.non_retryable
    assert err.value.next_retry_delay == timedelta(seconds=3)


async def test_poll_fills_heartbeats_until_delayed_fill(
    acts: BrokerActivities, admin: ExchangeAdmin
) -> None:
    await admin.set_fill_delay(0.6)
    cid = new_cid()
    env = ActivityEnvironment()
    beats: list[tuple[object, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    placed = await env.run(acts.place_order, market("BTCUSDT", "buy", "0.02", cid))
    assert placed.status == "open"
    result = await env.run(
        acts.poll_fills, PollFillsInput("BTCUSDT", cid, timeout_seconds=10, interval_seconds=0.1)
    )
    assert (
        not result.timed_out
        and result.order.status == "closed"
        and Decimal(result.order.filled) == Decimal("0.02")
    )
    assert result.order.fee is not None and Decimal(result.order.fee) > 0
    assert sum(Decimal(f.amount) for f in result.fills) == Decimal("0.02")
    assert len(beats) >= 3 and beats[0][1] == "open"


async def test_poll_fills_survives_transient_errors(
    acts: BrokerActivities, admin: ExchangeAdmin
) -> None:
    cid = new_cid()
    await acts.adapter.create_order(limit("BTCUSDT", "buy", "0.01", "49000", cid))
    await admin.add_fault("http_error", path=r"/fapi/v1/order$", method="GET", status=502, count=3)
    env = ActivityEnvironment()
    result = await env.run(
        acts.poll_fills, PollFillsInput("BTCUSDT", cid, timeout_seconds=0.8, interval_seconds=0.1)
    )
    assert result.timed_out and result.order.status == "open"


async def test_poll_timeout_cancels_and_reports_partial_fill(
    acts: BrokerActivities, admin: ExchangeAdmin
) -> None:
    await acts.adapter.set_leverage("ETHUSDT", 50)
    cid = new_cid()
    await acts.adapter.create_order(limit("ETHUSDT", "buy", "400", "2900", cid))
    await admin.set_price("ETHUSDT", "2895")  # one chunk fills, the rest keeps resting
    result = await ActivityEnvironment().run(
        acts.poll_fills,
        PollFillsInput(
            "ETHUSDT", cid, timeout_seconds=0.3, interval_seconds=0.1, cancel_on_timeout=True
        ),
    )
    assert result.timed_out and result.order.status == "canceled"
    assert Decimal("0") < Decimal(result.order.filled) < Decimal("400")
    assert sum(Decimal(f.amount) for f in result.fills) == Decimal(result.order.filled)


# ---------------------------------------------------------------- through a real Temporal worker
@workflow.defn(name="BrokerActivityProbe", sandboxed=False)
class BrokerActivityProbe:
    @workflow.run
    async def run(self, req: OrderRequest) -> OrderSnapshot:
        return await workflow.execute_activity(
            "broker_place_order",
            req,
            result_type=OrderSnapshot,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100), maximum_attempts=5
            ),
        )


@pytest.fixture
async def broker_worker(temporal_client: Client, acts: BrokerActivities) -> AsyncIterator[str]:
    queue = f"broker-{uuid.uuid4().hex[:8]}"
    opts = acts.worker_options() | {"task_queue": queue}
    async with Worker(temporal_client, workflows=[BrokerActivityProbe], **opts):
        yield queue


async def test_worker_retries_transient_and_stops_on_terminal(
    temporal_client: Client, broker_worker: str, admin: ExchangeAdmin
) -> None:
    cid = new_cid()
    await admin.add_fault("http_error", path=r"/fapi/v1/order$", method="POST", status=503, count=2)
    snap = await temporal_client.execute_workflow(
        BrokerActivityProbe.run,
        market("BTCUSDT", "buy", "0.01", cid),
        id=f"probe-{cid}",
        task_queue=broker_worker,
    )
    assert snap.client_order_id == cid and snap.status == "closed"
    assert len([o for o in (await admin.state())["orders"] if o["clientOrderId"] == cid]) == 1

    with pytest.raises(WorkflowFailureError) as err:
        await temporal_client.execute_workflow(
            BrokerActivityProbe.run,
            market("BTCUSDT", "buy", "900"),
            id=f"probe-{new_cid()}",
            task_queue=broker_worker,
        )
    cause = err.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == "InsufficientMargin" and cause.cause.non_retryable
    assert cause.retry_state is not None and cause.retry_state.name == "NON_RETRYABLE_FAILURE"
