"""The demo (and the e2e harness) trade only once every worker polls its task queue: a 5-intent
demo whose chain worker started polling 11 s after its intents were posted opened nothing (the
traders' wind-down cancelled them meanwhile). Against the real dev server."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.client import Client
from temporalio.worker import Worker

from devnet.stack.pollers import TRADING_QUEUES, queues_without_pollers, wait_for_pollers
from interfaces.temporal import TaskQueues

ACTIVITY = TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY


@activity.defn(name="pollers_test_noop")
async def _noop() -> None:
    return None


def test_the_trading_queues_are_every_queue_an_intent_needs() -> None:
    names = {name for name, _ in TRADING_QUEUES}
    assert names == {TaskQueues.WORKFLOWS, TaskQueues.RISK, TaskQueues.CHAIN,
                     TaskQueues.BROKER, TaskQueues.OPS}  # fmt: skip


async def test_the_wait_ends_only_when_every_queue_is_polled(temporal_client: Client) -> None:
    first, second = f"pollers-a-{uuid.uuid4().hex[:8]}", f"pollers-b-{uuid.uuid4().hex[:8]}"
    queues = [(first, ACTIVITY), (second, ACTIVITY)]
    assert await queues_without_pollers(temporal_client, queues) == [
        f"{first}/ACTIVITY", f"{second}/ACTIVITY"
    ]  # fmt: skip
    async with Worker(temporal_client, task_queue=first, activities=[_noop]):
        with pytest.raises(TimeoutError, match=f"no pollers on {second}/ACTIVITY"):
            await wait_for_pollers(temporal_client, timeout=3, queues=queues)
        waiting = asyncio.ensure_future(wait_for_pollers(temporal_client, 30, queues))
        await asyncio.sleep(1)
        assert not waiting.done()
        async with Worker(temporal_client, task_queue=second, activities=[_noop]):
            await asyncio.wait_for(waiting, 30)
