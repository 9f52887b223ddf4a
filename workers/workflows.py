"""The workflow worker (task queue `hedger-workflows`): hosts every workflow type, and the reads
the workflows run as local activities (`workers.local_reads`); no other I/O of its own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from config.settings import Settings
from interfaces.temporal import TaskQueues
from workflows.healthcheck import HealthcheckWorkflow
from workflows.intent import IntentWorkflow
from workflows.position import PositionWorkflow
from workflows.risk_control import RiskControlWorkflow

WORKFLOWS = [IntentWorkflow, PositionWorkflow, RiskControlWorkflow, HealthcheckWorkflow]


# Local activities run in this process's event loop, beside the workflow tasks that wait on them.
MAX_CONCURRENT_LOCAL_ACTIVITIES = 200
# Workflow tasks processed at once; never more than the cache holds (an evicted workflow's task
# would replay its history).
MAX_CONCURRENT_WORKFLOW_TASKS = 200


def build_workflow_worker(
    client: Client,
    task_queue: str = TaskQueues.WORKFLOWS,
    *,
    sandboxed: bool = True,
    local_reads: Sequence[Callable[..., Any]] = (),
    cache_size: int = 1000,
) -> Worker:
    """`sandboxed=False` runs workflow code without Temporal's sandbox (`Settings.workflow_sandbox`);
    `local_reads`: the activities the workflows run locally (`LocalReads.activities()`; a
    workflow that asks for one this worker lacks retries it until its step fails);
    `cache_size`: the workflows kept in memory (`Settings.workflow_cache_size`)."""
    runner: WorkflowRunner = SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner()
    return Worker(
        client, task_queue=task_queue, workflows=WORKFLOWS, max_cached_workflows=cache_size,
        max_concurrent_workflow_tasks=max(2, min(MAX_CONCURRENT_WORKFLOW_TASKS, cache_size)),
        workflow_runner=runner, activities=list(local_reads),
        max_concurrent_local_activities=MAX_CONCURRENT_LOCAL_ACTIVITIES, no_remote_activities=True,
    )  # fmt: skip


def build_risk_worker(
    client: Client, task_queue: str = TaskQueues.RISK, *, sandboxed: bool = True
) -> Worker:
    """The risk-control workflow's own worker (one workflow per chain): its cache and task slots
    are its own. Under a few thousand live intent and position workflows the shared worker
    evicted it from the cache and delayed its tasks; its reservation updates then failed
    ("Workflow Task in failed state") and every new intent stalled (bench/, positions phase)."""
    runner: WorkflowRunner = SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner()
    return Worker(
        client, task_queue=task_queue, workflows=[RiskControlWorkflow], max_cached_workflows=16,
        max_concurrent_workflow_tasks=4, workflow_runner=runner,
    )  # fmt: skip


async def main(settings: Settings) -> None:
    """Run the workflow workers until SIGTERM/SIGINT: every workflow type on `hedger-workflows`
    (a risk-control workflow started there before `hedger-risk` existed goes on there), and the
    risk-control workflow on `hedger-risk`."""
    import asyncio

    from workers.local_reads import build_local_reads
    from workers.runtime import client_for, run_until_stopped, run_worker

    client = await client_for(settings)
    reads = build_local_reads(client, settings)
    workers = [
        build_workflow_worker(
            client,
            sandboxed=settings.workflow_sandbox,
            local_reads=reads.activities(),
            cache_size=settings.workflow_cache_size,
        ),
        build_risk_worker(client, sandboxed=settings.workflow_sandbox),
    ]

    async def run_all(stop: asyncio.Event) -> None:
        bound = settings.worker_shutdown_seconds
        await asyncio.gather(
            *(run_worker(worker, stop, shutdown_seconds=bound) for worker in workers)
        )

    try:
        await run_until_stopped(run_all)
    finally:
        await reads.close()
