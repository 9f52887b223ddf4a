"""The transaction journal a send needs lives with the chain worker, not in Postgres (DESIGN §7):
lock / open / close go through while Postgres is down, a restarted worker resumes from its
local journal, and `chain_transactions` in Postgres is a mirror that catches up — statuses
included — once Postgres is back. Real anvil + contract + oracle + embedded Postgres, reached
through a TCP proxy the tests take down and bring back."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from chain_helpers import TcpProxy, chain_calls, methods_asked
from conftest import PRICE, SymmioUnderTest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from test_chain_activities import journal_rows, status_of, tx_rows, wait_rows

from config.settings import Settings, load_settings
from domain.enums import QuoteStatus
from interfaces.chain import (
    AllocateRequest,
    CloseFillRequest,
    LockRequest,
    OpenRequest,
    TxResult,
)
from workers.chain_agent import ChainAgent, build_agent


def agent_settings(base: Settings, **overrides: Any) -> Settings:
    return load_settings(**{**base.model_dump(), **overrides})


def make_agent(settings: Settings, symmio: SymmioUnderTest) -> ChainAgent:
    agent = build_agent(settings, abi=symmio.abi)
    agent.sender.poll_interval = 0.05
    return agent


async def _lock_open_close(
    agent: ChainAgent, symmio: SymmioUnderTest, party_a: str
) -> tuple[int, tuple[TxResult, TxResult, TxResult]]:
    """A new quote of `party_a` locked, opened, asked to close and closed by the agent's
    activities: the quote id and the three transactions' results."""
    env = ActivityEnvironment()
    q = symmio.send_quote(party_a)
    locked = await env.run(agent.activities.lock_quote, LockRequest(q, "1000"))
    opened = await env.run(agent.activities.open_position, OpenRequest(q, "0.01", "60050"))
    symmio.request_to_close(party_a, q, PRICE - 100, Decimal("0.01"))
    filled = await env.run(agent.activities.fill_close_request,
                           CloseFillRequest(q, "0.01", "59990", closed_amount_before="0"))  # fmt: skip
    return q, (locked, opened, filled)


@pytest.fixture
async def pg_proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(database_url)
    assert parts.hostname and parts.port
    proxy = TcpProxy(parts.hostname, parts.port)
    yield proxy
    await proxy.down()


async def test_lock_open_close_go_through_while_postgres_is_down(
    chain_settings: Settings, symmio: SymmioUnderTest, party_a: tuple[str, str],
    hedger_key: tuple[str, str], database_url: str, pg_proxy: TcpProxy, tmp_path: Path,
) -> None:  # fmt: skip
    """Defect 1: Postgres refuses connections for the whole hedge; every transaction is sent
    (journaled locally first); back up, the mirror catches up with every row and status."""
    settings = agent_settings(chain_settings, database_url=pg_proxy.url_for(database_url),
                              chain_journal_dir=str(tmp_path))  # fmt: skip
    agent = make_agent(settings, symmio)  # the proxy is down: connection refused
    try:
        q, (locked, opened, filled) = await _lock_open_close(agent, symmio, party_a[0])
        assert locked.tx_hash and opened.tx_hash and filled.tx_hash
        assert status_of(symmio, q) == QuoteStatus.CLOSED
        # nothing could reach Postgres
        assert await journal_rows(database_url, q, hedger_key[1]) == []
        await pg_proxy.up()
        expected = [("lock_quote", "mined"), ("open_position", "mined"),
                    ("fill_close_request", "mined")]  # fmt: skip
        rows = await wait_rows(
            database_url, q, hedger_key[1], lambda rows: tx_rows(rows) == expected
        )
        assert tx_rows(rows) == expected
        assert {r.tx_hash for r in rows} >= {locked.tx_hash, opened.tx_hash, filled.tx_hash}
        assert all(r.signer == hedger_key[1] and r.block_number and r.gas_used for r in rows)
    finally:
        await agent.close()


