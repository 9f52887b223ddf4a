"""The risk-control workflow on the real Temporal dev server, with the real ledger activities:
exposure reserved atomically under concurrency, the kill switch, its history in Postgres."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.ledger import LedgerActivities
from adapters.risk_control import RiskControl
from interfaces.chain import ProtocolStateView
from interfaces.risk import ExposureRequest, ExposureResize, TradingStateChange
from interfaces.temporal import TaskQueues
from workflows.risk_control import RiskControlWorkflow

_chain_ids = itertools.count(900_000 + uuid.uuid4().int % 10_000 * 10)


@pytest.fixture()
async def risk(temporal_client: Client, database_url: str) -> AsyncIterator[RiskControl]:
    engine = create_async_engine(database_url)
    queue = f"risk-{uuid.uuid4()}"
    ledger = LedgerActivities(engine)
    async with (
        Worker(temporal_client, task_queue=queue, workflows=[RiskControlWorkflow]),
        Worker(temporal_client, task_queue=TaskQueues.OPS, activities=[ledger.record_trading_state]),
    ):  # fmt: skip
        yield RiskControl(temporal_client, next(_chain_ids), task_queue=queue)
    await engine.dispose()


def _request(quote_id: int, notional: str = "250") -> ExposureRequest:
    return ExposureRequest(quote_id, "BTCUSDT", notional, "100000", "1000")


async def test_concurrent_reservations_never_exceed_the_cap(risk: RiskControl) -> None:
    grants = await asyncio.gather(*(risk.reserve(_request(q)) for q in range(1, 21)))
    assert sum(g.granted for g in grants) == 4  # 4 × 250 = the 1,000 symbol cap
    refused = [g for g in grants if not g.granted]
    assert all("notional cap" in g.reason for g in refused)
    book = await risk.book()
    assert (book.quotes, Decimal(book.by_symbol["BTCUSDT"])) == (4, Decimal(1000))
    winner = next(q for q, g in zip(range(1, 21), grants, strict=True) if g.granted)
    assert (await risk.reserve(_request(winner))).granted  # a retry is not counted twice
    await risk.resize(ExposureResize(winner, "BTCUSDT", "0"))
    assert (await risk.reserve(_request(99))).granted  # released room is reusable


async def test_the_kill_switch_refuses_new_risk_and_is_recorded(
    risk: RiskControl, database_url: str, temporal_client: Client, record_history: Any
) -> None:
    assert (await risk.trading_state()).state == "ACTIVE"
    reason = f"exchange outage {uuid.uuid4()}"
    view = await risk.set_trading_state(TradingStateChange("halted", reason, "pytest"))
    assert (view.state, view.version) == ("HALTED", 1)
    grant = await risk.reserve(_request(1))
    assert not grant.granted and grant.trading_state == "HALTED"
    with pytest.raises(ValueError, match="reason is required"):
        await risk.set_trading_state(TradingStateChange("ACTIVE", "  ", "pytest"))
    with pytest.raises(ValueError, match="unknown trading state"):
        await risk.set_trading_state(TradingStateChange("SIDEWAYS", "why not", "pytest"))
    assert (await risk.trading_state()).state == "HALTED"
    await record_history(
        temporal_client.get_workflow_handle(risk.workflow_id), "RiskControlWorkflow", "kill-switch"
    )
    engine = create_async_engine(database_url)
    try:
        for _ in range(50):
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text("SELECT state FROM trading_state WHERE reason = :r"), {"r": reason}
                    )
                ).all()
            if rows:
                break
            await asyncio.sleep(0.2)
        assert rows == [("HALTED",)]
    finally:
        await engine.dispose()


async def test_ops_activities_read_the_kill_switch_and_the_book(
    risk: RiskControl, database_url: str
) -> None:
    from temporalio.testing import ActivityEnvironment

    from activities.ops import OpsActivities
    from interfaces.ledger import LimitsView

    engine = create_async_engine(database_url)
    ops = OpsActivities(engine, LimitsView("100000", "1000", "2", 30), risk)
    env = ActivityEnvironment()
    try:
        assert await env.run(ops.trading_state) == "ACTIVE"
        grant = await env.run(ops.reserve_exposure, _request(5, "400"))
        assert grant.granted and Decimal(grant.symbol_notional) == Decimal(400)
        view = await env.run(ops.exposure)
        assert Decimal(view.open_interest) == Decimal(400) and view.by_symbol == {"BTCUSDT": "400"}
        inputs = await env.run(ops.open_inputs)  # the three reads in one activity
        assert (inputs.trading_state, inputs.limits, inputs.exposure) == (
            "ACTIVE", ops.limits_view, view
        )  # fmt: skip
        await env.run(ops.resize_exposure, ExposureResize(5, "BTCUSDT", "0"))
        assert (await env.run(ops.exposure)).by_symbol == {}
        await risk.set_trading_state(TradingStateChange("REDUCE_ONLY", "end of day", "pytest"))
        await asyncio.sleep(1.1)  # past the activity's cache
        assert await env.run(ops.trading_state) == "REDUCE_ONLY"
    finally:
        await engine.dispose()


async def test_the_first_round_reservation_reports_the_book_before_it(
    risk: RiskControl, database_url: str
) -> None:
    """`ops_open_inputs_reserving`: one update of the risk-control workflow reserves the quote
    and tells the policy the trading state and the book as they were before it."""
    from temporalio.testing import ActivityEnvironment

    from activities.ops import OpsActivities
    from interfaces.ledger import EarlyReservation, LimitsView

    engine = create_async_engine(database_url)
    ops = OpsActivities(engine, LimitsView("100000", "1000", "2", 30), risk)
    env = ActivityEnvironment()
    try:
        assert (await risk.reserve(_request(1, "300"))).granted  # another quote in flight
        first = await env.run(ops.open_inputs_reserving, EarlyReservation(2, "BTCUSDT", "500"))
        assert first.grant is not None and first.grant.granted
        assert first.trading_state == "ACTIVE"
        book = first.exposure
        assert (Decimal(book.open_interest), Decimal(book.by_symbol["BTCUSDT"])) == (300, 300)
        again = await env.run(ops.open_inputs_reserving, EarlyReservation(2, "BTCUSDT", "500"))
        assert again == first  # a retried activity: granted once, the same book before it
        over = await env.run(ops.open_inputs_reserving, EarlyReservation(3, "BTCUSDT", "400"))
        assert over.grant is not None and not over.grant.granted  # 800 + 400 > the 1,000 cap
        assert Decimal(over.exposure.by_symbol["BTCUSDT"]) == 800
        assert (await risk.book()).quotes == 2
    finally:
        await engine.dispose()


@activity.defn(name="chain_protocol_state")
async def protocol_state() -> ProtocolStateView:
    return ProtocolStateView(False, False, False, False)


async def test_the_book_survives_continue_as_new(
    temporal_client: Client, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The book lives in memory between updates and is written to the state only to continue
    as new: every reservation is still there in the next run. (Unsandboxed, so the lowered
    history limit reaches the workflow code.)"""
    import workflows.risk_control as module

    monkeypatch.setattr(module, "HISTORY_LIMIT", 40)
    engine = create_async_engine(database_url)
    queue = f"risk-{uuid.uuid4()}"
    ledger = LedgerActivities(engine)
    async with (
        Worker(temporal_client, task_queue=queue, workflows=[RiskControlWorkflow],
               workflow_runner=UnsandboxedWorkflowRunner()),
        Worker(temporal_client, task_queue=TaskQueues.OPS, activities=[ledger.record_trading_state]),
        Worker(temporal_client, task_queue=TaskQueues.CHAIN, activities=[protocol_state]),
    ):  # fmt: skip
        risk = RiskControl(temporal_client, next(_chain_ids), task_queue=queue)
        for q in range(1, 31):
            assert (
                await risk.reserve(ExposureRequest(q, "BTCUSDT", "10", "100000", "100000"))
            ).granted
        await risk.resize(ExposureResize(1, "BTCUSDT", "0"))
        await risk.resize(ExposureResize(2, "BTCUSDT", "25"))
        handle = temporal_client.get_workflow_handle(risk.workflow_id)
        runs = [r async for r in temporal_client.list_workflows(f"WorkflowId = '{handle.id}'")]
        for _ in range(50):  # visibility is eventually consistent
            if len(runs) > 1:
                break
            await asyncio.sleep(0.2)
            runs = [r async for r in temporal_client.list_workflows(f"WorkflowId = '{handle.id}'")]
        assert len(runs) > 1, "the risk-control workflow never continued as new"
        book = await risk.book()
        assert (book.quotes, Decimal(book.by_symbol["BTCUSDT"])) == (29, Decimal(28 * 10 + 25))
    await engine.dispose()
