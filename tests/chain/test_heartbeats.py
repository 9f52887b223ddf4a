"""Transaction activities heartbeat while they wait — for a receipt, the pair lock, Muon — so a
dead chain worker is noticed after the workflow's heartbeat timeout (≈10–15 s), not after the
120 s start-to-close timeout (real activity code in an ActivityEnvironment, real anvil +
contract + oracle)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from chain_helpers import Blackhole
from conftest import SymmioUnderTest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from test_journal_durability import agent_settings, make_agent

from adapters.muon.client import MuonClient
from config.settings import Settings
from interfaces.chain import AllocateRequest, LockRequest, OpenRequest
from workers.chain_agent import ChainAgent

MAX_GAP = 2.5  # seconds between heartbeats while waiting


class Beats:
    def __init__(self, env: ActivityEnvironment) -> None:
        self.times: list[float] = []
        env.on_heartbeat = lambda *details: self.times.append(time.monotonic())

    def gaps(self, start: float, end: float) -> list[float]:
        inside = [t for t in self.times if start <= t <= end]
        points = [start, *inside, end]
        return [b - a for a, b in zip(points, points[1:], strict=False)]


@pytest.fixture
async def agent(chain_settings: Settings, symmio: SymmioUnderTest, tmp_path: Path) -> ChainAgent:
    built = make_agent(agent_settings(chain_settings, chain_journal_dir=str(tmp_path)), symmio)
    yield built  # type: ignore[misc]
    await built.close()


async def test_heartbeats_while_waiting_for_a_receipt(
    agent: ChainAgent, symmio: SymmioUnderTest, party_a: tuple[str, str],
) -> None:  # fmt: skip
    env = ActivityEnvironment()
    await env.run(agent.activities.allocate_for_party_b, AllocateRequest(party_a[1], "200"))
    q = symmio.send_quote(party_a[0])
    beats = Beats(env)
    symmio.anvil.rpc("evm_setAutomine", [False])
    try:
        start = time.monotonic()
        task = asyncio.create_task(env.run(agent.activities.lock_quote, LockRequest(q)))
        await asyncio.sleep(7.0)
        assert not task.done()  # still waiting for the receipt
        end = time.monotonic()
    finally:
        symmio.anvil.rpc("evm_setAutomine", [True])
        symmio.anvil.rpc("evm_mine")
    assert (await asyncio.wait_for(task, 30)).tx_hash
    assert len([t for t in beats.times if start <= t <= end]) >= 3
    assert max(beats.gaps(start, end)) <= MAX_GAP, beats.gaps(start, end)


async def test_heartbeats_while_waiting_for_the_pair_lock_and_for_muon(
    agent: ChainAgent, symmio: SymmioUnderTest, party_a: tuple[str, str],
) -> None:  # fmt: skip
    env = ActivityEnvironment()
    await env.run(agent.activities.allocate_for_party_b, AllocateRequest(party_a[1], "200"))
    q = symmio.send_quote(party_a[0])
    beats = Beats(env)
    # another transaction of the same (partyB, partyA) holds the pair lock for 5 s
    lock = agent.activities.pair_lock(party_a[1])
    await lock.acquire()
    start = time.monotonic()
    task = asyncio.create_task(env.run(agent.activities.lock_quote, LockRequest(q)))
    try:
        await asyncio.sleep(5.0)
        assert not task.done()
    finally:
        lock.release()
    end = time.monotonic()
    assert (await asyncio.wait_for(task, 30)).tx_hash
    assert max(beats.gaps(start, end)) <= MAX_GAP, beats.gaps(start, end)
    # a hung Muon gateway: the open waits for its signature until the client gives up (6 s)
    live = agent.activities.muon
    async with Blackhole() as hung:
        agent.activities.muon = MuonClient([hung.url], timeout=6.0)
        try:
            beats.times.clear()
            start = time.monotonic()
            with pytest.raises(ApplicationError) as err:
                await env.run(agent.activities.open_position, OpenRequest(q, "0.01", "60050"))
            end = time.monotonic()
        finally:
            await agent.activities.muon.aclose()
            agent.activities.muon = live
    assert err.value.type == "MuonUnavailable" and end - start >= 5.0
    assert max(beats.gaps(start, end)) <= MAX_GAP, beats.gaps(start, end)
