"""Exactly-once for the sends a retry or a second activity could repeat (DESIGN §3), counted on
chain from the blocks themselves, never from the journal:

* the allocation inside `lockQuote`: a retried lock finds its earlier allocation — mined or
  still pending — and sends no other;
* `fillCloseRequest`: two activity executions (an operator `retry` after STUCK schedules a new
  one) with the same request land one fill — the chain's `closedAmount` and the journal decide.
"""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chain_helpers import chain_calls, funded_key
from conftest import PRICE, SymmioUnderTest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from test_chain_activities import call, ok, status_of
from test_journal_durability import agent_settings, make_agent

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