async def test_a_restarted_worker_resumes_its_pending_lock_from_the_local_journal(
    chain_settings: Settings, symmio: SymmioUnderTest, party_a: tuple[str, str],
    hedger_key: tuple[str, str], database_url: str, pg_proxy: TcpProxy, tmp_path: Path,
) -> None:  # fmt: skip
    """Defect 1 (restart): Postgres down; the lock is broadcast, the attempt gives up while it is
    pending and the worker dies; a new worker's retry finds it in the local journal and
    reports it — no second lockQuote."""
    settings = agent_settings(chain_settings, database_url=pg_proxy.url_for(database_url),
                              chain_journal_dir=str(tmp_path))  # fmt: skip
    first = make_agent(settings, symmio)
    env = ActivityEnvironment()
    q = symmio.send_quote(party_a[0])
    start = symmio.w3.eth.block_number
    try:
        await env.run(first.activities.allocate_for_party_b, AllocateRequest(party_a[1], "200"))
        first.sender.receipt_timeout = 1.0
        symmio.anvil.rpc("evm_setAutomine", [False])
        with pytest.raises(ApplicationError) as err:
            await env.run(first.activities.lock_quote, LockRequest(q))
        assert err.value.type == "TxPending" and not err.value.non_retryable
    except BaseException:
        symmio.anvil.rpc("evm_setAutomine", [True])
        raise
    finally:
        await first.close()  # the worker is gone; its lockQuote sits in the mempool
    second = make_agent(settings, symmio)
    try:
        env.info = dataclasses.replace(env.info, attempt=2)
        retry = asyncio.create_task(env.run(second.activities.lock_quote, LockRequest(q)))
        await asyncio.sleep(1.0)
        assert not retry.done()  # waiting for the journaled transaction
        symmio.anvil.rpc("evm_setAutomine", [True])
        symmio.anvil.rpc("evm_mine")
        result = await asyncio.wait_for(retry, 30)
    finally:
        symmio.anvil.rpc("evm_setAutomine", [True])
        await second.close()
    locks = chain_calls(symmio, hedger_key[1], "lockQuote", start)
    assert len(locks) == 1 and locks[0]["status"] == 1
    assert result.already_done and result.tx_hash == locks[0]["hash"]
    assert status_of(symmio, q) == QuoteStatus.LOCKED


async def test_a_status_written_while_postgres_is_down_reaches_the_mirror(
    chain_settings: Settings, symmio: SymmioUnderTest, party_a: tuple[str, str],
    hedger_key: tuple[str, str], database_url: str, pg_proxy: TcpProxy, tmp_path: Path,
) -> None:  # fmt: skip
    """Defect 2: the open is journaled (and mirrored) as pending, Postgres goes down, the open is
    mined: once Postgres is back its row says mined, never pending for ever."""
    await pg_proxy.up()
    settings = agent_settings(chain_settings, database_url=pg_proxy.url_for(database_url),
                              chain_journal_dir=str(tmp_path))  # fmt: skip
    agent = make_agent(settings, symmio)
    env = ActivityEnvironment()
    q = symmio.send_quote(party_a[0])
    try:
        await env.run(agent.activities.lock_quote, LockRequest(q, "1000"))
        symmio.anvil.rpc("evm_setAutomine", [False])
        try:
            task = asyncio.create_task(
                env.run(agent.activities.open_position, OpenRequest(q, "0.01", "60050"))
            )
            rows = await wait_rows(database_url, q, hedger_key[1], lambda rows: ("open_position", "pending")
                                   in tx_rows(rows), timeout=15)  # fmt: skip
            assert ("open_position", "pending") in tx_rows(rows)
            await pg_proxy.down()
        finally:
            symmio.anvil.rpc("evm_setAutomine", [True])
            symmio.anvil.rpc("evm_mine")
        opened = await asyncio.wait_for(task, 30)
        assert opened.tx_hash and status_of(symmio, q) == QuoteStatus.OPENED
        await asyncio.sleep(1.0)  # the status update meets a dead Postgres
        await pg_proxy.up()
        rows = await wait_rows(database_url, q, hedger_key[1],
                               lambda rows: ("open_position", "mined") in tx_rows(rows))  # fmt: skip
        assert tx_rows(rows) == [("lock_quote", "mined"), ("open_position", "mined")]
        assert [r.tx_hash for r in rows if r.action == "open_position"] == [opened.tx_hash]
    finally:
        await agent.close()


