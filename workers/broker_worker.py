"""The broker worker (task queue `hedger-broker`): order create/cancel/query, fills, market data."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from activities.broker import BrokerActivities
from activities.market import MarketActivities
from hedger.broker.adapter import BrokerAdapter
from hedger.temporal import TaskQueues


def build_broker_worker(
    client: Client, adapter: BrokerAdapter, task_queue: str = TaskQueues.BROKER
) -> Worker:
    broker = BrokerActivities(adapter)
    options = broker.worker_options()
    options["task_queue"] = task_queue
    options["activities"] = [*options["activities"], *MarketActivities(adapter).activities()]
    return Worker(client, **options)
