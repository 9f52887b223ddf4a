"""Health scoring of RPC endpoints (`adapters.chain.health`), and the listeners and the chain
client riding out a dead and a lagging endpoint: a real lagging JSON-RPC node (a relay in
front of anvil that answers with a chain 10 blocks old, and silently truncates eth_getLogs to
its head — the gap a naive fallback would turn into lost events)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable

import httpx
import uvicorn
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
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.client import Client

from adapters.chain.client import ChainClient
from adapters.chain.health import HealthBook, HealthPolicy
from devnet.stack.process import free_port
from workers.listeners.cursor import CursorStore
from workers.listeners.delivery import Delivery
from workers.listeners.poller import LogPoller, PollerConfig
from workers.listeners.rpc import HttpRpc


def test_a_failing_endpoint_rests_longer_each_time_and_comes_back() -> None:
    book = HealthBook(["http://a", "http://b"], client="t", policy=HealthPolicy(rest_seconds=5))
    assert book.order(now=0) == [0, 1]
    book.failure(0, "refused", now=0)
    assert book.order(now=1) == [1, 0] and book.score(0, now=1) == 0
    assert book.order(now=5.1) == [0, 1]  # rested: tried first again (the preferred one)
    book.failure(0, "refused", now=6)
    assert book.resting(0, now=15) and not book.resting(0, now=16.1)  # 10 s the second time
    for _ in range(10):
        book.failure(0, "refused", now=20)
    assert book.entries[0].resting_until == 20 + 60  # capped
    book.success(0, 0.01, now=81)
    assert book.order(now=81) == [0, 1] and book.entries[0].consecutive == 0


def test_a_lagging_endpoint_is_asked_after_healthy_ones() -> None:
    book = HealthBook(["http://a", "http://b", "http://c"], client="t")
    book.saw_head(0, 100, now=0)
    book.saw_head(1, 110, now=0)
    book.saw_head(2, 109, now=0)
    assert book.lagging(0, now=1) and book.order(now=1) == [1, 2, 0]
    assert book.score(0, now=1) == 0.25
    assert book.order(now=100) == [0, 1, 2]  # heads too old to judge: preference again


def test_a_slow_endpoint_is_asked_after_fast_ones() -> None:
    book = HealthBook(["http://a", "http://b"], client="t")
    for _ in range(20):
        book.success(0, 3.0, now=0)
        book.success(1, 0.05, now=0)
    assert book.slow(0, now=0) and book.order(now=0) == [1, 0]


async def _started(server: uvicorn.Server) -> bool:
    return bool(server.started)


class LaggingNode:
    """JSON-RPC relay to anvil that shows the chain as it was `lag` blocks ago."""

    def __init__(self, upstream: str, lag: int = 10) -> None:
        self.upstream, self.lag = upstream, lag
        self.port = free_port()
        self.calls: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.calls.append(body["method"])
        async with httpx.AsyncClient() as http:
            head = int(
                (
                    await http.post(
                        self.upstream, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}
                    )
                ).json()["result"],
                16,
            )
            mine = max(0, head - self.lag)
            method, params = body["method"], body.get("params") or []
            if method == "eth_blockNumber":
                return JSONResponse({"jsonrpc": "2.0", "id": body["id"], "result": hex(mine)})
            if method == "eth_getBlockByNumber" and params and params[0] == "latest":
                params = [hex(mine), *params[1:]]
            if method == "eth_getBlockByNumber" and params and int(str(params[0]), 16) > mine:
                return JSONResponse({"jsonrpc": "2.0", "id": body["id"], "result": None})
            if method == "eth_getLogs":
                flt = dict(params[0])
                if int(flt["toBlock"], 16) > mine:
                    flt["toBlock"] = hex(mine)  # silently: what a lagging node answers
                params = [flt]
            reply = await http.post(
                self.upstream,
                content=json.dumps({**body, "params": params}),
                headers={"content-type": "application/json"},
            )
            return JSONResponse(reply.json())


@contextlib.asynccontextmanager
async def lagging_node(upstream: str, lag: int = 10) -> AsyncIterator[LaggingNode]:
    node = LaggingNode(upstream, lag)
    app = Starlette(routes=[Route("/", node.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=node.port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: _started(server), what="the lagging node")
    try:
        yield node
    finally:
        server.should_exit = True
        await task


async def test_a_lagging_first_endpoint_neither_stops_nor_gaps_the_poller(
    chain: Chain,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    temporal_client: Client,
) -> None:
    logs = load_vectors()["logs"]
    chain_id = next_chain_id()
    start = chain.head() + 1
    mapping = replay(chain, vector_groups(logs))
    chain.mine()
    expected = expected_targets(logs, chain_id, key_mapper(mapping))
    async with lagging_node(chain.http_url, lag=10) as lagging:
        rpc = HttpRpc([lagging.url, chain.http_url], probe_seconds=0.2, max_lag_blocks=3)
        poller = LogPoller(
            rpc,
            make_delivery(chain_id),
            CursorStore(engine),
            PollerConfig(chain_id=chain_id, address=chain.emitter, start_block=start),
        )
        try:
            # the lagging node answers first (behind, but no gap) unless, on a loaded machine,
            # its probe already marked it lagging before this first poll
            await poller.poll_once()
            assert poller.cursor is not None and poller.cursor <= chain.head() - 1
            await asyncio.sleep(0.3)
            await poller.poll_once()  # the probe saw the lag: the live node serves
            assert poller.cursor == chain.head() - 1
            assert rpc.health.lagging(0) and rpc._preferred == 1
        finally:
            await rpc.close()
    await eventually(lambda: all_received(temporal_client, expected), what="every event")
    for wid, keys in expected.items():
        assert await received_keys(temporal_client, wid) == keys, wid


async def test_the_chain_client_ranks_a_lagging_endpoint_down(chain: Chain) -> None:
    async with lagging_node(chain.http_url, lag=10) as lagging:
        dead = f"http://127.0.0.1:{free_port()}"
        client = ChainClient.create(
            [dead, lagging.url, chain.http_url], None, timeout=3, probe_seconds=0.1
        )
        try:
            assert await client.block_number() == chain.head() - 10  # the first live answer
            await asyncio.sleep(0.2)
            await client.block_number()  # starts the background probe
            await asyncio.sleep(0.5)
            assert client.health is not None and client.health.lagging(1)
            assert await client.block_number() == chain.head()
            assert [ep.url for ep in client._ordered()][0] == chain.http_url
        finally:
            await client.close()
