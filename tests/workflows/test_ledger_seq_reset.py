"""After an operator resets a hedge workflow in the Temporal UI, its new writes are newer.

The ledger keeps a row's newest write (`ledger_seq`) and a notice's id carries its number. A
reset run replays the history up to the reset point and writes on from there: numbered by
counting alone, its writes reused the old run's numbers, so its notices were dropped as
duplicates and its row updates lost to the old run's. Here a real reset on the test session's
Temporal server, of a workflow that numbers its writes with the hedge workflows' own
`HedgeWorkflow._seq`.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from domain.ledger_order import SEQ_EPOCH, clock_ticks, next_ledger_seq
from workflows.hedge_base import HedgeState, HedgeWorkflow

WRITES = 5
written: list[int] = []  # every number `record_write` was given, in order


@activity.defn(name="test_record_write")
async def record_write(seq: int) -> None:
    written.append(seq)


@workflow.defn(name="LedgerSeqProbe", sandboxed=False)
class LedgerSeqProbe(HedgeWorkflow[HedgeState]):
    """Numbers `writes` ledger writes like a hedge workflow, one workflow task each."""

    @workflow.run
    async def run(self, writes: int) -> list[int]:
        self._state = HedgeState(chain_id=31337, quote_id=1)
        numbers = []
        for _ in range(writes):
            numbers.append(self._seq())
            await workflow.execute_activity(
                record_write, numbers[-1], start_to_close_timeout=timedelta(seconds=10)
            )
        return numbers


async def _reset_to_workflow_task(client: Client, workflow_id: str, run_id: str, n: int) -> str:
    """Reset the run to the end of its `n`-th workflow task (as the Temporal UI's Reset does)."""
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    completed = [
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            reason="test: operator reset",
            workflow_task_finish_event_id=completed[n - 1],
            request_id=str(uuid.uuid4()),
        )
    )
    return response.run_id


async def test_a_reset_run_numbers_its_new_writes_above_the_old_runs(
    temporal_client: Client,
) -> None:
    queue = f"ledger-seq-reset-{uuid.uuid4().hex[:8]}"
    written.clear()
    async with Worker(
        temporal_client, task_queue=queue, workflows=[LedgerSeqProbe],
        activities=[record_write], workflow_runner=UnsandboxedWorkflowRunner(),
    ):  # fmt: skip
        handle = await temporal_client.start_workflow(
            LedgerSeqProbe.run, WRITES, id=f"probe-{queue}", task_queue=queue
        )
        old = await handle.result()
        assert written == old and old == sorted(set(old))
        await asyncio.sleep(0.05)  # the reset comes later than the old run's last write
        assert handle.result_run_id is not None
        new_run = await _reset_to_workflow_task(temporal_client, handle.id, handle.result_run_id, 2)
        new = await temporal_client.get_workflow_handle(handle.id, run_id=new_run).result()

    assert new[:1] == old[:1]  # replayed up to the reset point: the same numbers
    redone = written[WRITES:]  # what the reset run wrote from the reset point on
    assert len(redone) == WRITES - 1 and redone == new[1:]
    assert min(redone) > max(old), (old, new)
    assert redone == sorted(set(redone))


def test_numbers_rise_by_one_per_write_and_never_fall_below_the_clock() -> None:
    now = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    tick = clock_ticks(now)
    assert next_ledger_seq(0, now) == tick
    assert next_ledger_seq(tick, now) == tick + 1  # two writes in the same tick
    assert next_ledger_seq(tick + 50, now) == tick + 51  # ahead of the clock: counting on
    assert next_ledger_seq(tick, now + timedelta(seconds=1)) == tick + 100
    assert next_ledger_seq(7, SEQ_EPOCH - timedelta(days=1)) == 8
    assert clock_ticks(datetime(2300, 1, 1, tzinfo=UTC)) < 10**12  # below a position's base
