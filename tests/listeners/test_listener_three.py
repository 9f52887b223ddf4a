"""The three listeners (websocket, HTTP poller, subgraph fetcher) on the same chain: each one
alone delivers every event (the other two stopped), and all three together get every event
applied exactly once (recording workflows that dedupe by (block, tx, logIndex) as the hedge
workflows do), with one `chain_events` row per event and the duplicates suppressed."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest
from listener_helpers import (
    SOURCES,
    Chain,
    Subgraph,
    applications,
    consistent,
    eventually,
    expected_targets,
    key_mapper,
    listening,
    load_vectors,
    next_chain_id,
    received_keys,
    replay,
    vector_groups,
)
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from domain.subgraph_entities import stored_form
from workers.listeners.delivery import Delivery


def _delay(source: str) -> tuple[float, float]:
    total = REGISTRY.get_sample_value("hedger_listener_event_delay_seconds_sum", {"source": source})
    count = REGISTRY.get_sample_value(
        "hedger_listener_event_delay_seconds_count", {"source": source}
    )
    return total or 0.0, count or 0.0


@pytest.mark.parametrize("alone", SOURCES)
async def test_any_one_listener_alone_delivers_every_event(
    alone: str,
    chain: Chain,
    subgraph: Subgraph,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    temporal_client: Client,
) -> None:
    logs = load_vectors()["logs"]
    if alone == "subgraph":  # a subgraph stores one entity per action (no legacy twin)
        logs = [x for x in logs if stored_form(x["topics"][0])]
    subgraph.wait_head(chain.head())
    start, counter = chain.head() + 1, subgraph.state()["counter"]
    chain_id = next_chain_id()
    async with listening(
        (alone,), chain, subgraph, make_delivery, engine, chain_id, start, counter
    ):
        mapping = await asyncio.to_thread(replay, chain, vector_groups(load_vectors()["logs"]))
        chain.mine()
        expected = expected_targets(logs, chain_id, key_mapper(mapping))
        await eventually(
            lambda: consistent(temporal_client, expected), within=30, what=f"{alone} alone"
        )
    for wid, keys in expected.items():
        assert await received_keys(temporal_client, wid) == keys, wid  # no gap, no repeat


async def test_three_listeners_apply_every_event_exactly_once(
    chain: Chain,
    subgraph: Subgraph,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    temporal_client: Client,
) -> None:
    logs = load_vectors()["logs"]
    subgraph.wait_head(chain.head())
    start, counter = chain.head() + 1, subgraph.state()["counter"]
    chain_id = next_chain_id()
    delays = {s: _delay(s) for s in SOURCES}
    async with listening(
        SOURCES, chain, subgraph, make_delivery, engine, chain_id, start, counter
    ) as running:
        groups = vector_groups(logs)
        mapping: dict[tuple[str, int], tuple[str, int]] = {}
        for group in groups:  # one transaction a second: the listeners work as on a live chain
            mapping.update(await asyncio.to_thread(replay, chain, [group]))
            await asyncio.sleep(0.3)
        chain.mine()
        expected = expected_targets(logs, chain_id, key_mapper(mapping))
        await eventually(lambda: consistent(temporal_client, expected), within=30, what="all three")
        sub_keys = {
            mapping[(x["transactionHash"].lower(), x["logIndex"])]
            for x in logs
            if stored_form(x["topics"][0])
        }

        async def subgraph_done() -> bool:
            return running["subgraph"].stats["entities"] >= len(
                [k for keys in expected.values() for k in keys if k in sub_keys]
            )

        await eventually(subgraph_done, within=30, what="the subgraph's own round")
        stats = {s: x.delivery_.stats.counts for s, x in running.items()}

    signals: Counter[tuple[str, int]] = Counter()
    for wid, keys in expected.items():
        got = await received_keys(temporal_client, wid)
        signals.update(got)
        applied = await applications(temporal_client, wid)
        assert sorted(applied.values()) == [1] * len(keys), (wid, applied)  # exactly once
        assert {(k.split(":")[1], int(k.split(":")[2])) for k in applied} == set(keys)
    assert all(1 <= n <= 3 for n in signals.values()), signals
    async with engine.connect() as conn:
        per_key = (
            await conn.execute(
                text(
                    "SELECT tx_hash, log_index, count(*) AS n FROM chain_events "
                    "WHERE chain_id = :c GROUP BY tx_hash, log_index"
                ),
                {"c": chain_id},
            )
        ).all()
    routed = {k for keys in expected.values() for k in keys}
    assert {(r.tx_hash, r.log_index) for r in per_key} >= routed
    assert all(r.n == 1 for r in per_key)
    # every listener saw every event it could; what another had recorded was suppressed
    assert sum(s["duplicate"] for s in stats.values()) >= len(routed)
    for source, counts in stats.items():
        assert counts["seen"] >= (len(sub_keys & routed) if source == "subgraph" else len(routed))
    figures = {}
    for source in SOURCES:
        total, count = _delay(source)
        t0, c0 = delays[source]
        figures[source] = round((total - t0) / max(1.0, count - c0), 2)
    print(f"\nmean delay from block timestamp to delivery, seconds: {figures}")  # noqa: T201
    print(f"signals per event: {Counter(signals.values())}; stats: {stats}")  # noqa: T201
