"""Operator API (DESIGN §6), behind `Authorization: Bearer <HEDGER_ADMIN_TOKEN>`.

Read the ledger (quotes, positions, alerts), list STUCK workflows with Temporal UI links, send
`retry` / `unwind` / `abandon` to the workflow of a quote, and read or set the global trading
state (ACTIVE / REDUCE_ONLY / HALTED).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from adapters.risk_control import RiskControl
from api.deps import AdminDep, EngineDep, LimitsDep, SettingsDep, TemporalDep
from api.errors import ErrorMessage, unprocessable
from api.guard import INT64_MAX, Limits
from api.operator import (
    Action,
    WorkflowKind,
    WorkflowNotFound,
    WorkflowNotRunning,
    list_stuck,
    signal_quote,
)
from api.serialize import dec_str
from domain.enums import TradingState
from interfaces.risk import TradingStateChange
from ledger import queries as repo
from ledger.models import Alert, PositionRecord, QuoteRecord

router = APIRouter(prefix="/admin", tags=["admin"])

_QUOTE_AMOUNTS = (
    "quantity", "requested_open_price", "market_price", "cva", "lf", "party_amm", "party_bmm",
    "trading_fee", "filled_amount", "opened_price", "closed_amount", "avg_closed_price",
)  # fmt: skip


def _quote_json(q: QuoteRecord) -> dict[str, Any]:
    out = q.model_dump(mode="json")
    for name in _QUOTE_AMOUNTS:
        out[name] = dec_str(getattr(q, name))
    return out


def _position_json(p: PositionRecord) -> dict[str, Any]:
    out = p.model_dump(mode="json")
    for name in ("open_quantity", "opened_price", "broker_quantity"):
        out[name] = dec_str(getattr(p, name))
    return out


def _alert_json(a: Alert) -> dict[str, Any]:
    return a.model_dump(mode="json")


Limit = Annotated[int, Query(ge=1, le=1000)]
# Temporal calls of one request: past this the answer is a 503 (the caller retries).
TEMPORAL_SECONDS = 15.0
_404 = {"model": ErrorMessage, "description": "No workflow for the quote"}
_409 = {"model": ErrorMessage, "description": "The quote's workflow is not running"}


def _reason(value: str, limits: Limits) -> str:
    reason = value.strip()
    if not reason:
        raise unprocessable(("body", "reason"), "reason must not be blank")
    if len(reason) > limits.max_reason_chars:
        raise unprocessable(
            ("body", "reason"), f"reason longer than {limits.max_reason_chars} characters"
        )
    return reason


@router.get("/quotes")
async def quotes(
    _: AdminDep, engine: EngineDep,
    status_: Annotated[str | None, Query(alias="status", max_length=40)] = None,
    limit: Limit = 100,
) -> dict[str, Any]:  # fmt: skip
    rows = await repo.list_quotes(engine, status_, limit)
    return {"count": len(rows), "quotes": [_quote_json(q) for q in rows]}


@router.get("/positions")
async def positions(
    _: AdminDep, engine: EngineDep, open_only: bool = False,
    party_a: Annotated[str | None, Query(max_length=64)] = None, limit: Limit = 100,
) -> dict[str, Any]:  # fmt: skip
    rows = await repo.list_positions(engine, limit, open_only=open_only, party_a=party_a)
    return {"count": len(rows), "positions": [_position_json(p) for p in rows]}


@router.get("/alerts")
async def alerts(
    _: AdminDep, engine: EngineDep, unacknowledged: bool = False, limit: Limit = 100
) -> dict[str, Any]:
    rows = await repo.list_alerts(engine, limit, unacknowledged_only=unacknowledged)
    return {"count": len(rows), "alerts": [_alert_json(a) for a in rows]}


@router.get("/stuck")
async def stuck(_: AdminDep, client: TemporalDep, settings: SettingsDep) -> dict[str, Any]:
    async with asyncio.timeout(TEMPORAL_SECONDS):
        found = await list_stuck(client, settings.temporal_ui_url)
    return {"count": len(found), "workflows": [w.as_json() for w in found]}


class OperatorRequest(BaseModel):
    reason: str = Field(min_length=1, description="why: recorded in the workflow's history")
    kind: WorkflowKind | None = Field(
        default=None, description="intent | position (default: position, then intent)"
    )


@router.post("/quotes/{quote_id}/{action}", responses={404: _404, 409: _409})
async def operator_action(
    quote_id: Annotated[int, Path(ge=0, le=INT64_MAX)],
    action: Action,
    body: OperatorRequest,
    operator: AdminDep,
    client: TemporalDep,
    settings: SettingsDep,
    limits: LimitsDep,
    kind: WorkflowKind | None = None,
) -> dict[str, Any]:
    reason = _reason(body.reason, limits)
    try:
        async with asyncio.timeout(TEMPORAL_SECONDS):
            result = await signal_quote(
                client, settings.chain_id, quote_id, action, reason, operator,
                kind=kind or body.kind,
            )  # fmt: skip
    except WorkflowNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except WorkflowNotRunning as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return {
        "quote_id": quote_id,
        "signal": result.signal,
        "workflow_id": result.workflow_id,
        "run_id": result.run_id,
        "kind": result.kind.value,
        "reason": reason,
    }


class TradingStateRequest(BaseModel):
    state: TradingState
    reason: str = Field(min_length=1)


@router.get("/trading-state")
async def get_trading_state(
    _: AdminDep, client: TemporalDep, settings: SettingsDep
) -> dict[str, Any]:
    """The state in force (from the risk-control workflow, where every hedge reads it) and its
    last changes."""
    risk = RiskControl(client, settings.chain_id)
    async with asyncio.timeout(TEMPORAL_SECONDS):
        current = await risk.trading_state()
        history = await risk.changes()
    return {**current.as_json(), "history": [h.as_json() for h in reversed(history[-10:])]}


@router.post("/trading-state")
async def post_trading_state(
    operator: AdminDep,
    client: TemporalDep,
    settings: SettingsDep,
    limits: LimitsDep,
    body: Annotated[TradingStateRequest, Body()],
) -> dict[str, Any]:
    change = TradingStateChange(body.state.value, _reason(body.reason, limits), operator)
    try:
        async with asyncio.timeout(TEMPORAL_SECONDS):
            view = await RiskControl(client, settings.chain_id).set_trading_state(change)
    except ValueError as exc:
        raise unprocessable(("body",), str(exc)) from exc
    return view.as_json()
