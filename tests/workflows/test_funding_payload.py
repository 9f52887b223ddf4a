"""A funding run over 15,000 open positions, on the real Temporal dev server.

One snapshot of every open quote (about 150 bytes each) passed Temporal's 2 MB payload limit
at about 14,000 positions: the SDK refused the activity's result and every funding run failed,
so funding stopped being charged. The run now reads FUNDING_PARTY_A_PAGE PartyAs per snapshot,
and at most FUNDING_QUOTE_PAGE quotes (one PartyA can hold 15,000 positions on its own).

The reads are stand-ins (15,000 positions on anvil would take most of an hour to open); the
workflow, the payloads and the limit are the real ones. tests/chain/test_funding_workflow.py
charges real quotes on anvil.
"""

from __future__ import annotations

import uuid

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.funding import snapshot_page
from interfaces.chain import ChainTime
from interfaces.funding import (
    FUNDING_PARTY_A_PAGE,
    FUNDING_QUOTE_PAGE,
    FundingInput,
    FundingQuote,
    FundingResult,
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
    """The ops worker's funding reads over `per_party_a` open positions of each of `party_as`,
    paged as the real activity pages them (`activities.funding.snapshot_page`)."""

    def __init__(self, party_as: list[str] = PARTY_AS, per_party_a: int = PER_PARTY_A) -> None:
        self.party_as_known = party_as
        self.per_party_a = per_party_a
        self.pages: list[list[str] | None] = []
        self.requests: list[FundingSnapshotRequest] = []

    @activity.defn(name="funding_party_as")
    async def party_as(self) -> list[str]:
        return list(self.party_as_known)

    @activity.defn(name="funding_snapshot")
    async def snapshot(self, request: FundingSnapshotRequest) -> FundingSnapshot:
        self.pages.append(request.party_as)
        self.requests.append(request)
        party_as = self.party_as_known if request.party_as is None else request.party_as
        quotes = [
            FundingQuote(
                self.party_as_known.index(a) * 100_000 + i + 1, a, 1, 0, "0.0001", NOW - EPOCH
            )  # fmt: skip
            for a in party_as
            for i in range(self.per_party_a)
        ]
        return snapshot_page([FundingSymbol(1, "BTCUSDT", EPOCH, WINDOW)], quotes, request)


@activity.defn(name="chain_party_b_address")
async def party_b_address() -> str:
    return "0x" + "b" * 40


@activity.defn(name="chain_time")
async def chain_time() -> ChainTime:
    return ChainTime(block_number=1, timestamp=NOW)


async def _run(temporal_client: Client, reads: Reads) -> FundingResult:
    """One funding run, its reads by `reads`, on queues of its own."""
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
    return result


async def test_a_funding_run_over_15000_positions_reads_them_page_by_page(
    temporal_client: Client,
) -> None:
    reads = Reads()
    result = await _run(temporal_client, reads)
    assert result.chain_time == NOW and result.charges == []
    # every PartyA in one page of FUNDING_PARTY_A_PAGE, asked again until its quotes are read
    assert all(p is not None for p in reads.pages)
    pages = list(dict.fromkeys(tuple(p or []) for p in reads.pages))
    assert all(len(p) <= FUNDING_PARTY_A_PAGE for p in pages)
    assert [a for p in pages for a in p] == PARTY_AS
    assert len(reads.pages) == len(pages) * -(
        -FUNDING_PARTY_A_PAGE * PER_PARTY_A // FUNDING_QUOTE_PAGE
    )


async def test_one_party_a_with_15000_positions_is_read_page_by_page(
    temporal_client: Client,
) -> None:
    """One PartyA's open quotes alone passed the payload limit: its snapshot was one page."""
    one = [PARTY_AS[0]]
    reads = Reads(one, per_party_a=15_000)
    result = await _run(temporal_client, reads)
    assert result.chain_time == NOW and result.charges == []
    assert all(r.party_as == one and r.max_quotes == FUNDING_QUOTE_PAGE for r in reads.requests)
    # each page starts after the last quote of the one before: every quote read once
    assert [r.after_quote_id for r in reads.requests] == [
        n * FUNDING_QUOTE_PAGE for n in range(-(-15_000 // FUNDING_QUOTE_PAGE))
    ]
