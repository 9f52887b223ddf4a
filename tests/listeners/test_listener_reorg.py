"""Reorgs on a real anvil (`anvil_reorg`, `evm_snapshot`/`evm_revert`) of blocks that carry the
real protocol-core logs: every listener detects it by block hash, tells the workflows what was
removed (``ChainLog.removed``), marks the `chain_events` rows, delivers the surviving chain's
events — and the consumers (recording workflows that apply events as the hedge workflows must)
end holding exactly the surviving chain's events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from listener_helpers import (
    SOURCES,
    Chain,
    Subgraph,
    caught_up,
    consistent,
    emit_request,
    eventually,
    expected_targets,
    key_mapper,
    listening,
    load_vectors,
    next_chain_id,
    replay,
    vector_groups,
)
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from domain.subgraph_entities import stored_form
from workers.listeners.delivery import Delivery


async def rows(engine: AsyncEngine, chain_id: int) -> dict[tuple[str, int], dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT tx_hash, log_index, payload FROM chain_events WHERE chain_id = :c"),
            {"c": chain_id},
        )
        return {(r.tx_hash, r.log_index): r.payload for r in result}


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _setup(chain: Chain, subgraph: Subgraph) -> tuple[list[Any], int, int]:
    logs = load_vectors()["logs"]
    groups = vector_groups(logs)
    picked = [groups[0], groups[2], groups[3], groups[6]]  # SendQuote, Lock, Open, close request
    subgraph.wait_head(chain.head())
    return picked, chain.head() + 1, subgraph.state()["counter"]


@pytest.mark.parametrize("source", SOURCES)
async def test_anvil_reorg_is_detected_and_consumers_follow_the_surviving_chain(
    source: str,
    chain: Chain,
    subgraph: Subgraph,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    temporal_client: Client,
) -> None:
    """One listener alone (the other two stopped) rides out a 2-block reorg: the OpenPosition
    and the close request it had delivered vanish; the close request is re-mined elsewhere."""
    logs = load_vectors()["logs"]
    keep = (lambda x: stored_form(x["topics"][0])) if source == "subgraph" else (lambda x: True)
    picked, start, counter = _setup(chain, subgraph)
    chain_id = next_chain_id()
    mapping = replay(chain, picked)
    before = expected_targets(
        [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in mapping and keep(x)],
        chain_id,
        key_mapper(mapping),
    )
    reorgs_before = metric("hedger_listener_reorgs_total", source=source)
    async with listening(
        (source,), chain, subgraph, make_delivery, engine, chain_id, start, counter
    ) as running:
        await eventually(lambda: consistent(temporal_client, before), what="before the reorg")

        # replace the last two blocks (OpenPosition, RequestToClosePosition ×2); the close
        # request's logs are re-mined by a new transaction in the first replacement block
        w3 = chain.w3()
        fork = chain.head() - 2
        nonce = w3.eth.get_transaction_count(w3.eth.accounts[0], fork)
        close_logs = picked[3][1]
        chain.node.rpc("anvil_reorg", [2, [[emit_request(chain, close_logs, nonce), 0]]])
        chain.mine()
        new_block = w3.eth.get_block(fork + 1, full_transactions=True)
        new_tx = "0x" + bytes(new_block["transactions"][0]["hash"]).hex()
        survivors = {
            **{
                k: v
                for k, v in mapping.items()
                if k[0] in (picked[0][0].lower(), picked[1][0].lower())
            }
        }
        for i, log in enumerate(close_logs):
            survivors[(picked[3][0].lower(), int(log["logIndex"]))] = (new_tx, i)
        after = expected_targets(
            [
                x
                for x in logs
                if (x["transactionHash"].lower(), x["logIndex"]) in survivors and keep(x)
            ],
            chain_id,
            key_mapper(survivors),
        )
        after.setdefault(f"intent-{chain_id}-1", [])
        await eventually(
            lambda: consistent(temporal_client, after), within=30, what="after the reorg"
        )
        delivery = running[source].delivery_
        assert delivery.stats.counts["removed"] >= 2  # OpenPosition and the close request(s)

    assert metric("hedger_listener_reorgs_total", source=source) > reorgs_before
    recorded = await rows(engine, chain_id)
    gone = [
        mapping[(picked[2][0].lower(), 0)],
        *(mapping[(picked[3][0].lower(), int(x["logIndex"]))] for x in close_logs if keep(x)),
    ]
    for key in gone:
        assert recorded[key]["removed"] is True, key
        assert recorded[key]["removed_by"] == source
    for key in {k for keys in after.values() for k in keys}:
        assert recorded[key]["removed"] is False, key


async def test_evm_revert_with_all_three_listeners(
    chain: Chain,
    subgraph: Subgraph,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    temporal_client: Client,
) -> None:
    """A snapshot revert drops three blocks; other transactions take their heights. All three
    listeners detect it; every removal reaches the workflows once as applied state says."""
    logs = load_vectors()["logs"]
    picked, start, counter = _setup(chain, subgraph)
    chain_id = next_chain_id()
    first = replay(chain, picked[:1])
    snapshot = chain.node.rpc("evm_snapshot")
    doomed = replay(chain, picked[1:])
    mapping = {**first, **doomed}
    before = expected_targets(
        [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in mapping],
        chain_id,
        key_mapper(mapping),
    )
    reorgs = {s: metric("hedger_listener_reorgs_total", source=s) for s in SOURCES}
    async with listening(
        SOURCES, chain, subgraph, make_delivery, engine, chain_id, start, counter
    ) as running:
        await eventually(lambda: consistent(temporal_client, before), what="before the revert")
        # each listener must have delivered the doomed blocks itself, or it has nothing to take
        # back (another listener's deliveries satisfy `consistent` alone)
        head = chain.head()
        await eventually(lambda: caught_up(running, head), what="every listener at the head")
        assert chain.node.rpc("evm_revert", [snapshot]) is True
        # the lock is mined again (new tx, new block hash); the open and close never happen
        again = replay(chain, picked[1:2])
        chain.mine(4)
        survivors = {**first, **again}
        after = expected_targets(
            [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in survivors],
            chain_id,
            key_mapper(survivors),
        )
        after[f"position-{chain_id}-1"] = []
        await eventually(
            lambda: consistent(temporal_client, after), within=30, what="after the revert"
        )
        await asyncio.sleep(1.5)  # every listener has had rounds to see it
        removed = sum(x.delivery_.stats.counts["removed"] for x in running.values())
        assert removed >= 3  # OpenPosition, two close requests: told at least once
    for source in SOURCES:
        assert metric("hedger_listener_reorgs_total", source=source) > reorgs[source], source
    recorded = await rows(engine, chain_id)
    # a re-mined identical transaction has the same hash: the same event, kept (its new block
    # hash recorded); everything else of the reverted blocks is marked removed
    routed = {k for keys in before.values() for k in keys}
    for key in routed & (set(doomed.values()) - set(survivors.values())):
        assert recorded[key]["removed"] is True, key
    for key in routed & set(survivors.values()):
        assert recorded[key]["removed"] is False, key
