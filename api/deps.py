"""FastAPI dependencies: settings, the ledger engine, the Temporal client, admin auth.

Everything lives on `app.state` (set by `create_app`, or by its lifespan when not injected), so
tests inject real objects and production builds them from settings.
"""

from __future__ import annotations

import asyncio
import unicodedata
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection
from temporalio.client import Client

from api.errors import unprocessable
from api.guard import Limits, admin_refusal
from config.settings import Settings


class TemporalProvider:
    """The Temporal client, connected on first use (the front-end API must serve even while
    Temporal is unreachable; only admin actions and /healthz need it)."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> Client | None:
        return self._client

    async def get(self, connect_seconds: float = 5.0) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                from adapters.temporal import connect

                self._client = await asyncio.wait_for(connect(self.settings), connect_seconds)
        return self._client


def get_settings(conn: HTTPConnection) -> Settings:
    settings: Settings = conn.app.state.settings
    return settings


def get_engine(conn: HTTPConnection) -> AsyncEngine:
    engine: AsyncEngine | None = getattr(conn.app.state, "engine", None)
    if engine is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database not configured")
    return engine


async def get_temporal(request: Request) -> Client:
    provider: TemporalProvider = request.app.state.temporal
    try:
        return await provider.get()
    except Exception as exc:  # noqa: BLE001 - any connect failure is "unavailable" to the caller
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"temporal unreachable: {type(exc).__name__}",
            headers={"Retry-After": "2"},
        ) from exc


def get_limits(conn: HTTPConnection) -> Limits:
    limits: Limits = conn.app.state.limits
    return limits


SettingsDep = Annotated[Settings, Depends(get_settings)]
LimitsDep = Annotated[Limits, Depends(get_limits)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
TemporalDep = Annotated[Client, Depends(get_temporal)]

_bearer = HTTPBearer(auto_error=False, description="HEDGER_ADMIN_TOKEN")


def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_operator: Annotated[str | None, Header(max_length=160)] = None,
) -> str:
    """401 without a bearer token, 403 with a wrong one (constant-time compare; the request
    guard has already refused both before the body was read). Returns the operator name recorded
    with each action: `admin-api`, or `admin-api:<X-Operator header>` (UTF-8, at most 40
    characters, no control characters; else 422)."""
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    refusal = admin_refusal(header, settings)
    if refusal is not None:
        code, message = refusal
        headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
        raise HTTPException(code, message, headers=headers)
    name = operator_name(x_operator)
    return f"admin-api:{name}" if name else "admin-api"


def operator_name(raw: str | None) -> str:
    """The X-Operator header as UTF-8 (Starlette hands headers over decoded as latin-1)."""
    if raw is None:
        return ""
    try:
        name = raw.encode("latin-1").decode("utf-8").strip()
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise unprocessable(("header", "x-operator"), "X-Operator must be UTF-8") from None
    if len(name) > 40:
        raise unprocessable(("header", "x-operator"), "X-Operator longer than 40 characters")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise unprocessable(("header", "x-operator"), "X-Operator holds a control character")
    return name


AdminDep = Annotated[str, Depends(require_admin)]
