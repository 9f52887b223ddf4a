"""The ops worker (task queue `hedger-ops`): ledger writes, alerts, trading state, limits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.healthcheck import echo
from activities.ledger import LedgerActivities, LimitsView
from hedger.config import Settings
from hedger.temporal import TaskQueues


def limits_from(settings: Settings) -> LimitsView:
    return LimitsView(
        max_open_interest=str(settings.max_open_interest),
        max_notional_per_symbol=str(settings.max_notional_per_symbol),
        price_band_pct=str(settings.price_band_pct),
        min_seconds_to_deadline=settings.min_seconds_to_deadline,
    )


def make_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url, pool_size=10, max_overflow=10, pool_pre_ping=True
    )


def build_ops_worker(
    client: Client, settings: Settings, engine: AsyncEngine, task_queue: str = TaskQueues.OPS
) -> Worker:
    ledger = LedgerActivities(engine, limits_from(settings), settings.alert_webhook_url)
    return Worker(client, task_queue=task_queue, activities=[*ledger.activities(), echo])
