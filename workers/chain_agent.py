"""The chain worker (task queue `hedger-chain`): SYMMIO views and PartyB transactions.

Run exactly one per signer key: its `TransactionSender` owns the key's nonce sequence, and
transactions for one (partyB, partyA) pair are serialised inside the process. Several RPC URLs
(`HEDGER_RPC_HTTP_URLS`) give fallback; Muon gateways (`HEDGER_MUON_URLS`) are tried in order.

The worker owns its signer's local transaction journal (`HEDGER_CHAIN_JOURNAL_DIR`, one
SQLite file per signer, on the worker's own durable disk): every send is journaled there before
its broadcast, so a Postgres outage never stops one. In the background the worker mirrors the
journal into Postgres (`chain_transactions`, retried until Postgres answers) and settles pending
rows nobody waits for (a previous process sent them) from their receipts; a restarted worker
resumes from the same file.

`main(settings)` is what `hedger worker chain` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.chain import ChainActivities
from adapters.chain.abi import AbiEntry
from adapters.chain.client import ChainClient
from adapters.chain.journal import JournalLocked, JournalMirror, LocalJournal
from adapters.chain.sender import FeePolicy, TransactionSender
from adapters.muon.client import MuonClient
from config.settings import ConfigError, Settings
from interfaces.temporal import TaskQueues
from ledger.tx_journal import ChainTxMirror

log = logging.getLogger("hedger.worker.chain")

# Views run concurrently; transactions are serialised per (partyB, partyA) inside the process
# and nonce allocation is serialised per signer, so more slots only help reads and waits.
MAX_CONCURRENT_ACTIVITIES = 64
RECEIPT_TIMEOUT_SECONDS = 90.0
STUCK_AFTER_SECONDS = 30.0  # replace (same nonce, higher fees) a tx pending this long
SWEEP_SECONDS = 30.0  # settle orphaned pending journal rows this often
JOURNAL_RETENTION_SECONDS = 30 * 24 * 3600.0  # settled, mirrored rows kept locally this long


@dataclass
class ChainAgent:
    """Everything one chain worker owns (`start()` its background work, `close()` on
    shutdown)."""

    client: ChainClient
    sender: TransactionSender
    muon: MuonClient
    engine: AsyncEngine | None
    activities: ChainActivities
    journal: LocalJournal
    mirror: JournalMirror | None = None
    _sweeper: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Mirror what the journal holds and settle orphaned pending rows, in the background
        (the mirror also starts by itself on the first journal write)."""
        if self.mirror is not None:
            self.mirror.start()
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep(), name="chain-journal-sweep"
            )

    async def _sweep(self) -> None:
        with contextlib.suppress(Exception):
            await self.journal.prune(JOURNAL_RETENTION_SECONDS)
        while True:
            try:
                settled = await self.activities.settle_orphans()
                if settled:
                    log.info("settled %s orphaned journal row(s) from the chain", settled)
            except Exception:  # noqa: BLE001 - retried on the next pass
                log.exception("chain journal sweep failed")
            await asyncio.sleep(SWEEP_SECONDS)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self.mirror is not None:
            await self.mirror.stop()
            await self.mirror.flush(timeout=3.0)
        await self.journal.close()
        await self.muon.aclose()
        await self.client.close()
        if self.engine is not None:
            await self.engine.dispose()


def build_agent(
    settings: Settings, *, with_database: bool = True, abi: Iterable[AbiEntry] | None = None
) -> ChainAgent:
    """The client, sender, local journal (+ its Postgres mirror unless `with_database` is
    False), Muon client and activities of one signer (`abi`: the packaged diamond ABI unless
    given)."""
    client = ChainClient.create(settings.rpc_http_urls, settings.require_symmio_address(), abi=abi)
    sender = TransactionSender(
        client,
        settings.private_key.get_secret_value(),
        chain_id=settings.chain_id,
        confirmations=settings.confirmations,
        # below the workflows' 120 s start-to-close: a slow receipt ends the attempt as a
        # retryable "TxPending" and the retry resumes the same transaction
        receipt_timeout=RECEIPT_TIMEOUT_SECONDS,
        stuck_after=STUCK_AFTER_SECONDS,
        fees=FeePolicy(fixed_gas_limit=settings.chain_gas_limit),
    )
    journal = LocalJournal.open_for(
        settings.chain_journal_directory(), chain_id=settings.chain_id, signer=sender.address
    )
    sender.journal = journal
    engine: AsyncEngine | None = None
    mirror: JournalMirror | None = None
    if with_database:
        engine = create_async_engine(
            settings.database_url, pool_size=2, max_overflow=2, pool_pre_ping=True,
            connect_args={"timeout": 5},
        )  # fmt: skip
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        mirror = JournalMirror(journal, ChainTxMirror(sessions).upsert)
        journal.on_change = mirror.kick
    muon = MuonClient(settings.muon_urls, app=settings.muon_app)
    activities = ChainActivities(
        client, sender, muon, journal, chain_id=settings.chain_id,
        close_top_up=settings.close_top_up, close_top_up_margin=settings.close_top_up_margin,
        close_settle_upnl=settings.close_settle_upnl,
        lock_top_up_to=settings.balance_allocation_target,
    )  # fmt: skip
    return ChainAgent(client, sender, muon, engine, activities, journal, mirror)


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
        await agent.journal.open()  # a second worker for this signer stops here
    except (JournalLocked, OSError, sqlite3.Error) as exc:
        await agent.close()
        raise ConfigError(f"HEDGER_CHAIN_JOURNAL_DIR: {exc}") from None
    try:
        worker = build_chain_worker(client, settings, agent=agent)

        async def run(stop: asyncio.Event) -> None:
            agent.start()
            # logged once SIGTERM/SIGINT handlers are installed: from here a stop is graceful
            log.info("chain worker for signer %s on %s (journal %s)", agent.sender.address,
                     TaskQueues.CHAIN, agent.journal.path)  # fmt: skip
            await run_worker(worker, stop, shutdown_seconds=settings.worker_shutdown_seconds)

        await run_until_stopped(run)
    finally:
        await agent.close()
