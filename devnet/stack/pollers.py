"""Is the hedger ready to trade? Every task queue a SendQuote's path needs has a poller: the
workflow worker's, the risk workflow's and the chain, broker and ops activity queues. A worker
process that is started is not yet polling (imports, connections); an intent posted before then
waits for it, and a trader that cancels meanwhile sees the hedger decline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from interfaces.temporal import TaskQueues

TRADING_QUEUES = (
    (TaskQueues.WORKFLOWS, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
    (TaskQueues.RISK, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
    (TaskQueues.CHAIN, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    (TaskQueues.BROKER, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    (TaskQueues.OPS, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
)


Queues = Sequence[tuple[str, "TaskQueueType.ValueType"]]


async def queues_without_pollers(client: Client, queues: Queues = TRADING_QUEUES) -> list[str]:
    """The task queues nobody polls (`name/kind`; the server remembers a poller for a while)."""
    missing = []
    for name, kind in queues:
        reply = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace, task_queue=TaskQueue(name=name), task_queue_type=kind
            )
        )
        if not reply.pollers:
            missing.append(f"{name}/{TaskQueueType.Name(kind).removeprefix('TASK_QUEUE_TYPE_')}")
    return missing


async def wait_for_pollers(
    client: Client, timeout: float = 60, queues: Queues = TRADING_QUEUES
) -> None:
    """Return once every trading task queue has a poller; TimeoutError names those without."""
    deadline = time.monotonic() + timeout
    while missing := await queues_without_pollers(client, queues):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no pollers on {', '.join(missing)} (see the hedger logs)")
        await asyncio.sleep(0.5)
