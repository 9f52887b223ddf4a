"""The ops worker (task queue `hedger-ops`): ledger writes, alerts, trading state, limits."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.healthcheck import HealthcheckActivities
from activities.ledger import LedgerActivities
from activities.ops import OpsActivities
from adapters.risk_control import RiskControl
from config.settings import Settings
from interfaces.risk import TradingStateView
from interfaces.temporal import TaskQueues
from ledger.trading_state_store import read_trading_state
from workers.funding import ensure_funding_schedule, funding_activities
from workers.local_reads import limits_from
from workers.market_schedules import (
    MARKET_WORKFLOWS,
    MarketsPart,
    build_markets,
    ensure_market_schedules,
)
from workers.validator import (
    ValidatorReads,
    ensure_validator_schedule,
    refresh_findings_gauge,
)
from workflows.balance import BalanceWorkflow
from workflows.funding import FundingWorkflow
from workflows.validator import ValidatorWorkflow

log = logging.getLogger(__name__)

# Workflows the ops worker hosts on `hedger-ops`: the scheduled ones.
OPS_WORKFLOWS = [ValidatorWorkflow, BalanceWorkflow, FundingWorkflow]


def make_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url, pool_size=10, max_overflow=10, pool_pre_ping=True
    )


def build_ops_worker(
    client: Client,
    settings: Settings,
    engine: AsyncEngine,
    task_queue: str = TaskQueues.OPS,
    markets: MarketsPart | None = None,
) -> Worker:
    ledger = LedgerActivities(engine)
    risk = RiskControl(client, settings.chain_id)
    ops = OpsActivities(engine, limits_from(settings), risk, settings.alert_webhook_url)
    validator = ValidatorReads(client, settings, engine)
    market_activities: list[Any] = markets.activities.activities() if markets else []
    worker = Worker(
        client,
        task_queue=task_queue,
        activities=[
            *ledger.activities(),
            *ops.activities(),
            HealthcheckActivities().echo,
            *validator.activities(),
            *funding_activities(validator.reads).activities(),
            *market_activities,
        ],  # fmt: skip
        workflows=[*OPS_WORKFLOWS, *(MARKET_WORKFLOWS if markets else [])],
    )
    worker.validator_reads = validator  # type: ignore[attr-defined]  # closed by `main`
    return worker


async def seed_risk_control(client: Client, settings: Settings, engine: AsyncEngine) -> None:
    """Start the risk-control workflow if it is not running, from the trading state the ledger
    last recorded (its history, kept before the state moved to Temporal). Best effort: without
    the ledger, a first start begins ACTIVE, as a fresh deployment does."""
    seed = None
    try:
        view = await read_trading_state(engine)
        if view.changed_at is not None:
            seed = TradingStateView(
                view.state.value, view.reason, view.changed_by, view.changed_at.isoformat()
            )
    except Exception as exc:  # noqa: BLE001 - the ledger is optional here
        log.warning("trading state history unavailable (%s); not seeding", exc)
    await RiskControl(client, settings.chain_id).ensure_started(seed)


async def main(settings: Settings) -> None:
    """Run the ops worker until SIGTERM/SIGINT."""
    from workers.runtime import client_for, run_until_stopped, run_worker

    client = await client_for(settings)
    engine = make_engine(settings)
    markets = build_markets(settings, engine)
    try:
        await seed_risk_control(client, settings, engine)
        await ensure_validator_schedule(client, settings)
        await ensure_funding_schedule(client, settings)
        if markets is not None:
            await ensure_market_schedules(client, settings)

        async def run(stop: asyncio.Event) -> None:
            gauge = asyncio.create_task(refresh_findings_gauge(engine, stop))
            worker = build_ops_worker(client, settings, engine, markets=markets)
            try:
                await run_worker(worker, stop, shutdown_seconds=settings.worker_shutdown_seconds)
            finally:
                gauge.cancel()
                await worker.validator_reads.close()  # type: ignore[attr-defined]

        await run_until_stopped(run)
    finally:
        if markets is not None:
            await markets.close()
        await engine.dispose()
