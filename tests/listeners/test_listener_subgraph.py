"""The subgraph fetcher against the local indexer (`hedger devnet subgraph`, a real GraphQL
server in its own process) indexing a real anvil that carries the real protocol-core logs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
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
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from devnet.stack.process import free_port
from domain.subgraph_entities import collection_field, entity_fields, stored_form
from workers.listeners.cursor import CursorStore
from workers.listeners.delivery import Delivery
from workers.listeners.subgraph import (
    SubgraphClient,
    SubgraphConfig,
    SubgraphListener,
    build_query,
    routed_entities,
)

# Facts from SYMM-IO/subgraphs events/schema.graphql: the fields of the entities the fetcher
# reads (event parameters + the fields every entity has).
COMMON = {
    "id", "counterId", "blockNumber", "blockTimestamp", "transactionHash",
    "transactionLogIndex", "logIndex", "blockHash",
}  # fmt: skip
REAL_FIELDS = {
    "SendQuote": {"cva", "deadline", "lf", "marketPrice", "orderType", "partyA", "partyAmm",
                  "partyBmm", "partyBsWhiteList", "positionType", "price", "quantity",
                  "quoteId", "symbolId", "tradingFee"},
    "LockQuote": {"partyB", "quoteId"},
    "UnlockQuote": {"partyB", "quoteId", "quoteStatus"},
    "RequestToCancelQuote": {"partyA", "partyB", "quoteId", "quoteStatus"},
    "AcceptCancelRequest": {"quoteId", "quoteStatus"},
    "ExpireQuoteOpen": {"quoteId", "quoteStatus"},
    "ExpireQuoteClose": {"closeId", "quoteId", "quoteStatus"},
    "ForceCancelQuote": {"quoteId", "quoteStatus"},
    "OpenPosition": {"filledAmount", "openedPrice", "partyA", "partyB", "quoteId"},
    "RequestToClosePosition": {"closeId", "closePrice", "deadline", "orderType", "partyA",
                               "partyB", "quantityToClose", "quoteId", "quoteStatus"},
    "RequestToCancelCloseRequest": {"closeId", "partyA", "partyB", "quoteId", "quoteStatus"},
    "FillCloseRequest": {"closeId", "closedPrice", "filledAmount", "partyA", "partyB",
                         "quoteId", "quoteStatus"},
    "AcceptCancelCloseRequest": {"closeId", "quoteId", "quoteStatus"},
    "ForceCancelCloseRequest": {"closeId", "quoteId", "quoteStatus"},
    "EmergencyClosePosition": {"closeId", "closedPrice", "filledAmount", "partyA", "partyB",
                               "quoteId", "quoteStatus"},
    "ForceClosePosition": {"closeId", "closedPrice", "filledAmount", "partyA", "partyB",
                           "quoteId", "quoteStatus"},
    "LiquidatePendingPositionsPartyA": {"liquidatedAmounts", "liquidationId", "liquidator",
                                        "partyA", "quoteIds"},
    "LiquidatePositionsPartyA": {"closeIds", "liquidatedAmounts", "liquidationId",
                                 "liquidator", "partyA", "quoteIds"},
    "LiquidatePositionsPartyB": {"closeIds", "liquidatedAmounts", "liquidator", "partyA",
                                 "partyB", "quoteIds"},
}  # fmt: skip
REAL_TYPES = {"quoteStatus": "Int!", "orderType": "Int!", "positionType": "Int!",
              "quoteId": "BigInt!", "partyB": "Bytes!", "partyBsWhiteList": "[Bytes!]",
              "quoteIds": "[BigInt!]", "liquidationId": "Bytes!"}  # fmt: skip


def test_the_fetched_entities_are_the_real_schemas() -> None:
    assert set(routed_entities()) == set(REAL_FIELDS)
    for name, params in REAL_FIELDS.items():
        fields = dict(entity_fields(name))
        assert set(fields) == params | COMMON, name
        for field, gql in REAL_TYPES.items():
            if field in fields:
                assert fields[field] == gql, (name, field)
    query = build_query(["SendQuote"], 1000)
    assert "sendQuotes(first: 1000, orderBy: counterId, orderDirection: asc" in query
    assert "where: {counterId_gt: $after}" in query
    assert collection_field("LiquidatePositionsPartyA") == "liquidatePositionsPartyAs"


async def test_rebuilt_logs_are_the_chains_byte_for_byte(chain: Chain, subgraph: Subgraph) -> None:
    logs = load_vectors()["logs"]
    mapping = replay(chain, vector_groups(logs))
    subgraph.wait_head(chain.head())
    client = SubgraphClient([f"http://127.0.0.1:{free_port()}/dead", subgraph.url])
    try:
        wanted = {tx for tx, _ in mapping.values()}
        on_chain = [
            x
            for x in chain.node.rpc(
                "eth_getLogs", [{"address": chain.emitter, "fromBlock": "0x0", "toBlock": "latest"}]
            )
            if x["transactionHash"].lower() in wanted
        ]
        stored = [x for x in on_chain if stored_form(x["topics"][0])]
        assert 0 < len(stored) < len(on_chain)  # the legacy twins get no entity
        listener = SubgraphListener(
            client, None, None, SubgraphConfig(chain_id=1, address=chain.emitter), entities=None
        )  # type: ignore[arg-type]
        listener.cursor = 0
        _, entities = await listener._fetch()
        from domain.subgraph_entities import log_from_entity

        rebuilt = {
            (r["transactionHash"], r["logIndex"]): r
            for r in (log_from_entity(n, e, chain.emitter) for n, e in entities)
            if r["transactionHash"] in wanted
        }
        routed = [x for x in stored if x["topics"][0] in {t for t in listener.topics0}]
        assert len(rebuilt) == len(routed) > 10
        for x in routed:
            got = rebuilt[(x["transactionHash"].lower(), int(x["logIndex"], 16))]
            assert got["topics"] == [t.lower() for t in x["topics"]]
            assert got["data"] == x["data"].lower()
            assert got["blockNumber"] == int(x["blockNumber"], 16)
            assert got["blockHash"] == x["blockHash"].lower()
        counters = [int(e["counterId"]) for _, e in entities]
        assert counters == sorted(counters) and len(set(counters)) == len(counters)
        assert client.health.entries[0].failures >= 1  # the dead endpoint was tried, then rested
    finally:
        await client.close()


def _subgraph_listener(
    subgraph: Subgraph, delivery: Delivery, engine: AsyncEngine, chain: Chain, chain_id: int,
    **kwargs: Any,
) -> tuple[SubgraphListener, SubgraphClient]:  # fmt: skip
    client = SubgraphClient([f"http://127.0.0.1:{free_port()}/dead", subgraph.url], timeout=5)
    config = SubgraphConfig(chain_id=chain_id, address=chain.emitter, urls=[], **kwargs)
    return SubgraphListener(client, delivery, CursorStore(engine), config), client


async def test_subgraph_alone_delivers_everything_and_resumes_from_its_cursor(
    chain: Chain,
    subgraph: Subgraph,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    temporal_client: Client,
) -> None:
    every = load_vectors()["logs"]
    logs = [x for x in every if stored_form(x["topics"][0])]  # what a subgraph stores
    groups = vector_groups(every)
    chain_id = next_chain_id()
    subgraph.wait_head(chain.head())
    start = subgraph.state()["counter"]
    mapping = replay(chain, groups[:9])
    chain.mine()
    subgraph.wait_head(chain.head())
    listener, client = _subgraph_listener(
        subgraph, make_delivery(chain_id), engine, chain, chain_id,
        confirmations=1, reorg_window=4, start_counter=start,
    )  # fmt: skip
    await listener.poll_once()
    await client.close()
    expected = expected_targets(
        [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in mapping],
        chain_id,
        key_mapper(mapping),
    )
    await eventually(lambda: all_received(temporal_client, expected), what="subgraph deliveries")
    first_cursor = listener.cursor
    assert first_cursor and first_cursor > 0  # the counterId below the window

    # a new process: resumes from the stored counterId, re-reads only the window
    mapping2 = replay(chain, groups[9:])
    chain.mine()
    subgraph.wait_head(chain.head())
    d2 = make_delivery(chain_id)
    again, client2 = _subgraph_listener(
        subgraph, d2, engine, chain, chain_id, confirmations=1, reorg_window=4
    )
    await again.poll_once()
    await client2.close()
    assert again.stats["entities"] < len(logs)  # resumed from the cursor: not everything again
    everything = {**mapping, **mapping2}
    expected_all = expected_targets(logs, chain_id, key_mapper(everything))
    await eventually(lambda: all_received(temporal_client, expected_all), what="second half")
    for wid, keys in expected_all.items():
        assert await received_keys(temporal_client, wid) == keys, wid  # once each, in order
    assert d2.stats.counts["duplicate"] >= 1  # the window's re-deliveries


async def test_graphql_errors_and_limits_are_graph_nodes(subgraph: Subgraph) -> None:
    async with httpx.AsyncClient() as http:
        bad = (
            await http.post(subgraph.url, json={"query": "{ sendQuotes(first: 5000) { id } }"})
        ).json()
        assert "errors" in bad and "first" in bad["errors"][0]["message"]
        meta = (
            await http.post(subgraph.url, json={"query": "{ _meta { block { number hash } } }"})
        ).json()
        assert meta["data"]["_meta"]["block"]["number"] >= 0
