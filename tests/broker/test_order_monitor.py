"""Order monitor against the simulator's user data stream and a real Temporal dev server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest
from broker_helpers import ExchangeUnderTest, limit, market, new_quote_id
from recorder_workflow import BrokerUpdateRecorder
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from adapters.broker.adapter import BrokerAdapter
from adapters.broker.client import make_exchange
from devnet.exchange.admin import ExchangeAdmin
from domain.ids import (
    close_order_client_id,
    intent_workflow_id,
    open_order_client_id,
    position_workflow_id,
)
from interfaces.broker import OrderSnapshot
from workers.order_monitor import LAG, RECONNECTS, OrderMonitor

CHAIN_ID = 31337


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def worker(temporal_client: Client) -> AsyncIterator[str]:
    queue = f"recorder-{uuid.uuid4().hex[:8]}"
    async with Worker(temporal_client, task_queue=queue, workflows=[BrokerUpdateRecorder]):
        yield queue


@pytest.fixture
async def monitor(
    exchange_under_test: ExchangeUnderTest, admin: ExchangeAdmin, temporal_client: Client
) -> AsyncIterator[OrderMonitor]:
    exchange = make_exchange(exchange_under_test.broker)
    mon = OrderMonitor(exchange, temporal_client, CHAIN_ID, initial_backoff=0.2, catch_up_delay=0.2)
    task = asyncio.create_task(mon.run())

    async def connected() -> bool:
        return int((await admin.state())["ws_connections"]) >= 1

    await eventually(connected)
    try:
        yield mon
    finally:
        mon.stop()
        await asyncio.wait_for(task, 5)
        await exchange.close()


def _lag_count() -> float:
    return next(s.value for m in LAG.collect() for s in m.samples if s.name.endswith("_count"))


async def start_recorder(
    client: Client, queue: str, workflow_id: str
) -> WorkflowHandle[BrokerUpdateRecorder, int]:
    return await client.start_workflow(
        BrokerUpdateRecorder.run, id=workflow_id, task_queue=queue, execution_timeout=None
    )


async def updates(handle: WorkflowHandle[BrokerUpdateRecorder, int]) -> list[OrderSnapshot]:
    return await handle.query(BrokerUpdateRecorder.get_updates)


async def test_fills_are_signalled_to_the_owning_workflow(
    temporal_client: Client, worker: str, monitor: OrderMonitor, adapter: BrokerAdapter
) -> None:
    quote = new_quote_id()
    lag_samples = _lag_count()
    intent = await start_recorder(temporal_client, worker, intent_workflow_id(CHAIN_ID, quote))
    position = await start_recorder(temporal_client, worker, position_workflow_id(CHAIN_ID, quote))
    open_cid, close_cid = open_order_client_id(quote, 1), close_order_client_id(quote, 7, 1)

    await adapter.create_order(market("BTCUSDT", "buy", "0.01", open_cid))

    async def intent_filled() -> bool:
        return any(u.status == "closed" for u in await updates(intent))

    await eventually(intent_filled)
    got = await updates(intent)
    assert {u.client_order_id for u in got} == {open_cid} and all(u.source == "ws" for u in got)
    final = next(u for u in got if u.status == "closed")
    assert (
        Decimal(final.filled) == Decimal("0.01")
        and final.exchange_order_id
        and final.symbol == "BTC/USDT:USDT"
    )
    assert _lag_count() > lag_samples  # event-to-signal lag observed

    await adapter.create_order(market("BTCUSDT", "sell", "0.01", close_cid, reduce_only=True))

    async def position_filled() -> bool:
        return any(u.status == "closed" and u.reduce_only for u in await updates(position))

    await eventually(position_filled)
    assert all(u.client_order_id == close_cid for u in await updates(position))
    for handle in (intent, position):
        await handle.signal(BrokerUpdateRecorder.finish)


async def test_foreign_ids_and_missing_workflows_are_counted_not_fatal(
    temporal_client: Client, worker: str, monitor: OrderMonitor, adapter: BrokerAdapter
) -> None:
    await adapter.exchange.load_markets()
    await adapter.exchange.create_order(
        "BTC/USDT:USDT", "market", "buy", "0.01", None, {"clientOrderId": "manual-trade-1"}
    )
    orphan = open_order_client_id(new_quote_id(), 1)  # no workflow with this id
    await adapter.create_order(market("BTCUSDT", "buy", "0.01", orphan))

    async def counted() -> bool:
        return monitor.stats["foreign"] >= 1 and monitor.stats["no_workflow"] >= 1

    await eventually(counted)
    # still running: a later owned update is delivered
    quote = new_quote_id()
    intent = await start_recorder(temporal_client, worker, intent_workflow_id(CHAIN_ID, quote))
    await adapter.create_order(market("BTCUSDT", "buy", "0.01", open_order_client_id(quote, 1)))

    async def delivered() -> bool:
        return any(u.status == "closed" for u in await updates(intent))

    await eventually(delivered)
    await intent.signal(BrokerUpdateRecorder.finish)


async def test_reconnects_resubscribes_and_catches_up(
    temporal_client: Client,
    worker: str,
    monitor: OrderMonitor,
    adapter: BrokerAdapter,
    admin: ExchangeAdmin,
) -> None:
    quote = new_quote_id()
    intent = await start_recorder(temporal_client, worker, intent_workflow_id(CHAIN_ID, quote))
    resting = open_order_client_id(quote, 1)
    await adapter.create_order(limit("BTCUSDT", "buy", "0.01", "49000", resting))

    async def seen_open() -> bool:
        return any(u.status == "open" for u in await updates(intent))

    await eventually(seen_open)

    reconnects_before = RECONNECTS._value.get()
    await admin.disconnect_websockets(refuse=2)  # drop the stream, refuse the next two reconnects
    await admin.set_price("BTCUSDT", "48900")  # the resting order fills while we are disconnected

    async def caught_up() -> bool:
        return any(u.status == "closed" for u in await updates(intent))

    await eventually(caught_up, within=15)
    filled = next(u for u in await updates(intent) if u.status == "closed")
    assert (
        filled.source == "rest" and monitor.stats["caught_up"] >= 1
    )  # missed on the socket, re-read
    assert monitor.stats["reconnects"] >= 1 and RECONNECTS._value.get() > reconnects_before

    async def reconnected() -> bool:
        return int((await admin.state())["ws_connections"]) >= 1

    await eventually(reconnected, within=15)
    second = open_order_client_id(quote, 2)
    await adapter.create_order(market("BTCUSDT", "buy", "0.01", second))

    async def live_again() -> bool:
        return any(
            u.client_order_id == second and u.status == "closed" and u.source == "ws"
            for u in await updates(intent)
        )

    await eventually(live_again)
    await intent.signal(BrokerUpdateRecorder.finish)
