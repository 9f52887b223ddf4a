"""Ledger and ops activities (task queue `hedger-ops`): the workflows' writes to Postgres.

Every write is an idempotent upsert keyed by the identity the workflow already has (chain id +
quote id, client order id, ...), so an activity retried after a lost response changes nothing.
Inputs carry Decimals as strings (exact through any payload converter).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from temporalio import activity

from domain.enums import TradingState
from hedger.db.models import (
    Alert,
    BrokerOrder,
    Notification,
    PositionRecord,
    QuoteDecision,
    QuoteRecord,
    TradingStateRecord,
    utcnow,
)

log = logging.getLogger(__name__)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@dataclass(frozen=True)
class QuoteRow:
    chain_id: int
    quote_id: int
    party_a: str
    symbol_id: int
    position_type: int
    order_type: int
    quantity: str
    requested_open_price: str
    deadline: int
    chain_status: str
    hedge_status: str
    party_b: str | None = None
    symbol: str | None = None
    market_price: str | None = None
    cva: str | None = None
    lf: str | None = None
    party_amm: str | None = None
    party_bmm: str | None = None
    trading_fee: str | None = None
    parent_id: int | None = None
    filled_amount: str | None = None
    opened_price: str | None = None
    closed_amount: str | None = None
    avg_closed_price: str | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class HedgeStatusUpdate:
    chain_id: int
    quote_id: int
    hedge_status: str
    chain_status: str | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class DecisionRow:
    chain_id: int
    quote_id: int
    accepted: bool
    reason: str
    code: int | None = None


@dataclass(frozen=True)
class OrderRow:
    client_order_id: str
    chain_id: int
    quote_id: int
    symbol: str
    side: str
    order_type: str
    amount: str
    status: str
    close_id: int | None = None
    price: str | None = None
    reduce_only: bool = False
    exchange_order_id: str | None = None
    filled: str | None = None
    average_price: str | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class PositionRow:
    chain_id: int
    quote_id: int
    party_a: str
    symbol: str
    position_type: int
    open_quantity: str
    opened_price: str
    broker_quantity: str
    chain_status: str
    hedge_status: str


@dataclass(frozen=True)
class NotificationRow:
    """One front-end notification (SYMMIO.md §5.1 NotificationResponse)."""

    quote_id: int
    counterparty_address: str
    last_seen_action: str
    action_status: str  # seen | success | failed
    state_type: str = "alert"  # alert | report
    failure_type: str | None = None
    failure_message: str | None = None
    error_code: int | None = None
    filled_amount_open: str | None = None
    filled_amount_close: str | None = None
    avg_price_open: str | None = None
    avg_price_close: str | None = None
    order_type: int | None = None


@dataclass(frozen=True)
class AlertRow:
    kind: str
    severity: str  # info | warning | critical
    message: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LimitsView:
    """The hedger's risk limits, read from settings when a workflow starts (recorded in history)."""

    max_open_interest: str
    max_notional_per_symbol: str
    price_band_pct: str
    min_seconds_to_deadline: int


@dataclass(frozen=True)
class ExposureView:
    open_interest: str  # sum of open notional (USD) across positions
    by_symbol: dict[str, str]


