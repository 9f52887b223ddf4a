"""Replay every recorded workflow history against today's workflow code (determinism guard).

Histories are recorded from real end-to-end runs (any test using the `record_history` fixture, run with
HEDGER_RECORD_HISTORIES=1) into tests/workflows/histories/<WorkflowType>-*.json.
A code change that would break a running workflow fails here. Every workflow type the workflow
and ops workers host must have at least one recorded history.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workers.market_schedules import MARKET_WORKFLOWS
from workers.ops import OPS_WORKFLOWS
from workers.workflows import WORKFLOWS as WORKFLOW_WORKER

# every workflow type any worker hosts: the workflow worker's and the ops worker's (scheduled) ones
WORKFLOWS = [*WORKFLOW_WORKER, *OPS_WORKFLOWS, *MARKET_WORKFLOWS]

HISTORIES = Path(__file__).with_name("histories")


def _type_name(workflow: type) -> str:
    return workflow.__temporal_workflow_definition.name  # type: ignore[attr-defined]


def _recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=_type_name)
def test_every_workflow_type_has_a_recorded_history(workflow: type) -> None:
    name = _type_name(workflow)
    assert any(p.name.startswith(f"{name}-") for p in _recorded()), (
        f"no recorded history for {name}: run the e2e tests with HEDGER_RECORD_HISTORIES=1"
    )


@pytest.mark.parametrize("path", _recorded(), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    data = json.loads(await asyncio.to_thread(path.read_text))
    history = WorkflowHistory.from_json(data["workflow_id"], data["history"])
    await Replayer(workflows=WORKFLOWS).replay_workflow(history)
