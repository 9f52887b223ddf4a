"""Ledger activities on the real embedded Postgres: idempotent upserts, exact decimals, alerts, state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.testing import ActivityEnvironment

from activities.ledger import LedgerActivities
from activities.ops import OpsActivities
from interfaces.ledger import (
    AlertRow,
    DecisionRow,
    HedgeStatusUpdate,
    LimitsView,
    NotificationRow,
    OrderRow,
    PositionRow,
    QuoteRow,
)
from ledger.models import Alert, BrokerOrder, Notification, QuoteDecision, QuoteRecord

LIMITS = LimitsView("1000000", "250000", "2", 30)


@pytest.fixture()
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "TRUNCATE quotes, quote_decisions, broker_orders, positions, notifications, alerts, trading_state"
            )
        )
    yield engine
    await engine.dispose()


def _quote(**overrides: object) -> QuoteRow:
    values: dict[str, object] = dict(
        chain_id=31337, quote_id=7, party_a="0x70997970C51812dc3A010C7d01b50e0d17dc79C8", symbol_id=1,
        position_type=0, order_type=1, quantity="0.010000000000000001", requested_open_price="60100",
        deadline=2_000_000_000, chain_status="PENDING", hedge_status="RECEIVED", symbol="BTCUSDT",
    )  # fmt: skip
    values.update(overrides)
    return QuoteRow(**values)  # type: ignore[arg-type]


async def _count(engine: AsyncEngine, model: type) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


async def test_quote_upsert_is_idempotent_and_exact(engine: AsyncEngine) -> None:
    ledger = LedgerActivities(engine)
    env = ActivityEnvironment()
    await env.run(ledger.upsert_quote, _quote())
    await env.run(
        ledger.upsert_quote,
        _quote(chain_status="LOCKED", party_b="0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
    )
    await env.run(ledger.set_hedge_status, HedgeStatusUpdate(31337, 7, "HEDGING", "LOCKED"))
    assert await _count(engine, QuoteRecord) == 1
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(QuoteRecord.quantity, QuoteRecord.chain_status, QuoteRecord.hedge_status)
            )
        ).one()
    assert row == (Decimal("0.010000000000000001"), "LOCKED", "HEDGING")


async def test_status_for_an_unknown_quote_changes_nothing(engine: AsyncEngine) -> None:
    await ActivityEnvironment().run(
        LedgerActivities(engine).set_hedge_status, HedgeStatusUpdate(1, 999, "STUCK")
    )
    assert await _count(engine, QuoteRecord) == 0


async def test_decisions_and_orders_are_recorded_once(engine: AsyncEngine) -> None:
    ledger = LedgerActivities(engine)
    env = ActivityEnvironment()
    decision = DecisionRow(31337, 7, False, "Price outside band", 4104)
    await env.run(ledger.record_decision, decision)
    await env.run(ledger.record_decision, decision)
    order = OrderRow(
        "h7o1", 31337, 7, "BTC/USDT:USDT", "buy", "limit", "0.01", "new", price="60100"
    )
    await env.run(ledger.upsert_order, order)
    await env.run(
        ledger.upsert_order,
        OrderRow(
            **{**order.__dict__, "status": "closed", "filled": "0.01", "average_price": "60050.5"}
        ),
    )
    assert await _count(engine, QuoteDecision) == 1
    assert await _count(engine, BrokerOrder) == 1
    async with engine.connect() as conn:
        status, filled, price = (
            await conn.execute(select(BrokerOrder.status, BrokerOrder.filled, BrokerOrder.price))
        ).one()
    assert (status, filled, price) == ("closed", Decimal("0.01"), Decimal("60100"))


async def test_exposure_sums_open_notional_per_symbol(engine: AsyncEngine) -> None:
    ledger, ops = LedgerActivities(engine), OpsActivities(engine, LIMITS)
    env = ActivityEnvironment()
    for quote_id, qty in ((1, "0.5"), (2, "0.25"), (3, "0")):
        await env.run(
            ledger.upsert_position,
            PositionRow(31337, quote_id, "0xA", "BTCUSDT", 0, qty, "60000", qty, "OPENED", "OPEN"),
        )
    view = await env.run(ops.exposure)
    assert Decimal(view.open_interest) == Decimal("45000")
    assert Decimal(view.by_symbol["BTCUSDT"]) == Decimal("45000")


async def test_trading_state_defaults_to_active_and_newest_row_rules(engine: AsyncEngine) -> None:
    ops = OpsActivities(engine, LIMITS)
    env = ActivityEnvironment()
    assert await env.run(ops.trading_state) == "ACTIVE"
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO trading_state (state, reason, changed_by, changed_at) VALUES "
                 "('HALTED', 'test', 'pytest', now() - interval '1 minute'), ('REDUCE_ONLY', 'test', 'pytest', now())")
        )  # fmt: skip
    assert await env.run(ops.trading_state) == "REDUCE_ONLY"


async def test_alerts_and_notifications_are_written(engine: AsyncEngine) -> None:
    ledger = LedgerActivities(engine)
    ops = OpsActivities(engine, LIMITS, alert_webhook_url="http://127.0.0.1:9/unreachable")
    env = ActivityEnvironment()
    await env.run(
        ops.raise_alert,
        AlertRow("hedge_stuck", "critical", "intent 7 is STUCK", {"quote_id": 7}),
    )
    note = NotificationRow(7, "0xA", "SendQuote", "seen")
    await env.run(ledger.notify, note)
    await env.run(ledger.notify, note)  # same activity attempt identity: written once
    assert await _count(engine, Alert) == 1  # a dead webhook loses nothing
    assert await _count(engine, Notification) == 1
    assert (await env.run(ops.limits)) == LIMITS
