"""Exactly-once for the sends a retry or a second activity could repeat (DESIGN §3), counted on
chain from the blocks themselves, never from the journal:

* the allocation inside `lockQuote`: a retried lock finds its earlier allocation — mined or
  still pending — and sends no other; the lock goes out right behind it (the next nonce, no
  wait for the allocation's receipt), and a node whose pending state lacks the allocation gets
  the lock once the allocation is mined;
* `fillCloseRequest`: two activity executions (an operator `retry` after STUCK schedules a new
  one) with the same request land one fill — the chain's `closedAmount` and the journal decide.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chain_helpers import chain_calls, funded_key
from conftest import PRICE, SymmioUnderTest
from prometheus_client import REGISTRY
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from test_chain_activities import call, ok, status_of
from test_journal_durability import agent_settings, make_agent

from adapters.chain.client import ChainClient
from adapters.muon.client import MuonClient
from config.settings import Settings
from devnet.stack.anvil import Anvil
from devnet.stack.process import free_port
from domain.enums import QuoteStatus
from interfaces.chain import LockRequest
from workers.chain_agent import ChainAgent

pytestmark = pytest.mark.usefixtures("chain_worker")


@pytest.fixture
async def agent(chain_settings: Settings, symmio: SymmioUnderTest, tmp_path: Path) -> ChainAgent:
    built = make_agent(agent_settings(chain_settings, chain_journal_dir=str(tmp_path)), symmio)
    yield built  # type: ignore[misc]
    await built.close()


@pytest.fixture
def fresh_party_a(anvil: Anvil) -> tuple[str, str]:
    """A PartyA the hedger has allocated nothing for yet."""
    return funded_key(anvil)


async def test_a_retried_lock_does_not_allocate_again_after_its_allocation_was_mined(
    agent: ChainAgent, symmio: SymmioUnderTest, fresh_party_a: tuple[str, str],
    hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """Attempt 1 allocates (mined), then Muon is down for the lock signature; attempt 2 must
    not allocate again (the request caps the allocation at 100 < the 2 × 66.11 target)."""
    q = symmio.send_quote(fresh_party_a[0])
    start = symmio.w3.eth.block_number
    env = ActivityEnvironment()
    live = agent.activities.muon
    agent.activities.muon = MuonClient([f"http://127.0.0.1:{free_port()}/v1/"], timeout=1.0)
    try:
        with pytest.raises(ApplicationError) as err:
            await env.run(agent.activities.lock_quote, LockRequest(q, "100"))
    finally:
        await agent.activities.muon.aclose()
        agent.activities.muon = live
    assert err.value.type == "MuonUnavailable" and not err.value.non_retryable
    assert len(chain_calls(symmio, hedger_key[1], "allocateForPartyB", start)) == 1
    env.info = dataclasses.replace(env.info, attempt=2)
    locked = await env.run(agent.activities.lock_quote, LockRequest(q, "100"))
    assert locked.tx_hash and status_of(symmio, q) == QuoteStatus.LOCKED
    allocations = chain_calls(symmio, hedger_key[1], "allocateForPartyB", start)
    assert [a["args"]["amount"] for a in allocations] == [100 * 10**18]


async def test_a_retried_lock_waits_for_its_pending_allocation(
    agent: ChainAgent, symmio: SymmioUnderTest, fresh_party_a: tuple[str, str],
    hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """Attempt 1's allocation is still pending when the attempt gives up (receipt timeout);
    attempt 2 waits for that allocation instead of sending a second one."""
    q = symmio.send_quote(fresh_party_a[0])
    start = symmio.w3.eth.block_number
    env = ActivityEnvironment()
    agent.sender.receipt_timeout = 1.0
    symmio.anvil.rpc("evm_setAutomine", [False])
    try:
        with pytest.raises(ApplicationError) as err:
            await env.run(agent.activities.lock_quote, LockRequest(q, "100"))
        assert err.value.type == "TxPending"
        agent.sender.receipt_timeout = 30.0
        env.info = dataclasses.replace(env.info, attempt=2)
        retry = asyncio.create_task(env.run(agent.activities.lock_quote, LockRequest(q, "100")))
        await asyncio.sleep(1.5)
    finally:
        symmio.anvil.rpc("evm_setAutomine", [True])
        symmio.anvil.rpc("evm_mine")
    locked = await asyncio.wait_for(retry, 30)
    assert locked.tx_hash and status_of(symmio, q) == QuoteStatus.LOCKED
    allocations = chain_calls(symmio, hedger_key[1], "allocateForPartyB", start)
    assert [a["args"]["amount"] for a in allocations] == [100 * 10**18]
    assert len(chain_calls(symmio, hedger_key[1], "lockQuote", start)) == 1


async def _until(
    holds: Callable[[], Awaitable[bool]], running: asyncio.Task[Any], timeout: float = 10.0
) -> bool:
    """True once `holds()` does (polled), False after `timeout` or once `running` ended."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline and not running.done():
        if await holds():
            return True
        await asyncio.sleep(0.05)
    return False


