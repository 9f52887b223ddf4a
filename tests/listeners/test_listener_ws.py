"""The websocket listener against a real anvil: streaming, reconnect after the node restarts
(same port, `--state`) with an eth_getLogs catch-up of what was mined meanwhile, and both
listeners (two instances each) running together on the same logs."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from listener_helpers import (
    Chain,
    all_received,
    eventually,
    expect_replayed,
    expected_targets,
    key_mapper,
    load_vectors,
    make_chain,
    next_chain_id,
    received_keys,
    replay,
    vector_groups,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from workers.listeners.cursor import CursorStore
from workers.listeners.delivery import Delivery, listened_topic0s
from workers.listeners.poller import LogPoller, PollerConfig
from workers.listeners.rpc import HttpRpc
from workers.listeners.ws import WsConfig, WsListener


@contextlib.asynccontextmanager
async def running(*runners: Any) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in runners]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)


def routed(logs: list[dict[str, Any]], keys: dict[tuple[str, int], Any]) -> list[dict[str, Any]]:
    topics = set(listened_topic0s())
    return [
        x
        for x in logs
        if (x["transactionHash"].lower(), x["logIndex"]) in keys and x["topics"][0] in topics
    ]


@pytest.fixture
def own_chain(tmp_path: Path, emitter_build: dict[str, Any]) -> Any:
    c = make_chain(tmp_path / "anvil", emitter_build)
    try:
        yield c
    finally:
        c.stop()


async def test_ws_reconnects_after_a_node_restart_and_catches_up(
    own_chain: Chain,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    temporal_client: Client,
) -> None:
    chain = own_chain
    logs = load_vectors()["logs"]
    groups = vector_groups(logs)
    chain_id = next_chain_id()
    delivery = make_delivery(chain_id)
    listener = WsListener(
        delivery,
        CursorStore(engine),
        WsConfig(
            chain_id=chain_id,
            address=chain.emitter,
            url=chain.ws_url,
            start_block=chain.head() + 1,
            initial_backoff=3.0,
            cursor_every=0.0,
        ),
    )
    async with running(listener):
        await asyncio.wait_for(listener.subscribed.wait(), 10)
        before = replay(chain, groups[:6])
        exp1 = expected_targets(
            [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in before],
            chain_id,
            key_mapper(before),
        )
        await eventually(lambda: all_received(temporal_client, exp1), what="streamed logs")
        assert listener.stats["streamed"] == len(routed(logs, before))
        assert listener.stats["caught_up"] == 0

        chain.restart()  # the socket drops; the listener waits out its backoff
        after = replay(chain, groups[6:])  # mined while the listener is away
        everything = {**before, **after}
        exp_all = expected_targets(logs, chain_id, key_mapper(everything))
        await eventually(
            lambda: all_received(temporal_client, exp_all), within=30, what="caught-up logs"
        )
        assert listener.connections == 2
        assert listener.stats["reconnects"] == 1
        # the missed logs came from the catch-up, not the new subscription; it re-read the
        # block behind its cursor too, and those were recognised as already delivered
        n_before, n_after = len(routed(logs, before)), len(routed(logs, after))
        counts = (dict(listener.stats), dict(delivery.stats.counts))
        assert listener.stats["streamed"] == n_before, counts
        assert listener.stats["caught_up"] >= n_after, counts
        assert delivery.stats.counts["duplicate"] == listener.stats["caught_up"] - n_after, counts
        assert delivery.stats.counts["delivered"] == n_before + n_after, counts

        # and it streams again after the catch-up
        extra = next(x for x in logs if x["event"] == "LockQuote")
        (tx,) = chain.emit([[(extra["topics"], extra["data"])]])
        wid = f"intent-{chain_id}-{int(extra['args']['quoteId'])}"
        await eventually(
            lambda: _has(temporal_client, wid, (tx, 0)), what="streamed after reconnect"
        )
    for wid, keys in exp_all.items():
        got = await received_keys(temporal_client, wid)
        assert [k for k in got if k in keys] == keys, wid  # once each, in order
    cursor = await CursorStore(engine).get(f"ws-{chain_id}")
    assert cursor is not None and cursor >= chain.head() - 1


async def _has(client: Client, wid: str, key: tuple[str, int]) -> bool:
    return key in await received_keys(client, wid)


async def test_both_listeners_twice_each_deliver_every_log_once_per_key(
    chain: Chain,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    temporal_client: Client,
) -> None:
    logs = load_vectors()["logs"]
    chain_id = next_chain_id()
    start = chain.head() + 1
    cursors = CursorStore(engine)
    rpcs = [HttpRpc([chain.http_url]), HttpRpc([chain.http_url])]
    pollers = [
        LogPoller(
            rpc,
            make_delivery(chain_id),
            cursors,
            PollerConfig(
                chain_id=chain_id,
                address=chain.emitter,
                start_block=start,
                interval=0.2,
                batch_blocks=4,
                name=f"poll-{chain_id}-{i}",
            ),
        )
        for i, rpc in enumerate(rpcs)
    ]
    listeners = [
        WsListener(
            make_delivery(chain_id),
            cursors,
            WsConfig(
                chain_id=chain_id,
                address=chain.emitter,
                url=chain.ws_url,
                start_block=start,
                name=f"ws-{chain_id}-{i}",
            ),
        )
        for i in range(2)
    ]
    async with running(*pollers, *listeners):
        for w in listeners:
            await asyncio.wait_for(w.subscribed.wait(), 10)
        mapping = replay(chain, vector_groups(logs))
        chain.mine()  # confirm the last block for the pollers
        expected = expected_targets(logs, chain_id, key_mapper(mapping))
        await eventually(lambda: all_received(temporal_client, expected), what="all logs")
        n = len(routed(logs, mapping))
        await eventually(
            lambda: _all_seen([*pollers, *listeners], n), what="every listener saw every log"
        )
    for wid, keys in expected.items():
        got = Counter(await received_keys(temporal_client, wid))
        assert set(got) == set(keys), wid
        assert all(1 <= c <= 4 for c in got.values()), got
        runs = [w async for w in temporal_client.list_workflows(f"WorkflowId = '{wid}'")]
        assert len(runs) == 1, wid
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT source, count(*) AS c FROM chain_events WHERE chain_id = :c GROUP BY source"
                ),
                {"c": chain_id},
            )
        ).all()
    assert sum(r.c for r in rows) == n  # one record per log, whoever was first
    assert {r.source for r in rows} <= {"ws", "poll"}
    for rpc in rpcs:
        await rpc.close()


async def _all_seen(runners: list[Any], n: int) -> bool:
    return all(r.delivery.stats.counts["seen"] >= n for r in runners)


async def test_ws_resubscribes_after_a_killed_socket_and_a_silent_subscription(
    chain: Chain,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    temporal_client: Client,
) -> None:
    from prometheus_client import REGISTRY
    from ws_proxy import WsProxy

    logs = load_vectors()["logs"]
    groups = vector_groups(logs)
    chain_id = next_chain_id()
    proxy = await WsProxy(chain.ws_url).start()
    delivery = make_delivery(chain_id)
    listener = WsListener(
        delivery,
        CursorStore(engine),
        WsConfig(
            chain_id=chain_id,
            address=chain.emitter,
            url=proxy.url,
            start_block=chain.head() + 1,
            initial_backoff=0.1,
            idle_check=0.5,
            source="ws-proxied",
        ),
    )

    def stale_count() -> float:
        labels = {"source": "ws-proxied", "reason": "stale"}
        return REGISTRY.get_sample_value("hedger_listener_ws_reconnects_total", labels) or 0.0

    stale_before = stale_count()
    try:
        async with running(listener):
            await asyncio.wait_for(listener.subscribed.wait(), 10)
            part1 = replay(chain, groups[:4])
            exp1 = expect_replayed(logs, chain_id, part1)
            await eventually(lambda: all_received(temporal_client, exp1), what="part 1")

            await proxy.kill()  # the socket dies under the listener
            await eventually(lambda: _reconnected(listener, 1), what="reconnect after kill")
            part2 = replay(chain, groups[4:9])

            await eventually(
                lambda: all_received(temporal_client, expect_replayed(logs, chain_id, part2)),
                what="part 2",
            )
            await asyncio.wait_for(listener.subscribed.wait(), 10)
            streamed = listener.stats["streamed"]
            proxy.mute_open()  # the socket stays up, notifications stop
            part3 = replay(chain, groups[9:])  # several blocks: the head moves on
            everything = {**part1, **part2, **part3}
            expected = expected_targets(logs, chain_id, key_mapper(everything))
            await eventually(
                lambda: all_received(temporal_client, expected), within=20, what="part 3"
            )
            assert listener.stats["streamed"] == streamed  # part 3 came from the catch-up
            assert listener.stats["caught_up"] >= len(routed(logs, part3))
            assert stale_count() - stale_before == 1
            assert listener.connections == 3
    finally:
        await proxy.stop()
    for wid, keys in expected.items():
        got = await received_keys(temporal_client, wid)
        assert got == keys, wid  # exactly once each: re-reads were recognised as delivered


async def _reconnected(listener: WsListener, n: int) -> bool:
    return bool(listener.stats["reconnects"] >= n and listener.subscribed.is_set())
