"""Ops activities (task queue `hedger-ops`): alerts, the trading state, limits and exposure.

The trading state and the exposure book live in the risk-control workflow (`interfaces.risk`,
reached through `adapters.risk_control`), so nothing a hedge needs before it takes risk waits on
Postgres; alerts are recorded in Postgres (and retried while it is away). The contract is
`interfaces.ledger.OpsApi`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.risk_control import RiskControl
from interfaces.ledger import (
    AlertRow,
    EarlyReservation,
    ExposureView,
    LimitsView,
    OpenInputs,
    OpsApi,
)  # fmt: skip
from interfaces.risk import ExposureGrant, ExposureRequest, ExposureResize
from ledger.columns import utcnow
from ledger.models import Alert

log = logging.getLogger(__name__)

TRADING_STATE_TTL_SECONDS = 1.0


def webhook_payload(row: AlertRow) -> dict[str, Any]:
    """A Slack-compatible body (`text` is what Slack and Mattermost show) carrying the alert's
    fields too, so any webhook consumer can route on `kind`, `severity` and `dedupe_key` (a
    resolve message is a row whose key ends in `:resolved`)."""
    resolved = bool(row.dedupe_key and row.dedupe_key.endswith(":resolved"))
    mark = "RESOLVED" if resolved else row.severity.upper()
    return {"text": f"[{mark}] {row.kind}: {row.message}", **row.__dict__}


class RiskReads:
    """What a workflow reads from the risk-control workflow before it takes risk: the trading
    state, the limits, the exposure book and its reservations. The ops worker's
    `OpsActivities` is one; the workflow worker hosts another for the reads the workflows run
    as local activities (`workers.local_reads`)."""

    def __init__(self, limits: LimitsView, risk: RiskControl) -> None:
        self.limits_view = limits
        self.risk = risk
        self._trading: tuple[float, str] | None = None  # (monotonic time read, state)

    def local_reads(self) -> list[Any]:
        """The reads the workflows run as local activities."""
        return [self.open_inputs, self.open_inputs_reserving]

    @activity.defn(name="ops_trading_state")
    async def trading_state(self) -> str:
        """The kill switch, from the risk-control workflow (never from Postgres), cached for
        `TRADING_STATE_TTL_SECONDS`; when the workflow cannot answer, the last state read."""
        now = time.monotonic()
        if self._trading is not None and now - self._trading[0] < TRADING_STATE_TTL_SECONDS:
            return self._trading[1]
        try:
            view = await self.risk.trading_state()
        except Exception as exc:  # noqa: BLE001 - Temporal trouble: the last known state rules
            if self._trading is None:
                raise ApplicationError(
                    f"trading state unavailable: {exc}", type="TradingStateUnavailable"
                ) from exc
            log.warning("trading state unavailable (%s); using the last one read", exc)
            return self._trading[1]
        self._trading = (now, view.state)
        return view.state

    @activity.defn(name="ops_exposure")
    async def exposure(self) -> ExposureView:
        """Notional held in the exposure book: open positions and every quote in flight."""
        book = await self.risk.book()
        return ExposureView(open_interest=book.open_interest, by_symbol=dict(book.by_symbol))

    @activity.defn(name="ops_limits")
    async def limits(self) -> LimitsView:
        return self.limits_view

    @activity.defn(name="ops_open_inputs")
    async def open_inputs(self) -> OpenInputs:
        """The trading state, the limits and the exposure book, read concurrently."""
        state, exposure = await asyncio.gather(self.trading_state(), self.exposure())
        return OpenInputs(state, self.limits_view, exposure)

    @activity.defn(name="ops_open_inputs_reserving")
    async def open_inputs_reserving(self, early: EarlyReservation) -> OpenInputs:
        """`early` reserved in one update of the risk-control workflow, and what the policy
        judges taken from its answer: the trading state it reserved under and the book before
        this quote's own reservation (a grant reports the totals with it, a refusal without),
        as when it reserves after deciding. The book shows the hinted symbol only: the policy
        reads no other (a quote on another symbol reserves afresh, atomically, anyway)."""
        grant = await self.risk.reserve(
            ExposureRequest(
                early.quote_id, early.symbol, early.notional, self.limits_view.max_open_interest,
                self.limits_view.notional_cap(early.symbol),
            )
        )  # fmt: skip
        own = Decimal(early.notional) if grant.granted else Decimal(0)
        before = ExposureView(
            open_interest=str(Decimal(grant.open_interest) - own),
            by_symbol={early.symbol: str(Decimal(grant.symbol_notional) - own)},
        )
        return OpenInputs(grant.trading_state, self.limits_view, before, grant=grant)

    @activity.defn(name="ops_reserve_exposure")
    async def reserve_exposure(self, request: ExposureRequest) -> ExposureGrant:
        return await self.risk.reserve(request)

    @activity.defn(name="ops_resize_exposure")
    async def resize_exposure(self, change: ExposureResize) -> None:
        await self.risk.resize(change)


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
