"""web3's HTTP session managers share one class-level `threading.Lock`, and its async path takes
it for every request through a thread pool (`async_lock`); a request cancelled while waiting
for it can leave it acquired for good. CI hit exactly that: a test's plain `Web3` call then
waited forever (py-spy: `cache_and_return_session`), and so would every later request of a
chain worker. Our providers are used from one event loop and never take that lock."""

from __future__ import annotations

import asyncio

from web3._utils.http_session_manager import HTTPSessionManager

from adapters.chain.client import ChainClient
from devnet.stack.anvil import Anvil


async def test_a_leaked_web3_session_lock_does_not_stall_the_chain_client(anvil: Anvil) -> None:
    client = ChainClient.create([anvil.http_url], None, timeout=5.0)
    shared = HTTPSessionManager._lock
    assert shared.acquire(timeout=5), "another test left web3's shared lock held"
    try:  # held as a cancelled request would leave it
        for _ in range(3):
            assert await asyncio.wait_for(client.block_number(), 10) >= 0
    finally:
        shared.release()
        await client.close()
