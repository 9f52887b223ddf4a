"""The workflow worker (task queue `hedger-workflows`): hosts every workflow type; no I/O of its own."""

from __future__ import annotations

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


def build_workflow_worker(
    client: Client, task_queue: str = TaskQueues.WORKFLOWS, *, sandboxed: bool = True
) -> Worker:
    """`sandboxed=False` runs workflow code without Temporal's sandbox (`Settings.workflow_sandbox`)."""
    runner: WorkflowRunner = SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner()
    return Worker(
        client, task_queue=task_queue, workflows=WORKFLOWS, max_concurrent_workflow_tasks=200,
        workflow_runner=runner,
    )  # fmt: skip


async def main(settings: Settings) -> None:
    """Run the workflow worker until SIGTERM/SIGINT."""
    from workers.runtime import client_for, run_until_stopped, run_worker

    client = await client_for(settings)
    worker = build_workflow_worker(client, sandboxed=settings.workflow_sandbox)
    await run_until_stopped(lambda stop: run_worker(worker, stop))
