"""`/healthz` (database and Temporal reachable) and `/metrics` (Prometheus default registry)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import TemporalProvider
from api.metrics import render

router = APIRouter(tags=["ops"])

CHECK_SECONDS = 3.0


async def _check_db(request: Request) -> dict[str, Any]:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        return {"ok": False, "error": "not configured"}
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True}


async def _check_temporal(request: Request) -> dict[str, Any]:
    provider: TemporalProvider = request.app.state.temporal
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            client = await provider.get(connect_seconds=CHECK_SECONDS)
            await client.service_client.check_health()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True}


class Check(BaseModel):
    ok: bool
    error: str | None = None


class HealthReport(BaseModel):
    status: str
    db: Check
    temporal: Check


@router.get(
    "/healthz",
    response_model=HealthReport,
    responses={503: {"model": HealthReport, "description": "Database or Temporal unreachable"}},
)
async def healthz(request: Request) -> JSONResponse:
    db, temporal = await asyncio.gather(_check_db(request), _check_temporal(request))
    ok = db["ok"] and temporal["ok"]
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "db": db, "temporal": temporal},
        status_code=200 if ok else 503,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)
