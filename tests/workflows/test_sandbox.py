"""The workflow types pass the Temporal sandbox's validation (imports, determinism restrictions)."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from workers.workflows import WORKFLOWS, build_workflow_worker


async def test_workflow_worker_builds_and_validates_every_workflow(temporal_client: Client) -> None:
    worker = build_workflow_worker(temporal_client, task_queue=f"sandbox-{uuid.uuid4()}")
    names = {wf.__temporal_workflow_definition.name for wf in WORKFLOWS}  # type: ignore[attr-defined]
    assert {"IntentWorkflow", "PositionWorkflow", "Healthcheck"} <= names
    async with worker:
        pass