def _pooled(symmio: SymmioUnderTest, address: str, count: int) -> Callable[[], Awaitable[bool]]:
    """Whether `address` has `count` transactions counting the node's pool."""

    async def holds() -> bool:
        return await asyncio.to_thread(
            symmio.w3.eth.get_transaction_count, address, "pending"
        ) >= count  # fmt: skip

    return holds


def _preflight_against_latest(client: ChainClient) -> None:
    """Make `client`'s node simulate calls at its latest block when asked for the pending state,
    as many RPC providers do (anvil's pending state holds its pool)."""
    request = client.request

    async def latest_for_pending(method: str, params: list[Any]) -> Any:
        if method in ("eth_call", "eth_estimateGas") and params[-1:] == ["pending"]:
            params = [*params[:-1], "latest"]
        return await request(method, params)

    client.request = latest_for_pending  # type: ignore[method-assign]


@dataclasses.dataclass
class _HeldLock:
    quote_id: int
    start: int  # the block before
    nonce: int  # the hedger's next nonce before
    lock: asyncio.Task[Any]


@contextlib.asynccontextmanager
async def _lock_with_blocks_held(
    agent: ChainAgent, symmio: SymmioUnderTest, party_a_key: str, hedger: str
) -> AsyncIterator[_HeldLock]:
    """A new quote of `party_a_key`'s, and its lock (allocating up to 100) started while the
    node mines nothing; mining resumes (and what is pooled is mined) on exit."""
    q = symmio.send_quote(party_a_key)
    start = symmio.w3.eth.block_number
    nonce = symmio.w3.eth.get_transaction_count(hedger)
    symmio.anvil.rpc("evm_setAutomine", [False])
    try:
        lock = asyncio.create_task(
            ActivityEnvironment().run(agent.activities.lock_quote, LockRequest(q, "100"))
        )
        yield _HeldLock(q, start, nonce, lock)
    finally:
        symmio.anvil.rpc("evm_setAutomine", [True])
        symmio.anvil.rpc("evm_mine")


def _awaited_allocation() -> float:
    name = "hedger_chain_lock_preflight_awaited_allocation_total"
    return REGISTRY.get_sample_value(name) or 0.0