async def test_a_preflight_revert_is_journaled_without_a_nonce(
    chain_settings: Settings, symmio: SymmioUnderTest, party_a: tuple[str, str],
    hedger_key: tuple[str, str], database_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    """Defect 6: a revert caught by the gas-estimate pre-flight is a journal row (status
    reverted_preflight, with the reason) in the local journal and the mirror; no nonce used."""
    settings = agent_settings(chain_settings, chain_journal_dir=str(tmp_path))
    agent = make_agent(settings, symmio)
    env = ActivityEnvironment()
    q = symmio.send_quote(party_a[0])  # LONG, requested 60100
    try:
        await env.run(agent.activities.lock_quote, LockRequest(q, "1000"))
        nonce = symmio.w3.eth.get_transaction_count(hedger_key[1])
        with pytest.raises(ApplicationError) as err:
            await env.run(agent.activities.open_position, OpenRequest(q, "0.01", "60200"))
        assert err.value.type == "TxReverted" and err.value.non_retryable
        assert symmio.w3.eth.get_transaction_count(hedger_key[1]) == nonce
        rows = await wait_rows(database_url, q, hedger_key[1],
                               lambda rows: any(r.action == "open_position" for r in rows),
                               timeout=15)  # fmt: skip
        opens = [r for r in rows if r.action == "open_position"]
        assert [(r.status, r.nonce, r.revert_reason) for r in opens] == [
            ("reverted_preflight", None, "PartyBFacet: Opened price isn't valid")
        ]
        assert opens[0].signer == hedger_key[1]
    finally:
        await agent.close()


async def test_the_background_sweep_settles_a_row_nobody_waits_for(
    chain_settings: Settings, symmio: SymmioUnderTest, party_a: tuple[str, str],
    hedger_key: tuple[str, str], database_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    """Defect 2 (no retry ever comes): the worker dies with a transaction pending; the next
    worker's background sweep settles the row from its receipt, in the journal and the mirror."""
    settings = agent_settings(chain_settings, chain_journal_dir=str(tmp_path))
    first = make_agent(settings, symmio)
    env = ActivityEnvironment()
    first.sender.receipt_timeout = 1.0
    symmio.anvil.rpc("evm_setAutomine", [False])
    try:
        with pytest.raises(ApplicationError) as err:
            await env.run(first.activities.allocate_for_party_b, AllocateRequest(party_a[1], "7"))
        assert err.value.type == "TxPending"
    finally:
        await first.close()
        symmio.anvil.rpc("evm_setAutomine", [True])
        symmio.anvil.rpc("evm_mine")
    second = make_agent(settings, symmio)
    try:
        [row] = await second.journal.pending()
        assert await second.activities.settle_orphans(min_age=0) == 1
        settled = await second.journal.get(row.tx_hash)
        assert settled is not None and settled.status == "mined" and settled.block_number
        second.start()  # the mirror catches up what the first worker left behind
        rows = await wait_rows(database_url, None, hedger_key[1],
                               lambda rows: any(r.tx_hash == row.tx_hash and r.status == "mined"
                                                for r in rows))  # fmt: skip
        assert [r.status for r in rows if r.tx_hash == row.tx_hash] == ["mined"]
    finally:
        await second.close()


async def test_a_configured_gas_limit_sends_the_hedge_without_an_estimate(
    chain_settings: Settings, symmio: SymmioUnderTest, party_a: tuple[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    """HEDGER_CHAIN_GAS_LIMIT reaches the sender: allocate, lock, open and close on the
    contract each go out at that limit, pre-flighted by one eth_call, never estimated."""
    settings = agent_settings(chain_settings, chain_gas_limit=2_500_000,
                              chain_journal_dir=str(tmp_path))  # fmt: skip
    agent = make_agent(settings, symmio)
    asked = methods_asked(agent.client)
    try:
        q, (locked, opened, filled) = await _lock_open_close(agent, symmio, party_a[0])
        assert status_of(symmio, q) == QuoteStatus.CLOSED
        hashes = [locked.tx_hash, opened.tx_hash, filled.tx_hash]
        gas = [symmio.w3.eth.get_transaction(h)["gas"] for h in hashes if h]  # type: ignore[arg-type]
        assert gas == [2_500_000] * 3
        assert "eth_estimateGas" not in asked
        assert asked.count("eth_sendRawTransaction") <= asked.count("eth_call")
    finally:
        await agent.close()
