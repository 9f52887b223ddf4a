"""The chain client keeps its RPC connections open (#16): web3's default session closed the
connection after every request, so each call paid a connect. Counted from the other side, by
a TCP forwarder in front of anvil; an outage that cuts the open connections is recovered from."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from chain_helpers import TcpProxy

from adapters.chain.client import ChainClient
from adapters.chain.errors import RpcUnavailable
from devnet.stack.anvil import Anvil


@pytest.fixture
async def proxy(anvil: Anvil) -> AsyncIterator[TcpProxy]:
    forwarder = TcpProxy("127.0.0.1", int(anvil.http_url.rsplit(":", 1)[1]))
    await forwarder.up()
    yield forwarder
    await forwarder.down()


async def test_requests_reuse_their_connections(anvil: Anvil, proxy: TcpProxy) -> None:
    client = ChainClient.create([proxy.url_for(anvil.http_url)], None, timeout=5.0)
    try:
        for _ in range(20):
            assert await client.block_number() >= 0
        await asyncio.gather(*(client.block_number() for _ in range(5)))
        assert proxy.accepted <= 6, proxy.accepted  # one, plus the concurrent ones at most
    finally:
        await client.close()


async def test_connections_cut_by_an_outage_are_replaced(anvil: Anvil, proxy: TcpProxy) -> None:
    client = ChainClient.create([proxy.url_for(anvil.http_url)], None, timeout=2.0)
    try:
        assert await client.block_number() >= 0
        await proxy.down()
        with pytest.raises(RpcUnavailable):
            await client.block_number()
        await proxy.up()
        for _ in range(40):  # the endpoint may rest a moment after its failure
            try:
                assert await client.block_number() >= 0
                break
            except RpcUnavailable:
                await asyncio.sleep(0.25)
        else:
            pytest.fail("the client did not reconnect after the outage")
    finally:
        await client.close()
