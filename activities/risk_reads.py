"""The risk-control reads a workflow makes before it takes risk (`RiskReads`): the trading
state, the limits, the exposure book and its reservations, all from the risk-control workflow.

A module of its own, without Postgres: the workflow worker hosts these reads as local
activities and imports nothing of the ledger (`activities.ops` adds the alerts to them).
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.risk_control import RiskControl
from interfaces.ledger import EarlyReservation, ExposureView, LimitsView, OpenInputs
from interfaces.risk import ExposureGrant, ExposureRequest, ExposureResize

log = logging.getLogger(__name__)

TRADING_STATE_TTL_SECONDS = 1.0


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
