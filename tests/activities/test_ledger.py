"""Ledger activities on the real embedded Postgres: idempotent upserts, exact decimals, alerts, state."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.ledger import MISSING_ROW_ATTEMPTS, LedgerActivities
from activities.ops import OpsActivities
from adapters.risk_control import RiskControl
from interfaces.ledger import (
    AlertRow,
    DecisionRow,
    HedgeStatusUpdate,
    LedgerBatch,
    LimitsView,
    NotificationRow,
    OrderRow,
    PositionRow,
    QuoteRow,
)
from ledger.models import (
    Alert,
    BrokerOrder,
    Notification,
    PositionRecord,
    QuoteDecision,
    QuoteRecord,
)

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


async def test_a_status_before_its_quote_row_is_retried_then_dropped(engine: AsyncEngine) -> None:
    """Background writes may land out of order: the status waits (retryable) for the row."""
    ledger = LedgerActivities(engine)
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(ledger.set_hedge_status, HedgeStatusUpdate(1, 999, "STUCK"))
    assert err.value.type == "LedgerRowMissing" and not err.value.non_retryable
    late = ActivityEnvironment()
    late.info = dataclasses.replace(late.info, attempt=MISSING_ROW_ATTEMPTS)
    await late.run(ledger.set_hedge_status, HedgeStatusUpdate(1, 999, "STUCK"))
    assert await _count(engine, QuoteRecord) == 0


async def test_an_older_write_never_overwrites_a_newer_one(engine: AsyncEngine) -> None:
    """A retried write of OPEN (seq 5) landing after CLOSED (seq 10^12 + 3) changes nothing."""
    ledger = LedgerActivities(engine)
    env = ActivityEnvironment()
    await env.run(ledger.upsert_quote, _quote(seq=1))
    await env.run(
        ledger.set_hedge_status, HedgeStatusUpdate(31337, 7, "CLOSED", "CLOSED", seq=10**12 + 3)
    )
    await env.run(ledger.set_hedge_status, HedgeStatusUpdate(31337, 7, "OPEN", "OPENED", seq=5))
    await env.run(ledger.upsert_quote, _quote(hedge_status="HEDGING", chain_status="LOCKED", seq=2))
    order = OrderRow(
        "h7o1", 31337, 7, "BTC/USDT:USDT", "buy", "limit", "0.01", "closed", filled="0.01", seq=9
    )
    await env.run(ledger.upsert_order, order)
    await env.run(ledger.upsert_order, dataclasses.replace(order, status="open", filled="0", seq=4))
    pos = PositionRow(
        31337, 7, "0xA", "BTCUSDT", 0, "0", "60000", "0", "CLOSED", "CLOSED", seq=10**12 + 9
    )
    await env.run(ledger.upsert_position, pos)
    await env.run(
        ledger.upsert_position,
        dataclasses.replace(pos, open_quantity="0.01", hedge_status="OPEN", seq=10**12 + 2),
    )
    async with engine.connect() as conn:
        quote = (
            await conn.execute(select(QuoteRecord.hedge_status, QuoteRecord.chain_status))
        ).one()
        status = (await conn.execute(select(BrokerOrder.status, BrokerOrder.filled))).one()
        position = (
            await conn.execute(select(PositionRecord.hedge_status, PositionRecord.open_quantity))
        ).one()
    assert quote == ("CLOSED", "CLOSED")
    assert status == ("closed", Decimal("0.01"))
    assert position == ("CLOSED", Decimal(0))


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


async def test_alerts_and_notifications_are_written_once(
    engine: AsyncEngine, temporal_client: Client
) -> None:
    ledger = LedgerActivities(engine)
    risk = RiskControl(temporal_client, 31337)
    ops = OpsActivities(engine, LIMITS, risk, alert_webhook_url="http://127.0.0.1:9/unreachable")
    env = ActivityEnvironment()
    alert = AlertRow("hedge_stuck", "critical", "intent 7 is STUCK", {"quote_id": 7},
                     dedupe_key="intent-31337-7:stuck:1")  # fmt: skip
    await env.run(ops.raise_alert, alert)
    await env.run(ops.raise_alert, alert)  # a retry, or a replayed workflow: one alert
    note = NotificationRow(7, "0xA", "SendQuote", "seen", seq=3)
    await env.run(ledger.notify, note)
    await env.run(ledger.notify, note)  # same activity attempt identity: written once
    assert await _count(engine, Alert) == 1  # a dead webhook loses nothing
    assert await _count(engine, Notification) == 1
    async with engine.connect() as conn:  # the workflow's write order, for the front-end
        assert (await conn.execute(select(Notification.ledger_seq))).scalar_one() == 3
    assert (await env.run(ops.limits)) == LIMITS


async def test_the_alert_webhook_gets_one_slack_compatible_post_per_key(
    engine: AsyncEngine, temporal_client: Client
) -> None:
    """A real HTTP receiver: one post per dedupe key (a retry sends nothing), with Slack's
    `text` and the alert's own fields; a resolve row is marked RESOLVED."""
    import asyncio
    import json
    import uuid

    received: list[dict[str, object]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        received.append(json.loads(await reader.readexactly(length)))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        risk = RiskControl(temporal_client, 31337)
        ops = OpsActivities(engine, LIMITS, risk, alert_webhook_url=f"http://127.0.0.1:{port}/hook")
        env = ActivityEnvironment()
        key = f"partyb_health_low:0xabc:{uuid.uuid4().hex[:8]}"
        alert = AlertRow("partyb_health_low", "critical", "PartyB close to liquidation", {},
                         dedupe_key=key)  # fmt: skip
        await env.run(ops.raise_alert, alert)
        await env.run(ops.raise_alert, alert)  # a retry: recorded and sent already
        resolved = AlertRow("partyb_health_low", "info", "back inside", {},
                            dedupe_key=f"{key}:resolved")  # fmt: skip
        await env.run(ops.raise_alert, resolved)
    finally:
        server.close()
        await server.wait_closed()
    assert [r["dedupe_key"] for r in received] == [key, f"{key}:resolved"]
    assert received[0]["text"] == "[CRITICAL] partyb_health_low: PartyB close to liquidation"
    assert str(received[1]["text"]).startswith("[RESOLVED] partyb_health_low")
    assert received[0]["severity"] == "critical" and received[0]["kind"] == "partyb_health_low"


async def test_a_batch_lands_every_row_once_and_a_failing_row_fails_it_after_the_rest(
    engine: AsyncEngine,
) -> None:
    ledger = LedgerActivities(engine)
    env = ActivityEnvironment()
    batch = LedgerBatch.of([
        NotificationRow(7, "0xA", "SendQuote", "seen", seq=2),
        HedgeStatusUpdate(31337, 7, "LOCKING", "PENDING", seq=3),  # made after, applied after
        _quote(seq=1),
        DecisionRow(31337, 7, True, "accepted"),
        NotificationRow(7, "0xA", "LockQuote", "success", seq=4),
    ])  # fmt: skip
    await env.run(ledger.write_batch, batch)
    await env.run(ledger.write_batch, batch)  # the activity retried: nothing twice
    assert await _count(engine, QuoteRecord) == 1 and await _count(engine, QuoteDecision) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(select(QuoteRecord.hedge_status))).scalar_one() == "LOCKING"
        seqs = (await conn.execute(select(Notification.ledger_seq))).scalars().all()
    assert sorted(seqs) == [2, 4]  # two notices of one batch are two rows

    # a status for a quote not in the ledger yet fails the batch, after the other rows landed
    orphan = LedgerBatch.of([
        HedgeStatusUpdate(31337, 8, "LOCKING", "PENDING", seq=2),
        DecisionRow(31337, 8, False, "Price outside band", 4104),
    ])  # fmt: skip
    with pytest.raises(ApplicationError, match="not in the ledger yet"):
        await env.run(ledger.write_batch, orphan)
    assert await _count(engine, QuoteDecision) == 2


async def test_a_notice_carried_over_continue_as_new_is_not_told_twice(engine: AsyncEngine) -> None:
    """A notice still being written when its workflow continued as new is written again by the
    next run (another run id, another activity): the front-end gets it once (CI: a `report`
    told twice in test_notifications_steps)."""
    ledger = LedgerActivities(engine)
    first, carried = ActivityEnvironment(), ActivityEnvironment()
    first.info = dataclasses.replace(first.info, workflow_id="intent-31337-7", workflow_run_id="r1")
    carried.info = dataclasses.replace(
        carried.info, workflow_id="intent-31337-7", workflow_run_id="r2", activity_id="12"
    )
    note = NotificationRow(7, "0xA", "SendQuote", "seen", state_type="report", seq=5)
    await first.run(ledger.notify, note)
    await carried.run(ledger.notify, note)
    await carried.run(ledger.write_batch, LedgerBatch.of([note]))
    assert await _count(engine, Notification) == 1
    other = dataclasses.replace(note, seq=6)  # the next notice of that workflow is its own row
    await carried.run(ledger.notify, other)
    assert await _count(engine, Notification) == 2
