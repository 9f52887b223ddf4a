"""The eth_getLogs poller against a real anvil (the real protocol-core logs re-emitted by a log
emitter contract), the real Postgres cursor and the real Temporal dev server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_typing import HexStr
from listener_helpers import (
    Chain,
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
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client

from devnet.stack.process import free_port
from workers.listeners.cursor import CursorStore
from workers.listeners.delivery import Delivery, listened_topic0s
from workers.listeners.poller import LogPoller, PollerConfig
from workers.listeners.rpc import HttpRpc, RpcError, find_deployment_block, redact_url


def poller(
    chain: Chain, delivery: Delivery, engine: AsyncEngine, chain_id: int, **kwargs: Any
) -> tuple[LogPoller, HttpRpc]:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: every call falls back
    rpc = HttpRpc([dead, chain.http_url], timeout=5)
    config = PollerConfig(chain_id=chain_id, address=chain.emitter, **kwargs)
    return LogPoller(rpc, delivery, CursorStore(engine), config), rpc


async def test_poller_cursor_survives_a_restart(
    chain: Chain,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    temporal_client: Client,
) -> None:
    logs = load_vectors()["logs"]
    groups = vector_groups(logs)
    chain_id = next_chain_id()
    start = chain.head() + 1
    first, second = groups[:9], groups[9:]
    mapping = replay(chain, first)
    expected = expected_targets(
        [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in mapping],
        chain_id,
        key_mapper(mapping),
    )
    d1 = make_delivery(chain_id)
    p1, rpc1 = poller(
        chain, d1, engine, chain_id, start_block=start, batch_blocks=3, rescan_blocks=2
    )
    await p1.poll_once()
    head = chain.head()
    assert p1.cursor == head - 1  # one confirmation: the newest block waits
    # the last replayed transaction (LockQuote of quote 3) is in the unconfirmed head block
    last_key = mapping[(first[-1][0].lower(), 0)]
    wid3 = f"intent-{chain_id}-3"
    assert last_key in expected[wid3]
    almost = {w: [k for k in keys if k != last_key] for w, keys in expected.items()}
    await eventually(lambda: all_received(temporal_client, almost), what="confirmed logs")
    assert last_key not in await received_keys(temporal_client, wid3)
    chain.mine()
    await p1.poll_once()
    assert p1.cursor == head
    assert REGISTRY.get_sample_value("hedger_listener_lag_blocks", {"source": "poll"}) == 1
    assert REGISTRY.get_sample_value("hedger_listener_cursor_block", {"source": "poll"}) == head
    await eventually(lambda: all_received(temporal_client, expected), what="first half")
    assert REGISTRY.get_sample_value(
        "hedger_listener_rpc_errors_total",
        {"url": redact_url(rpc1.urls[0]), "method": "eth_getBlockByNumber"},
    )
    await rpc1.close()
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT block_number FROM listener_cursors WHERE name = :n"),
                {"n": f"poll-{chain_id}"},
            )
        ).scalar_one()
    assert stored == head

    # "restart": a new process (fresh delivery, rpc, poller) with the same cursor name
    mapping2 = replay(chain, second)
    chain.mine()
    d2 = make_delivery(chain_id)
    p2, rpc2 = poller(
        chain, d2, engine, chain_id, start_block=start, batch_blocks=3, rescan_blocks=2
    )
    await p2.poll_once()
    await rpc2.close()
    window = {head - 1, head}  # the re-scan window behind the stored cursor
    w3 = chain.w3()
    routed_first = [
        key
        for x in logs
        if (key := (x["transactionHash"].lower(), x["logIndex"])) in mapping
        and x["topics"][0] in listened_topic0s()
    ]
    in_window_count = sum(
        1
        for k in routed_first
        if w3.eth.get_transaction(HexStr(mapping[k][0]))["blockNumber"] in window
    )
    new_logs = [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in mapping2]
    new_routed = [x for x in new_logs if x["topics"][0] in listened_topic0s()]
    assert d2.stats.counts["seen"] == in_window_count + len(new_routed)  # nothing older re-read
    assert d2.stats.counts["duplicate"] == in_window_count  # re-delivery skipped (harmless)
    assert in_window_count >= 1

    everything = {**mapping, **mapping2}
    expected_all = expected_targets(
        [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in everything],
        chain_id,
        key_mapper(everything),
    )
    assert expected_all == expected_targets(logs, chain_id, key_mapper(everything))
    await eventually(lambda: all_received(temporal_client, expected_all), what="second half")
    for wid, keys in expected_all.items():
        assert await received_keys(temporal_client, wid) == keys, wid  # no gap, no repeat


async def test_postgres_away_never_holds_a_delivery_and_malformed_logs_do_not_stop_it(
    chain: Chain,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    temporal_client: Client,
    database_url: str,
) -> None:
    logs = load_vectors()["logs"]
    send = next(x for x in logs if x["event"] == "SendQuote" and x["args"]["quoteId"] == "1")
    lock = next(x for x in logs if x["event"] == "LockQuote" and x["args"]["quoteId"] == "1")
    opened = next(x for x in logs if x["event"] == "OpenPosition" and x["args"]["quoteId"] == "1")
    chain_id = next_chain_id()
    start = chain.head() + 1
    tx1, tx2 = chain.emit(
        [
            [
                (send["topics"], send["data"]),
                (send["topics"], send["data"][:200]),  # truncated SendQuote
                (lock["topics"], lock["data"]),
            ],
            [(opened["topics"], opened["data"])],
        ]
    )
    chain.mine()

    # Postgres away: every valid log still reaches its workflow and the cursor moves on; the
    # chain_events rows wait in memory until the database is back.
    broken_engine = create_async_engine(database_url.rsplit("/", 1)[0] + "/no_such_database")
    wid = f"intent-{chain_id}-1"
    want = [(tx1, 0), (tx1, 2), (tx2, 0)]
    try:
        broken = Delivery(
            make_delivery(chain_id).client,
            broken_engine,
            chain_id=chain_id,
            our_party_b=make_delivery(chain_id).our_party_b,
            task_queue=make_delivery(chain_id).task_queue,
        )
        p0, rpc0 = poller(chain, broken, engine, chain_id, start_block=start)
        await p0.poll_once()
        await rpc0.close()
        await eventually(lambda: all_received(temporal_client, {wid: want}), what="valid logs")
        assert p0.cursor == chain.head() - 1
        assert broken._unrecorded, "nothing was kept for the ledger"
        broken.engine, broken._retry_at = engine, 0.0  # the database is back
        await broken._flush_unrecorded()
        assert not broken._unrecorded
    finally:
        await broken_engine.dispose()

    delivery = make_delivery(chain_id)
    p, rpc = poller(chain, delivery, engine, chain_id, start_block=start)
    await p.poll_once()
    await rpc.close()
    assert p.cursor == chain.head() - 1
    assert delivery.stats.counts["undecodable"] == 1
    await eventually(lambda: all_received(temporal_client, {wid: want}), what="valid logs")
    # the SendQuote started it; with the skipped malformed log in between, nothing is lost
    got = await received_keys(temporal_client, wid)
    assert set(got) == set(want)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT tx_hash, log_index, name FROM chain_events WHERE chain_id = :c "
                    "ORDER BY block_number, log_index"
                ),
                {"c": chain_id},
            )
        ).all()
    assert [(r.tx_hash, r.log_index, r.name) for r in rows] == [
        (tx1, 0, "SendQuote"),
        (tx1, 1, "UNDECODABLE"),
        (tx1, 2, "LockQuote"),
        (tx2, 0, "OpenPosition"),
    ]


async def test_start_block_defaults_to_the_deployment_block(
    chain: Chain, make_delivery: Callable[..., Delivery], engine: AsyncEngine
) -> None:
    async with HttpRpc([chain.http_url]) as rpc:
        head = await rpc.block_number()
        deployed = await find_deployment_block(rpc, chain.emitter, head)
        assert deployed == 1  # the emitter was the fresh chain's first transaction
        assert await find_deployment_block(rpc, "0x" + "11" * 20, head) is None
        chain_id = next_chain_id()
        p = LogPoller(
            rpc,
            make_delivery(chain_id),
            CursorStore(engine),
            PollerConfig(chain_id=chain_id, address=chain.emitter),
        )
        await p.start()
        assert p.position == deployed - 1


async def test_rpc_fallback_never_logs_a_key_from_a_url(
    chain: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v2/secret-api-key-123"
    async with HttpRpc([dead, chain.http_url], timeout=5) as rpc:
        assert await rpc.block_number() == chain.head()
        assert rpc.urls[rpc._preferred] == chain.http_url  # later calls go straight there
    async with HttpRpc([dead], timeout=5) as only_dead:
        with pytest.raises(RpcError) as failed:
            await only_dead.block_number()
    assert "secret-api-key-123" not in str(failed.value)
    assert "secret-api-key-123" not in caplog.text
    assert redact_url(dead) in caplog.text
