"""The Temporal round trip on its own: a workflow running 20 no-op activities one after the
other on another task queue, on the same server and machine as the hedger. Every sequential
activity the hedger runs before the lock costs at least this."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

ROUNDS = 20


@activity.defn(name="bench_noop")
async def noop(value: int) -> int:
    return value


@workflow.defn(name="BenchRoundTrips")
class RoundTrips:
    @workflow.run
    async def run(self, rounds: int) -> int:
        for i in range(rounds):
            await workflow.execute_activity(
                noop, i, task_queue="bench-noop-activities",
                start_to_close_timeout=timedelta(seconds=10),
            )  # fmt: skip
        return rounds


async def activity_round_trip_ms(address: str) -> float:
    """Milliseconds per sequential no-op activity (the second of two runs: workers warm)."""
    client = await Client.connect(address)
    queue = f"bench-noop-{uuid.uuid4().hex[:8]}"
    async with (
        Worker(client, task_queue=queue, workflows=[RoundTrips],
               workflow_runner=UnsandboxedWorkflowRunner()),
        Worker(client, task_queue="bench-noop-activities", activities=[noop]),
    ):  # fmt: skip
        elapsed = 0.0
        for _ in range(2):
            started = time.perf_counter()
            await client.execute_workflow(
                RoundTrips.run, ROUNDS, id=f"bench-round-trips-{uuid.uuid4().hex[:8]}",
                task_queue=queue,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
    return round(elapsed / ROUNDS * 1000, 1)
