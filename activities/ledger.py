"""Ledger activities (task queue `hedger-ops`): the workflows' writes to Postgres.

Every write is an idempotent upsert keyed by the identity the workflow already has (chain id +
quote id, client order id, ...), so an activity retried after a lost response changes nothing.
The contract (rows, names) is `interfaces.ledger.LedgerApi`.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from interfaces.ledger import (
    DecisionRow,
    HedgeStatusUpdate,
    LedgerApi,
    LedgerBatch,
    NotificationRow,
    OrderRow,
    PositionRow,
    QuoteRow,
)
from interfaces.risk import TradingStateView
from ledger.columns import utcnow
from ledger.models import (
    BrokerOrder,
    Notification,
    PositionRecord,
    QuoteDecision,
    QuoteRecord,
    TradingStateRecord,
)

log = logging.getLogger(__name__)

# A status for a quote row not written yet is retried this many times (background writes may
# land out of order), then dropped with a warning.
MISSING_ROW_ATTEMPTS = 30


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _not_newer(table: Any, stmt: Any) -> Any:
    """Upsert guard: the stored row is replaced only by a write at least as new (`ledger_seq`)."""
    return table.ledger_seq <= stmt.excluded.ledger_seq


class LedgerActivities(LedgerApi):
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    def activities(self) -> list[Any]:
        return [
            self.write_batch,
            self.upsert_quote,
            self.set_hedge_status,
            self.record_decision,
            self.upsert_order,
            self.upsert_position,
            self.notify,
            self.record_trading_state,
        ]

    @activity.defn(name="ledger_write_batch")
    async def write_batch(self, batch: LedgerBatch) -> None:
        """Every row of `batch` in its order; the first failure is raised after the rest were
        tried (each row is idempotent and seq-ordered, so the retry re-applies them harmlessly)."""
        first: Exception | None = None
        for index, row in enumerate(batch.rows()):
            try:
                await self._write_row(row, index)
            except Exception as exc:  # noqa: BLE001 - raised below, after the other rows
                log.warning("ledger batch row %s (%s) failed: %s", index, type(row).__name__, exc)
                first = first or exc
        if first is not None:
            raise first

    async def _write_row(self, row: Any, index: int) -> None:
        if isinstance(row, QuoteRow):
            await self.upsert_quote(row)
        elif isinstance(row, HedgeStatusUpdate):
            await self.set_hedge_status(row)
        elif isinstance(row, DecisionRow):
            await self.record_decision(row)
        elif isinstance(row, OrderRow):
            await self.upsert_order(row)
        elif isinstance(row, PositionRow):
            await self.upsert_position(row)
        elif isinstance(row, NotificationRow):
            await self._notify(row, f"/{index}")
        else:  # pragma: no cover - LedgerBatch holds only these
            raise TypeError(f"not a ledger row: {row!r}")

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
            "last_error": row.last_error, "ledger_seq": row.seq, "updated_at": utcnow(),
        }  # fmt: skip
        stmt = insert(QuoteRecord).values(**values, created_at=values["updated_at"])
        update = {
            k: v for k, v in values.items() if k not in {"chain_id", "quote_id"} and v is not None
        }
        stmt = stmt.on_conflict_do_update(
            index_elements=["chain_id", "quote_id"],
            set_=update,
            where=_not_newer(QuoteRecord, stmt),
        )
        async with self.sessions() as session:
            await session.execute(stmt)
            await session.commit()

    @activity.defn(name="ledger_set_hedge_status")
    async def set_hedge_status(self, update: HedgeStatusUpdate) -> None:
        """Set the quote's hedge status unless a newer write (higher `seq`) already landed."""
        async with self.sessions() as session:
            record = await session.get(QuoteRecord, (update.chain_id, update.quote_id))
            if record is None:
                # Writes run in the background and may land out of order: the row comes first.
                if activity.info().attempt < MISSING_ROW_ATTEMPTS:
                    raise ApplicationError(
                        f"quote {update.quote_id} is not in the ledger yet", type="LedgerRowMissing"
                    )
                log.warning("hedge status of unknown quote %s dropped", update.quote_id)
                return
            if record.ledger_seq > update.seq:
                return  # a newer write already landed
            record.hedge_status = update.hedge_status
            if update.chain_status:
                record.chain_status = update.chain_status
            record.last_error = update.last_error
            record.ledger_seq = update.seq
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
            "average_price": _dec(row.average_price), "last_error": row.last_error,
            "ledger_seq": row.seq, "updated_at": utcnow(),
        }  # fmt: skip
        stmt = insert(BrokerOrder).values(**values, created_at=values["updated_at"])
        update = {k: v for k, v in values.items() if k != "client_order_id" and v is not None}
        stmt = stmt.on_conflict_do_update(
            index_elements=["client_order_id"], set_=update, where=_not_newer(BrokerOrder, stmt)
        )
        async with self.sessions() as session:
            await session.execute(stmt)
            await session.commit()

    @activity.defn(name="ledger_upsert_position")
    async def upsert_position(self, row: PositionRow) -> None:
        values = {
            "chain_id": row.chain_id, "quote_id": row.quote_id, "party_a": row.party_a, "symbol": row.symbol,
            "position_type": row.position_type, "open_quantity": Decimal(row.open_quantity),
            "opened_price": Decimal(row.opened_price), "broker_quantity": Decimal(row.broker_quantity),
            "chain_status": row.chain_status, "hedge_status": row.hedge_status,
            "ledger_seq": row.seq, "updated_at": utcnow(),
        }  # fmt: skip
        stmt = insert(PositionRecord).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["chain_id", "quote_id"],
            set_={k: v for k, v in values.items() if k not in {"chain_id", "quote_id"}},
            where=_not_newer(PositionRecord, stmt),
        )
        async with self.sessions() as session:
            await session.execute(stmt)
            await session.commit()

    @activity.defn(name="ledger_notify")
    async def notify(self, row: NotificationRow) -> None:
        """Append a front-end notification; a retry of the same activity attempt writes it once."""
        await self._notify(row, "")

    async def _notify(self, row: NotificationRow, within: str) -> None:
        """`within`: the row's place in a batch ("" for an activity of its own)."""
        info = activity.info()
        # Deterministic id: the workflow's own number for the notice (its `seq`, carried over
        # continue-as-new), so a retry, a batch and the next run that writes it again all
        # upsert one row; without one, per (workflow run, activity id, place in its batch).
        name = (
            f"{info.workflow_id}/notice/{row.seq}"
            if row.seq
            else f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}{within}"
        )
        ident = uuid.uuid5(uuid.NAMESPACE_URL, name)
        now = int(time.time())
        values = {
            "id": ident, "quote_id": row.quote_id, "counterparty_address": row.counterparty_address,
            "last_seen_action": row.last_seen_action, "action_status": row.action_status,
            "state_type": row.state_type, "failure_type": row.failure_type, "failure_message": row.failure_message,
            "error_code": row.error_code, "filled_amount_open": _dec(row.filled_amount_open),
            "filled_amount_close": _dec(row.filled_amount_close), "avg_price_open": _dec(row.avg_price_open),
            "avg_price_close": _dec(row.avg_price_close), "order_type": row.order_type,
            "create_time": now, "modify_time": now, "ledger_seq": row.seq,
        }  # fmt: skip
        stmt = insert(Notification).values(**values).on_conflict_do_nothing(index_elements=["id"])
        async with self.sessions() as session:
            await session.execute(stmt)
            await session.commit()

    @activity.defn(name="ledger_record_trading_state")
    async def record_trading_state(self, view: TradingStateView) -> None:
        """One history row per change (its version keys it: a retry writes nothing more)."""
        async with self.sessions() as session:
            exists = await session.scalar(
                select(TradingStateRecord.id).where(  # type: ignore[call-overload]
                    TradingStateRecord.changed_at == _parse_time(view.changed_at),
                    TradingStateRecord.state == view.state,
                    TradingStateRecord.changed_by == view.changed_by,
                )
            )
            if exists is None:
                session.add(
                    TradingStateRecord(
                        state=view.state, reason=view.reason, changed_by=view.changed_by,
                        changed_at=_parse_time(view.changed_at) or utcnow(),
                    )
                )  # fmt: skip
                await session.commit()


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
