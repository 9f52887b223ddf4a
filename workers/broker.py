"""The broker worker (task queue `hedger-broker`): order create/cancel/query, fills, market data."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from activities.broker import DEFAULT_ACTIVITIES_PER_SECOND, BrokerActivities
from adapters.broker.adapter import BrokerAdapter
from adapters.broker.client import BrokerConfig
from config.settings import Settings
from interfaces.temporal import TaskQueues


def build_broker_worker(
    client: Client,
    adapter: BrokerAdapter,
    task_queue: str = TaskQueues.BROKER,
    activities_per_second: float = DEFAULT_ACTIVITIES_PER_SECOND,
) -> Worker:
    broker = BrokerActivities(adapter, activities_per_second)
    options = broker.worker_options()
    options["task_queue"] = task_queue
    return Worker(client, **options)


async def main(settings: Settings) -> None:
    """Run the broker worker until SIGTERM/SIGINT."""
    from workers.runtime import client_for, run_until_stopped, run_worker

    client = await client_for(settings)
    adapter = BrokerAdapter.from_config(BrokerConfig.from_settings(settings))
    try:
        rate = settings.broker_activities_per_second
        await run_until_stopped(
            lambda stop: run_worker(
                build_broker_worker(client, adapter, activities_per_second=rate),
                stop,
                shutdown_seconds=settings.worker_shutdown_seconds,
            )
        )
    finally:
        await adapter.close()
