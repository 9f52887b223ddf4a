"""The validator's run with 15,000 open positions, on the real Temporal dev server.

A snapshot of the chain, broker and ledger costs about 165 bytes per open position; sent back
to the workflow whole, it passed Temporal's 2 MB payload limit at about 12,000 positions, the
server refused the activity's result and every validator run failed. The snapshot is now
reconciled in the activity that read it, and only the findings travel.

The reads are stand-ins here (15,000 positions on anvil would take most of an hour to open);
the reconciliation, the workflow, the payloads and the server's limit are the real ones.
"""

from __future__ import annotations

import uuid
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.validator import ValidatorActivities
from interfaces.ledger import AlertRow
from interfaces.temporal import TaskQueues
from interfaces.validator import (
    ChainPositionRow,
    LedgerPositionRow,
    RecordRequest,
    SnapshotRequest,
    SnapshotView,
    ValidatorInput,
)
from workflows.validator import ValidatorWorkflow

POSITIONS = 15_000
BTC = "BTC/USDT:USDT"
PARTY_B = "0x" + "b" * 40


class LargeBook(ValidatorActivities):
    """Every read answers a hedged book of `POSITIONS` positions, chain = broker = ledger."""

    def __init__(self) -> None:
        super().__init__(None, None, 31337, lambda: None, lambda: None)  # type: ignore[arg-type]
        self.recorded: list[RecordRequest] = []

    @activity.defn(name="validator_snapshot")
    async def snapshot(self, request: SnapshotRequest) -> SnapshotView:
        ids = range(1, POSITIONS + 1)
        return SnapshotView(
            party_b=request.party_b,
            chain=[ChainPositionRow(q, BTC, 0, "0.003") for q in ids],
            broker_positions={BTC: format(POSITIONS * 3 / 1000, "f")},
            ledger=[LedgerPositionRow(q, BTC, "0.003", "OPEN") for q in ids],
            party_as=375,
        )

    @activity.defn(name="validator_open_findings")
    async def open_findings(self) -> list[Any]:
        return []

    @activity.defn(name="validator_record")
    async def record(self, request: RecordRequest) -> None:
        self.recorded.append(request)


@activity.defn(name="chain_party_b_address")
async def party_b_address() -> str:
    return PARTY_B


@activity.defn(name="ops_raise_alert")
async def raise_alert(row: AlertRow) -> None:
    raise AssertionError(f"a hedged book raised {row}")


async def test_a_book_of_15000_positions_is_validated(temporal_client: Client) -> None:
    book = LargeBook()
    queue = f"validator-payload-{uuid.uuid4().hex[:8]}"
    async with (
        Worker(temporal_client, task_queue=queue, workflows=[ValidatorWorkflow]),
        Worker(temporal_client, task_queue=TaskQueues.CHAIN, activities=[party_b_address]),
        Worker(
            temporal_client, task_queue=TaskQueues.OPS, activities=[*book.activities(), raise_alert]
        ),  # fmt: skip
    ):
        handle = await temporal_client.start_workflow(
            ValidatorWorkflow.run, ValidatorInput(31337), id=f"validator-payload-{queue}",
            task_queue=queue,
        )  # fmt: skip
        result = await handle.result()
    assert set(result.open_by_kind.values()) == {0}
    assert [len(r.open) for r in book.recorded] == [0]
