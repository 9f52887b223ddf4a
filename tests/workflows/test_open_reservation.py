"""How an intent reserves its notional before the lock.

- A reservation the exposure book refuses because the protocol paused PartyB actions holds the
  intent back; it is not rejected. The ops worker caches the trading state for a second, so the first round can still read ACTIVE
while the risk-control workflow, asked a moment later to reserve, already knows PartyB actions
are paused (CI, test_a_party_b_actions_pause_...: the workable intent ended REJECTED, 4204).
The workflow runs on the real dev server; its activities are stand-ins that answer exactly that
sequence (the race cannot be timed reliably with the whole stack).
- With its SendQuote event and the listener's symbol at the start, the reservation goes out
  with the first round of reads; a quote the policy then declines gives it back.
(The accepted early path, end to end: tests/e2e/test_lifecycle.py.)"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import Worker

from interfaces.broker import MarketRulesView, MarketSnapshot, SymbolRef
from interfaces.chain import ChainTime, OpenFacts, PartyBFunds, QuoteRef, QuoteView, SymbolInfo
from interfaces.ledger import EarlyReservation, ExposureView, LimitsView, OpenInputs
from interfaces.risk import ExposureGrant, ExposureRequest, ExposureResize
from interfaces.temporal import SearchAttributes, TaskQueues
from interfaces.workflows import SIGNAL_CHAIN_EVENT, ChainLog, IntentInput
from workers.workflows import build_workflow_worker
from workflows.intent import IntentWorkflow

PARTY_A = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"
PARTY_B = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


VECTORS = Path(__file__).resolve().parents[1] / "muon" / "vectors" / "logs.json"


class StandIns:
    def __init__(self, *, paused: bool = True, listed: bool = True) -> None:
        self.paused, self.listed = paused, listed
        self.reservations = 0
        self.early: list[EarlyReservation] = []
        self.resized: list[ExposureResize] = []

    @activity.defn(name="chain_open_facts")
    async def open_facts(self, ref: QuoteRef) -> OpenFacts:
        quote = QuoteView(
            quote_id=ref.quote_id, party_a=PARTY_A, party_b=None, symbol_id=1, position_type=0,
            order_type=1, status=0, quantity="0.01", requested_open_price="60100",
            market_price="60000", opened_price="0", closed_amount="0", quantity_to_close="0",
            requested_close_price="0", avg_closed_price="0", cva="10", lf="5", party_amm="50",
            party_bmm="50", trading_fee="0.01", deadline=1_795_739_761, parent_id=0,
            party_bs_whitelist=[],
        )  # fmt: skip
        return OpenFacts(
            party_b=PARTY_B, quote=quote, time=ChainTime(100, 1_795_000_000),
            symbol=SymbolInfo(1, "BTCUSDT", True, "100", "5", "0.001", "0.001"),
            funds=PartyBFunds(PARTY_B, "1000000", "1000000"),
        )  # fmt: skip

    @activity.defn(name="ops_open_inputs")
    async def open_inputs(self) -> OpenInputs:  # the ops worker's cached state: still ACTIVE
        limits = LimitsView("10000000", "1000000", "5", 60)
        return OpenInputs("ACTIVE", limits, ExposureView("0", {}))

    @activity.defn(name="ops_open_inputs_reserving")
    async def open_inputs_reserving(self, early: EarlyReservation) -> OpenInputs:
        self.early.append(early)
        return replace(await self.open_inputs(), grant=self._grant(early.notional))

    @activity.defn(name="broker_market_snapshot")
    async def market_snapshot(self, ref: SymbolRef) -> MarketSnapshot:
        if not self.listed:
            return MarketSnapshot(None, None, f"{ref.name} is not listed")
        rules = MarketRulesView("BTC/USDT:USDT", "0.001", "0.1", "5", None)
        return MarketSnapshot(rules, "60000")

    @activity.defn(name="ops_reserve_exposure")
    async def reserve_exposure(self, request: ExposureRequest) -> ExposureGrant:
        self.reservations += 1
        return self._grant(request.notional)

    @activity.defn(name="ops_resize_exposure")
    async def resize_exposure(self, change: ExposureResize) -> None:
        self.resized.append(change)

    def _grant(self, notional: str) -> ExposureGrant:
        if self.paused:  # the risk-control workflow already knows the pause
            reason = "trading state is PROTOCOL_PAUSED"
            return ExposureGrant(False, "0", "0", "PROTOCOL_PAUSED", reason)
        return ExposureGrant(True, notional, notional, "ACTIVE")

    @activity.defn(name="ledger_write_batch")
    async def write_batch(self, batch: Any) -> None:
        return None

    @activity.defn(name="ledger_upsert_quote")
    async def upsert_quote(self, row: Any) -> None:
        return None

    @activity.defn(name="ledger_set_hedge_status")
    async def set_hedge_status(self, row: Any) -> None:
        return None

    @activity.defn(name="ledger_record_decision")
    async def record_decision(self, row: Any) -> None:
        return None

    @activity.defn(name="ledger_notify")
    async def notify(self, row: Any) -> None:
        return None


@asynccontextmanager
async def _running(client: Client, stand_ins: StandIns) -> AsyncIterator[str]:
    """A workflow worker on its own queue (its name yielded), running the first round's reads
    locally, and the stand-ins on their queues."""
    queue = f"open-reservation-{uuid.uuid4()}"
    ops = [
        stand_ins.open_inputs, stand_ins.open_inputs_reserving, stand_ins.reserve_exposure,
        stand_ins.resize_exposure, stand_ins.upsert_quote, stand_ins.set_hedge_status,
        stand_ins.record_decision, stand_ins.notify, stand_ins.write_batch,
    ]  # fmt: skip
    async with (
        build_workflow_worker(client, task_queue=queue, local_reads=[
            stand_ins.open_facts, stand_ins.open_inputs, stand_ins.open_inputs_reserving,
            stand_ins.market_snapshot,
        ]),
        Worker(client, task_queue=TaskQueues.CHAIN, activities=[stand_ins.open_facts]),
        Worker(client, task_queue=TaskQueues.BROKER, activities=[stand_ins.market_snapshot]),
        Worker(client, task_queue=TaskQueues.OPS, activities=ops),
    ):  # fmt: skip
        yield queue


def _send_quote_log() -> ChainLog:
    raw = next(x for x in json.loads(VECTORS.read_text())["logs"] if x["event"] == "SendQuote")
    return ChainLog(
        address=raw["address"], topics=list(raw["topics"]), data=raw["data"],
        block_number=int(raw["blockNumber"]), tx_hash=raw["transactionHash"],
        log_index=int(raw["logIndex"]), source="ws", block_hash="0x" + "aa" * 32,
    )  # fmt: skip


async def test_a_reservation_refused_for_a_pause_holds_the_intent_back(
    temporal_client: Client,
) -> None:
    stand_ins = StandIns(paused=True)
    async with _running(temporal_client, stand_ins) as queue:
        handle = await temporal_client.start_workflow(
            IntentWorkflow.run, IntentInput(31337, 7), id=f"paused-grant-{uuid.uuid4()}",
            task_queue=queue,
        )  # fmt: skip
        try:
            state: dict[str, Any] = {}
            for _ in range(150):
                await asyncio.sleep(0.1)
                described = await handle.describe()
                assert described.status == WorkflowExecutionStatus.RUNNING, (
                    f"the intent ended ({described.status}) instead of holding back: "
                    f"{await handle.result()}: {(await handle.query('state'))['decision']}"
                )
                state = await handle.query("state")
                if state["trading_state"] == "PROTOCOL_PAUSED":
                    break
            assert stand_ins.reservations == 1 and state["trading_state"] == "PROTOCOL_PAUSED"
            assert not state["decided"] and state["hedge_status"] != "REJECTED"
        finally:
            await handle.terminate("test over")


async def test_the_first_round_reserves_and_a_declined_quote_gives_it_back(
    temporal_client: Client,
) -> None:
    stand_ins = StandIns(paused=False, listed=False)  # the broker does not list it: declined
    async with _running(temporal_client, stand_ins) as queue:
        handle = await temporal_client.start_workflow(
            IntentWorkflow.run, IntentInput(31337, 1), id=f"early-reservation-{uuid.uuid4()}",
            task_queue=queue, start_signal=SIGNAL_CHAIN_EVENT, start_signal_args=[_send_quote_log()],
            search_attributes=TypedSearchAttributes([SearchAttributePair(SearchAttributes.SYMBOL, "BTCUSDT")]),
        )  # fmt: skip
        assert await asyncio.wait_for(handle.result(), 30) == "rejected"
    early = [(e.quote_id, e.symbol, Decimal(e.notional)) for e in stand_ins.early]
    assert early == [(1, "BTCUSDT", Decimal(601))]  # 0.01 at 60,100, from the event
    assert stand_ins.reservations == 0  # no second reservation after the decision
    assert stand_ins.resized == [ExposureResize(1, "BTCUSDT", "0")]
