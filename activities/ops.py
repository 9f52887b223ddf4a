"""Ops activities (task queue `hedger-ops`): alerts, the trading state, limits and exposure.

The contract is `interfaces.ledger.OpsApi`.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from temporalio import activity

from domain.enums import TradingState
from interfaces.ledger import AlertRow, ExposureView, LimitsView, OpsApi
from ledger.models import Alert, PositionRecord, TradingStateRecord

log = logging.getLogger(__name__)


class OpsActivities(OpsApi):
    def __init__(
        self, engine: AsyncEngine, limits: LimitsView, alert_webhook_url: str | None = None
    ) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.limits_view = limits
        self.alert_webhook_url = alert_webhook_url

    def activities(self) -> list[Any]:
        return [self.raise_alert, self.trading_state, self.exposure, self.limits]

    @activity.defn(name="ops_limits")
    async def limits(self) -> LimitsView:
        return self.limits_view

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
