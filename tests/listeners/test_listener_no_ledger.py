"""A listener (re)started while Postgres is away cannot read its cursor: it must not wait for
the ledger (Postgres never holds a delivery up). It starts live a few blocks behind the head,
delivers at once, writes no cursor, and when the ledger is back it delivers what lay between
the stored cursor and its live start, then writes the cursor again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from listener_helpers import (
    Chain,
    Subgraph,
    all_received,
    eventually,
    expected_targets,
    key_mapper,
    load_vectors,
    next_chain_id,
    received_keys,
    replay,
    vector_groups,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client

from domain.subgraph_entities import stored_form
from workers.listeners.cursor import CursorStore
from workers.listeners.delivery import Delivery
from workers.listeners.poller import LogPoller, PollerConfig
from workers.listeners.rpc import HttpRpc
from workers.listeners.subgraph import SubgraphClient, SubgraphConfig, SubgraphListener
from workers.listeners.ws import WsConfig, WsListener


@pytest.fixture
async def broken_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url.rsplit("/", 1)[0] + "/no_such_database")
    try:
        yield engine
    finally:
        await engine.dispose()


async def _stored(engine: AsyncEngine, name: str) -> int | None:
    async with engine.connect() as conn:
        value = (
            await conn.execute(
                text("SELECT block_number FROM listener_cursors WHERE name = :n"), {"n": name}
            )
        ).scalar()
    return None if value is None else int(value)


@pytest.mark.parametrize("source", ["poll", "ws", "subgraph"])
async def test_a_listener_started_without_the_ledger_delivers_then_backfills(
    source: str,
    chain: Chain,
    subgraph: Subgraph,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    broken_engine: AsyncEngine,
    temporal_client: Client,
) -> None:
    import asyncio

    every = load_vectors()["logs"]
    logs = [x for x in every if stored_form(x["topics"][0])] if source == "subgraph" else every
    groups = vector_groups(every)
    chain_id = next_chain_id()
    name = f"{source}-{chain_id}"
    subgraph.wait_head(chain.head())
    stored = subgraph.state()["counter"] if source == "subgraph" else chain.head()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO listener_cursors (name, chain_id, block_number, updated_at) "
                "VALUES (:n, :c, :b, now())"
            ),
            {"n": name, "c": chain_id, "b": stored},
        )
    early = replay(chain, groups[:8])  # mined while the listener was down
    chain.mine(15)
    subgraph.wait_head(chain.head())

    good = make_delivery(chain_id)
    delivery = Delivery(
        good.client, broken_engine, chain_id=chain_id, our_party_b=good.our_party_b,
        task_queue=good.task_queue,
    )  # fmt: skip
    cursors = CursorStore(broken_engine)
    closers = []
    runner: LogPoller | WsListener | SubgraphListener
    if source == "poll":
        rpc = HttpRpc([chain.http_url], probe_seconds=0)
        closers.append(rpc.close)
        runner = LogPoller(
            rpc, delivery, cursors,
            PollerConfig(chain_id=chain_id, address=chain.emitter, confirmations=0,
                         rescan_blocks=5, interval=0.2),
        )  # fmt: skip
    elif source == "ws":
        runner = WsListener(
            delivery, cursors,
            WsConfig(chain_id=chain_id, address=chain.emitter, url=chain.ws_url, rescan_blocks=5),
        )  # fmt: skip
    else:
        client = SubgraphClient([subgraph.url])
        closers.append(client.close)
        runner = SubgraphListener(
            client, delivery, cursors,
            SubgraphConfig(chain_id=chain_id, address=chain.emitter, confirmations=0,
                           interval=0.2, reorg_window=5),
        )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.sleep(1.5)  # started, live, with the ledger away
        late = await asyncio.to_thread(replay, chain, groups[8:])
        await asyncio.to_thread(chain.mine)
        expected_late = expected_targets(
            [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in late],
            chain_id,
            key_mapper(late),
        )
        await eventually(
            lambda: all_received(temporal_client, expected_late), what="live deliveries"
        )
        early_keys = {
            early[(x["transactionHash"].lower(), x["logIndex"])]
            for x in logs
            if (x["transactionHash"].lower(), x["logIndex"]) in early
        }
        for wid in expected_late:
            assert not early_keys & set(await received_keys(temporal_client, wid)), wid
        assert await _stored(engine, name) == stored  # no cursor written while it is live

        cursors.engine = engine  # the ledger is back
        delivery.engine, delivery._retry_at = engine, 0.0
        everything = {**early, **late}
        expected_all = expected_targets(
            [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in everything],
            chain_id,
            key_mapper(everything),
        )
        await eventually(
            lambda: all_received(temporal_client, expected_all), within=30, what="backfill"
        )

        async def cursor_moved() -> bool:
            value = await _stored(engine, name)
            return value is not None and value > stored

        await eventually(cursor_moved, within=30, what="cursor written again")
    finally:
        stop.set()
        await task
        for close in closers:
            await close()
