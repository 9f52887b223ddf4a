"""A funding run over 15,000 open positions, on the real Temporal dev server.

One snapshot of every open quote (about 150 bytes each) passed Temporal's 2 MB payload limit
at about 14,000 positions: the SDK refused the activity's result and every funding run failed,
so funding stopped being charged. The run now reads FUNDING_PARTY_A_PAGE PartyAs per snapshot.

The reads are stand-ins (15,000 positions on anvil would take most of an hour to open); the
workflow, the payloads and the limit are the real ones. tests/chain/test_funding_workflow.py
charges real quotes on anvil.
"""

from __future__ import annotations

import uuid

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from interfaces.chain import ChainTime
from interfaces.funding import (
    FUNDING_PARTY_A_PAGE,
    FundingInput,
    FundingQuote,
    FundingSnapshot,
    FundingSnapshotRequest,
    FundingSymbol,
)
from workflows.funding import FundingWorkflow

PARTY_AS = [f"0x{n + 1:040x}" for n in range(300)]
PER_PARTY_A = 50  # 15,000 positions
EPOCH, WINDOW = 3600, 300
NOW = 1_800_000_000 + EPOCH // 2  # mid-epoch: no funding window is open


class Reads:
    def __init__(self) -> None:
        self.pages: list[list[str] | None] = []

    @activity.defn(name="funding_party_as")
    async def party_as(self) -> list[str]:
        return list(PARTY_AS)

    @activity.defn(name="funding_snapshot")
    async def snapshot(self, request: FundingSnapshotRequest) -> FundingSnapshot:
        self.pages.append(request.party_as)
        party_as = PARTY_AS if request.party_as is None else request.party_as
        quotes = [
            FundingQuote(PARTY_AS.index(a) * 1000 + i, a, 1, 0, "0.0001", NOW - EPOCH)
            for a in party_as
            for i in range(PER_PARTY_A)
        ]
        return FundingSnapshot([FundingSymbol(1, "BTCUSDT", EPOCH, WINDOW)], quotes)


@activity.defn(name="chain_party_b_address")
async def party_b_address() -> str:
    return "0x" + "b" * 40


@activity.defn(name="chain_time")
async def chain_time() -> ChainTime:
    return ChainTime(block_number=1, timestamp=NOW)


async def test_a_funding_run_over_15000_positions_reads_them_page_by_page(
    temporal_client: Client,
) -> None:
    reads = Reads()
    queue = f"funding-payload-{uuid.uuid4().hex[:8]}"
    chain_q, ops_q = f"{queue}-chain", f"{queue}-ops"
    async with (
        Worker(temporal_client, task_queue=queue, workflows=[FundingWorkflow]),
        Worker(temporal_client, task_queue=chain_q, activities=[party_b_address, chain_time]),
        Worker(temporal_client, task_queue=ops_q, activities=[reads.party_as, reads.snapshot]),
    ):
        result = await temporal_client.execute_workflow(
            FundingWorkflow.run, FundingInput(31337, chain_queue=chain_q, ops_queue=ops_q),
            id=queue, task_queue=queue,
        )  # fmt: skip
    assert result.chain_time == NOW and result.charges == []
    # every PartyA read once, FUNDING_PARTY_A_PAGE at a time
    assert all(p is not None and len(p) <= FUNDING_PARTY_A_PAGE for p in reads.pages)
    assert [a for p in reads.pages for a in p or []] == PARTY_AS
