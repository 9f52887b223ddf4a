"""The chain worker (task queue `hedger-chain`): SYMMIO views and PartyB transactions.

Run exactly one per signer key: its `TransactionSender` owns the key's nonce sequence, and
transactions for one (partyB, partyA) pair are serialised inside the process. Several RPC URLs
(`HEDGER_RPC_HTTP_URLS`) give fallback; Muon gateways (`HEDGER_MUON_URLS`) are tried in order.

`main(settings)` is what `hedger worker chain` runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.chain import ChainActivities
from adapters.chain.abi import AbiEntry
from adapters.chain.client import ChainClient
from adapters.chain.sender import TransactionSender
from adapters.muon.client import MuonClient
from config.settings import ConfigError, Settings
from interfaces.temporal import TaskQueues
from ledger.tx_journal import ChainJournal

log = logging.getLogger("hedger.worker.chain")

# Views run concurrently; transactions are serialised per (partyB, partyA) inside the process
# and nonce allocation is serialised per signer, so more slots only help reads and waits.
MAX_CONCURRENT_ACTIVITIES = 64
RECEIPT_TIMEOUT_SECONDS = 90.0
STUCK_AFTER_SECONDS = 30.0  # replace (same nonce, higher fees) a tx pending this long


@dataclass
class ChainAgent:
    """Everything one chain worker owns (close it on shutdown)."""

    client: ChainClient
    sender: TransactionSender
    muon: MuonClient
    engine: AsyncEngine | None
    activities: ChainActivities

    async def close(self) -> None:
        await self.muon.aclose()
        await self.client.close()
        if self.engine is not None:
            await self.engine.dispose()


def build_agent(
    settings: Settings, *, with_database: bool = True, abi: Iterable[AbiEntry] | None = None
) -> ChainAgent:
    """The client, sender, Muon client and activities of one signer (`abi`: the packaged
    diamond ABI unless given)."""
    client = ChainClient.create(settings.rpc_http_urls, settings.require_symmio_address(), abi=abi)
    engine = (
        create_async_engine(settings.database_url, pool_size=5, max_overflow=5, pool_pre_ping=True)
        if with_database
        else None
    )
    sessions = async_sessionmaker(engine, expire_on_commit=False) if engine is not None else None
    journal = ChainJournal(sessions, settings.chain_id) if sessions is not None else None
    sender = TransactionSender(
        client,
        settings.private_key.get_secret_value(),
        chain_id=settings.chain_id,
        journal=journal.write if journal else None,
        on_status=journal.status if journal else None,
        confirmations=settings.confirmations,
        # below the workflows' 120 s start-to-close: a slow receipt ends the attempt as a
        # retryable "TxPending" and the retry resumes the same transaction
        receipt_timeout=RECEIPT_TIMEOUT_SECONDS,
        stuck_after=STUCK_AFTER_SECONDS,
    )
    muon = MuonClient(settings.muon_urls, app=settings.muon_app)
    activities = ChainActivities(client, sender, muon, sessions, chain_id=settings.chain_id)
    return ChainAgent(client, sender, muon, engine, activities)


def build_chain_worker(
    client: Client,
    settings: Settings,
    *,
    agent: ChainAgent | None = None,
    task_queue: str = TaskQueues.CHAIN,
) -> Worker:
    """A worker on `hedger-chain` hosting every chain activity of `agent` (built from
    `settings` when not given; the caller closes `worker.chain_agent` afterwards)."""
    agent = agent or build_agent(settings)
    worker = Worker(
        client,
        task_queue=task_queue,
        activities=list(agent.activities.activities()),
        max_concurrent_activities=MAX_CONCURRENT_ACTIVITIES,
    )
    worker.chain_agent = agent  # type: ignore[attr-defined]
    return worker


async def main(settings: Settings) -> None:
    """Run the chain worker until SIGTERM/SIGINT."""
    from workers.runtime import client_for, run_until_stopped, run_worker

    client = await client_for(settings)
    agent = build_agent(settings)
    chain_id = await agent.client.chain_id()
    if chain_id != settings.chain_id:
        await agent.close()
        raise ConfigError(
            f"HEDGER_CHAIN_ID is {settings.chain_id} but the RPC serves chain {chain_id}"
        )
    try:
        worker = build_chain_worker(client, settings, agent=agent)

        async def run(stop: asyncio.Event) -> None:
            # logged once SIGTERM/SIGINT handlers are installed: from here a stop is graceful
            log.info("chain worker for signer %s on %s", agent.sender.address, TaskQueues.CHAIN)
            await run_worker(worker, stop)

        await run_until_stopped(run)
    finally:
        await agent.close()
