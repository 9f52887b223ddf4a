"""An intent whose reservation finds the protocol paused holds back; it is not rejected.

The ops worker caches the trading state for a second, so the first round can still read ACTIVE
while the risk-control workflow, asked a moment later to reserve, already knows PartyB actions
are paused (CI, test_a_party_b_actions_pause_...: the workable intent ended REJECTED, 4204).
The workflow runs on the real dev server; its activities are stand-ins that answer exactly that
sequence (the race cannot be timed reliably with the whole stack)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from interfaces.broker import MarketRulesView, MarketSnapshot, SymbolRef
from interfaces.chain import ChainTime, OpenFacts, PartyBFunds, QuoteRef, QuoteView, SymbolInfo
from interfaces.ledger import ExposureView, LimitsView, OpenInputs
from interfaces.risk import ExposureGrant, ExposureRequest
from interfaces.temporal import TaskQueues
from interfaces.workflows import IntentInput
from workers.workflows import build_workflow_worker
from workflows.intent import IntentWorkflow

PARTY_A = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"
PARTY_B = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


class StandIns:
    def __init__(self, quote_id: int) -> None:
        self.quote_id = quote_id
        self.reservations = 0

    @activity.defn(name="chain_open_facts")
    async def open_facts(self, ref: QuoteRef) -> OpenFacts:
        quote = QuoteView(
            quote_id=ref.quote_id, party_a=PARTY_A, party_b=None, symbol_id=1, position_type=0,
            order_type=1, status=0, quantity="0.01", requested_open_price="50000",
            market_price="50000", opened_price="0", closed_amount="0", quantity_to_close="0",
            requested_close_price="0", avg_closed_price="0", cva="5", lf="5", party_amm="20",
            party_bmm="20", trading_fee="0.001", deadline=2_000_000_000, parent_id=0,
            party_bs_whitelist=[],
        )  # fmt: skip
        return OpenFacts(
            party_b=PARTY_B, quote=quote, time=ChainTime(100, 1_800_000_000),
            symbol=SymbolInfo(1, "BTCUSDT", True, "100", "5", "0.001", "0.001"),
            funds=PartyBFunds(PARTY_B, "1000000", "1000000"),
        )  # fmt: skip

    @activity.defn(name="ops_open_inputs")
    async def open_inputs(self) -> OpenInputs:  # the ops worker's cached state: still ACTIVE
        limits = LimitsView("10000000", "1000000", "5", 60)
        return OpenInputs("ACTIVE", limits, ExposureView("0", {}))

    @activity.defn(name="broker_market_snapshot")
    async def market_snapshot(self, ref: SymbolRef) -> MarketSnapshot:
        rules = MarketRulesView("BTC/USDT:USDT", "0.001", "0.1", "5", None)
        return MarketSnapshot(rules, "50000")

    @activity.defn(name="ops_reserve_exposure")
    async def reserve_exposure(self, request: ExposureRequest) -> ExposureGrant:
        self.reservations += 1  # the risk-control workflow already knows the pause
        return ExposureGrant(False, "0", "0", "PROTOCOL_PAUSED", "trading state is PROTOCOL_PAUSED")

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


async def test_a_reservation_refused_for_a_pause_holds_the_intent_back(
    temporal_client: Client,
) -> None:
    stand_ins = StandIns(quote_id=7)
    queue = f"paused-grant-{uuid.uuid4()}"
    ops = [
        stand_ins.open_inputs, stand_ins.reserve_exposure, stand_ins.upsert_quote,
        stand_ins.set_hedge_status, stand_ins.record_decision, stand_ins.notify,
    ]  # fmt: skip
    async with (
        build_workflow_worker(temporal_client, task_queue=queue),
        Worker(temporal_client, task_queue=TaskQueues.CHAIN, activities=[stand_ins.open_facts]),
        Worker(temporal_client, task_queue=TaskQueues.BROKER, activities=[stand_ins.market_snapshot]),
        Worker(temporal_client, task_queue=TaskQueues.OPS, activities=ops),
    ):  # fmt: skip
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
