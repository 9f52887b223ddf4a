"""Ops activities (task queue `hedger-ops`): alerts, the trading state, limits and exposure.

The trading state and the exposure book live in the risk-control workflow (`interfaces.risk`,
reached through `adapters.risk_control`), so nothing a hedge needs before it takes risk waits on
Postgres; alerts are recorded in Postgres (and retried while it is away). The contract is
`interfaces.ledger.OpsApi`.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from temporalio import activity

from activities.risk_reads import RiskReads
from adapters.risk_control import RiskControl
from interfaces.ledger import (
    AlertRow,
    LimitsView,
    OpsApi,
)  # fmt: skip
from ledger.columns import utcnow
from ledger.models import Alert

log = logging.getLogger(__name__)


def webhook_payload(row: AlertRow) -> dict[str, Any]:
    """A Slack-compatible body (`text` is what Slack and Mattermost show) carrying the alert's
    fields too, so any webhook consumer can route on `kind`, `severity` and `dedupe_key` (a
    resolve message is a row whose key ends in `:resolved`)."""
    resolved = bool(row.dedupe_key and row.dedupe_key.endswith(":resolved"))
    mark = "RESOLVED" if resolved else row.severity.upper()
    return {"text": f"[{mark}] {row.kind}: {row.message}", **row.__dict__}


class OpsActivities(RiskReads, OpsApi):
    """The ops worker's activities: alerts, and the risk-control reads of `RiskReads`."""

    def __init__(
        self,
        engine: AsyncEngine,
        limits: LimitsView,
        risk: RiskControl,
        alert_webhook_url: str | None = None,
    ) -> None:
        super().__init__(limits, risk)
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.alert_webhook_url = alert_webhook_url

    def activities(self) -> list[Any]:
        return [
            self.raise_alert, self.trading_state, self.exposure, self.limits,
            self.reserve_exposure, self.resize_exposure, self.open_inputs,
            self.open_inputs_reserving,
        ]  # fmt: skip

    @activity.defn(name="ops_raise_alert")
    async def raise_alert(self, row: AlertRow) -> None:
        """Record the alert and post it to the webhook, once per `dedupe_key`."""
        table = Alert.__table__  # type: ignore[attr-defined]
        stmt = (
            insert(table)
            .values(
                kind=row.kind,
                severity=row.severity,
                message=row.message,
                context=row.context,
                dedupe_key=row.dedupe_key,
                created_at=utcnow(),
            )  # fmt: skip
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(table.c.id)
        )
        async with self.sessions() as session:
            inserted = (await session.execute(stmt)).first() is not None
            await session.commit()
        if not inserted:
            return  # raised before (a retry or a replay): recorded and sent already
        log.warning("ALERT %s [%s]: %s %s", row.kind, row.severity, row.message, row.context)
        if self.alert_webhook_url:
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    await client.post(self.alert_webhook_url, json=webhook_payload(row))
            except httpx.HTTPError as exc:  # recorded; a dead webhook must not block the hedge
                log.error("alert webhook failed: %s", exc)