class LedgerActivities:
    def __init__(
        self, engine: AsyncEngine, limits: LimitsView, alert_webhook_url: str | None = None
    ) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.limits_view = limits
        self.alert_webhook_url = alert_webhook_url

    def activities(self) -> list[Any]:
        return [
            self.upsert_quote,
            self.set_hedge_status,
            self.record_decision,
            self.upsert_order,
            self.upsert_position,
            self.notify,
            self.raise_alert,
            self.trading_state,
            self.exposure,
            self.limits,
        ]

    @activity.defn(name="ops_limits")
    async def limits(self) -> LimitsView:
        return self.limits_view

    @activity.defn(name="ledger_upsert_quote")
    async def upsert_quote(self, row: QuoteRow) -> None:
        values = {
            "chain_id": row.chain_id, "quote_id": row.quote_id, "party_a": row.party_a, "party_b": row.party_b,
            "symbol_id": row.symbol_id, "symbol": row.symbol, "position_type": row.position_type,
            "order_type": row.order_type, "quantity": _dec(row.quantity),
            "requested_open_price": _dec(row.requested_open_price), "market_price": _dec(row.market_price),
            "cva": _dec(row.cva), "lf": _dec(row.lf), "party_amm": _dec(row.party_amm),
            "party_bmm": _dec(row.party_bmm), "trading_fee": _dec(row.trading_fee), "deadline": row.deadline,
            "parent_id": row.parent_id, "chain_status": row.chain_status, "hedge_status": row.hedge_status,
            "filled_amount": _dec(row.filled_amount), "opened_price": _dec(row.opened_price),
            "closed_amount": _dec(row.closed_amount), "avg_closed_price": _dec(row.avg_closed_price),
            "last_error": row.last_error, "updated_at": utcnow(),
        }  # fmt: skip
        stmt = insert(QuoteRecord).values(**values, created_at=values["updated_at"])
        update = {
            k: v for k, v in values.items() if k not in {"chain_id", "quote_id"} and v is not None
        }
        stmt = stmt.on_conflict_do_update(index_elements=["chain_id", "quote_id"], set_=update)
        async with self.sessions() as session:
            await session.execute(stmt)
            await session.commit()

    @activity.defn(name="ledger_set_hedge_status")
    async def set_hedge_status(self, update: HedgeStatusUpdate) -> None:
        async with self.sessions() as session:
            record = await session.get(QuoteRecord, (update.chain_id, update.quote_id))
            if record is None:
                return  # the quote row is written first; a status for an unknown quote has nothing to update
            record.hedge_status = update.hedge_status
            if update.chain_status:
                record.chain_status = update.chain_status
            record.last_error = update.last_error
            record.updated_at = utcnow()
            await session.commit()

    @activity.defn(name="ledger_record_decision")
    async def record_decision(self, row: DecisionRow) -> None:
        async with self.sessions() as session:
            existing = await session.scalar(
                select(QuoteDecision).where(
                    QuoteDecision.chain_id == row.chain_id,  # type: ignore[arg-type]
                    QuoteDecision.quote_id == row.quote_id,  # type: ignore[arg-type]
                    QuoteDecision.accepted == row.accepted,  # type: ignore[arg-type]
                    QuoteDecision.reason == row.reason,  # type: ignore[arg-type]
                )
            )
            if existing is None:
                session.add(QuoteDecision(**row.__dict__))
                await session.commit()

    @activity.defn(name="ledger_upsert_order")
    async def upsert_order(self, row: OrderRow) -> None:
        values = {
            "client_order_id": row.client_order_id, "chain_id": row.chain_id, "quote_id": row.quote_id,
            "close_id": row.close_id, "symbol": row.symbol, "side": row.side, "order_type": row.order_type,
            "amount": Decimal(row.amount), "price": _dec(row.price), "reduce_only": row.reduce_only,
            "status": row.status, "exchange_order_id": row.exchange_order_id, "filled": _dec(row.filled),
            "average_price": _dec(row.average_price), "last_error": row.last_error, "updated_at": utcnow(),
        }  # fmt: skip
        stmt = insert(BrokerOrder).values(**values, created_at=values["updated_at"])
        update = {k: v for k, v in values.items() if k != "client_order_id" and v is not None}
        stmt = stmt.on_conflict_do_update(index_elements=["client_order_id"], set_=update)
        async with self.sessions() as session:
            await session.execute(stmt)
            await session.commit()

    @activity.defn(name="ledger_upsert_position")
    async def upsert_position(self, row: PositionRow) -> None:
        values = {
            "chain_id": row.chain_id, "quote_id": row.quote_id, "party_a": row.party_a, "symbol": row.symbol,
            "position_type": row.position_type, "open_quantity": Decimal(row.open_quantity),
            "opened_price": Decimal(row.opened_price), "broker_quantity": Decimal(row.broker_quantity),
            "chain_status": row.chain_status, "hedge_status": row.hedge_status, "updated_at": utcnow(),
        }  # fmt: skip
        stmt = insert(PositionRecord).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["chain_id", "quote_id"],
            set_={k: v for k, v in values.items() if k not in {"chain_id", "quote_id"}},
        )
        async with self.sessions() as session:
            await session.execute(stmt)
            await session.commit()

    @activity.defn(name="ledger_notify")
    async def notify(self, row: NotificationRow) -> None:
        """Append a front-end notification; a retry of the same activity attempt writes it once."""
        info = activity.info()
        # Deterministic id per (workflow run, activity id): a retried attempt upserts the same row.
        import uuid

        ident = uuid.uuid5(
            uuid.NAMESPACE_URL, f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"
        )
        now = int(time.time())
        values = {
            "id": ident, "quote_id": row.quote_id, "counterparty_address": row.counterparty_address,
            "last_seen_action": row.last_seen_action, "action_status": row.action_status,
            "state_type": row.state_type, "failure_type": row.failure_type, "failure_message": row.failure_message,
            "error_code": row.error_code, "filled_amount_open": _dec(row.filled_amount_open),
            "filled_amount_close": _dec(row.filled_amount_close), "avg_price_open": _dec(row.avg_price_open),
            "avg_price_close": _dec(row.avg_price_close), "order_type": row.order_type,
            "create_time": now, "modify_time": now,
        }  # fmt: skip
        stmt = insert(Notification).values(**values).on_conflict_do_nothing(index_elements=["id"])
        async with self.sessions() as session:
            await session.execute(stmt)
            await session.commit()

    @activity.defn(name="ops_raise_alert")
    async def raise_alert(self, row: AlertRow) -> None:
        async with self.sessions() as session:
            session.add(
                Alert(
                    kind=row.kind, severity=row.severity, message=row.message, context=row.context
                )
            )
            await session.commit()
        log.warning("ALERT %s [%s]: %s %s", row.kind, row.severity, row.message, row.context)
        if self.alert_webhook_url:
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    await client.post(self.alert_webhook_url, json=row.__dict__)
            except (
                httpx.HTTPError
            ) as exc:  # the alert is recorded; a dead webhook must not block the hedge
                log.error("alert webhook failed: %s", exc)

    @activity.defn(name="ops_trading_state")
    async def trading_state(self) -> str:
        async with self.sessions() as session:
            query = select(TradingStateRecord).order_by(TradingStateRecord.id.desc()).limit(1)  # type: ignore[union-attr]
            newest: TradingStateRecord | None = await session.scalar(query)
        return newest.state if newest is not None else TradingState.ACTIVE.value

    @activity.defn(name="ops_exposure")
    async def exposure(self) -> ExposureView:
        notional = PositionRecord.open_quantity * PositionRecord.opened_price  # type: ignore[operator]
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(PositionRecord.symbol, func.coalesce(func.sum(notional), 0))  # type: ignore[call-overload]
                    .where(PositionRecord.open_quantity > 0)  # type: ignore[operator]
                    .group_by(PositionRecord.symbol)
                )
            ).all()
        by_symbol = {str(symbol): str(total) for symbol, total in rows}
        total = sum((Decimal(v) for v in by_symbol.values()), Decimal(0))
        return ExposureView(open_interest=str(total), by_symbol=by_symbol)