async def test_the_lock_goes_out_behind_its_allocation_without_waiting_for_its_receipt(
    agent: ChainAgent, symmio: SymmioUnderTest, fresh_party_a: tuple[str, str],
    hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """With blocks held back, the allocation and then the lock (pre-flighted against the node's
    pending state) both reach the node's pool before either is mined; one block holds both, the
    allocation first."""
    async with _lock_with_blocks_held(agent, symmio, fresh_party_a[0], hedger_key[1]) as run:
        both_pooled = await _until(_pooled(symmio, hedger_key[1], run.nonce + 2), run.lock)
        symmio.anvil.rpc("evm_mine")
    q, start, locked = run.quote_id, run.start, await asyncio.wait_for(run.lock, 30)
    assert both_pooled, "the lock waited for its allocation's receipt before it was sent"
    allocations = chain_calls(symmio, hedger_key[1], "allocateForPartyB", start)
    locks = chain_calls(symmio, hedger_key[1], "lockQuote", start)
    assert [(a["args"]["amount"], a["status"]) for a in allocations] == [(100 * 10**18, 1)]
    assert [(x["hash"], x["status"]) for x in locks] == [(locked.tx_hash, 1)]
    assert allocations[0]["block"] == locks[0]["block"]
    assert allocations[0]["index"] < locks[0]["index"]
    assert status_of(symmio, q) == QuoteStatus.LOCKED


async def test_a_node_whose_pending_state_lacks_the_allocation_gets_the_lock_after_it(
    agent: ChainAgent, symmio: SymmioUnderTest, fresh_party_a: tuple[str, str],
    hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """A node that pre-flights against its latest block refuses the lock sent right behind an
    allocation still in its pool; the lock is not sent, it waits for the allocation's receipt
    and pre-flights again: one allocation, then one lock."""
    _preflight_against_latest(agent.sender.client)
    awaited = _awaited_allocation()

    async def refused() -> bool:
        return _awaited_allocation() > awaited

    async with _lock_with_blocks_held(agent, symmio, fresh_party_a[0], hedger_key[1]) as run:
        waited = await _until(refused, run.lock)
        await asyncio.sleep(0.3)  # the lock waits for the allocation: nothing else is sent
        alone = not await _pooled(symmio, hedger_key[1], run.nonce + 2)()
    q, start, locked = run.quote_id, run.start, await asyncio.wait_for(run.lock, 30)
    assert waited and alone
    allocations = chain_calls(symmio, hedger_key[1], "allocateForPartyB", start)
    locks = chain_calls(symmio, hedger_key[1], "lockQuote", start)
    assert [(a["args"]["amount"], a["status"]) for a in allocations] == [(100 * 10**18, 1)]
    assert [(x["hash"], x["status"]) for x in locks] == [(locked.tx_hash, 1)]
    assert allocations[0]["block"] < locks[0]["block"]
    assert status_of(symmio, q) == QuoteStatus.LOCKED


async def _opened_with_close_request(
    client: Client, worker: tuple[str, Any], symmio: SymmioUnderTest, party_a: tuple[str, str]
) -> int:
    q = symmio.send_quote(party_a[0])
    ok(await call(client, worker, "chain_lock_quote", {"quote_id": q, "allocate_first": "1000"}))
    ok(await call(client, worker, "chain_open_position",
                  {"quote_id": q, "filled_amount": "0.01", "opened_price": "60050"}))  # fmt: skip
    # LIMIT close of the whole position: partial fills leave it CLOSE_PENDING (a second fill
    # of the same size would succeed on chain)
    symmio.request_to_close(party_a[0], q, PRICE - 100, Decimal("0.01"), order_type=0)
    assert status_of(symmio, q) == QuoteStatus.CLOSE_PENDING
    return q


async def test_one_partial_fill_reported_by_two_activities_lands_once(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: SymmioUnderTest,
    party_a: tuple[str, str], hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    q = await _opened_with_close_request(temporal_client, chain_worker, symmio, party_a)
    start = symmio.w3.eth.block_number
    fill = {"quote_id": q, "filled_amount": "0.004", "closed_price": "59990",
            "closed_amount_before": "0"}  # fmt: skip
    first = ok(await call(temporal_client, chain_worker, "chain_fill_close_request", fill))
    # STUCK → operator `retry`: the workflow schedules a new activity with the same request
    second = ok(await call(temporal_client, chain_worker, "chain_fill_close_request", fill))
    fills = chain_calls(symmio, hedger_key[1], "fillCloseRequest", start)
    assert [f["hash"] for f in fills] == [first["tx_hash"]]
    assert second["already_done"]
    assert symmio.quote(q)[10] == 4 * 10**15  # closedAmount: one fill of 0.004


async def test_a_fill_still_pending_is_resumed_by_a_new_activity(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: SymmioUnderTest,
    party_a: tuple[str, str], hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """The first activity broadcasts the fill and times out while it is pending; a second
    activity (new scheduled time) with the same request resumes it and sends nothing."""
    q = await _opened_with_close_request(temporal_client, chain_worker, symmio, party_a)
    start = symmio.w3.eth.block_number
    fill = {"quote_id": q, "filled_amount": "0.004", "closed_price": "59990",
            "closed_amount_before": "0"}  # fmt: skip
    symmio.anvil.rpc("evm_setAutomine", [False])
    try:
        timed_out = await call(temporal_client, chain_worker, "chain_fill_close_request", fill,
                               timeout=2.0)  # fmt: skip
        assert "error" in timed_out
        second = asyncio.create_task(
            call(temporal_client, chain_worker, "chain_fill_close_request", fill, timeout=30.0)
        )
        await asyncio.sleep(1.5)
    finally:
        symmio.anvil.rpc("evm_setAutomine", [True])
        symmio.anvil.rpc("evm_mine")
    answer = ok(await asyncio.wait_for(second, 40))
    fills = chain_calls(symmio, hedger_key[1], "fillCloseRequest", start)
    assert len(fills) == 1 and fills[0]["status"] == 1
    assert answer["already_done"] and answer["tx_hash"] in (fills[0]["hash"], None)
    assert symmio.quote(q)[10] == 4 * 10**15
