"""The hedger web server (DESIGN §2 "Hedger Web-Server"): SYMMIO front-end API + websockets,
the authenticated admin API, `/healthz` and `/metrics`.

`create_app(settings, db_engine=…, temporal_client=…)` takes its dependencies (tests inject
real ones); whatever is not injected is built from settings: the engine at start-up, the
Temporal client on first use. `hedger api` runs `serve` (uvicorn on `HEDGER_API_HOST:PORT`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client

from api.deps import TemporalProvider
from api.metrics import MetricsMiddleware
from api.routers import admin, frontend, health, ws
from config.settings import Settings


def create_app(
    settings: Settings,
    *,
    db_engine: AsyncEngine | None = None,
    temporal_client: Client | None = None,
    upnl_interval: float = 2.0,
    poll_interval: float = 0.5,
) -> FastAPI:
    """Build the app. `upnl_interval`: seconds between upnl/funding pushes; `poll_interval`:
    how often `position-state-ws3` polls the notifications table."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned: AsyncEngine | None = None
        if app.state.engine is None:
            owned = create_async_engine(settings.database_url, pool_size=5, pool_pre_ping=True)
            app.state.engine = owned
        try:
            yield
        finally:
            hub = getattr(app.state, "notification_hub", None)
            if hub is not None:
                await hub.stop()
                app.state.notification_hub = None
            if owned is not None:
                app.state.engine = None
                await owned.dispose()

    app = FastAPI(
        title="symmio-hedger",
        summary="SYMMIO hedger API: front-end endpoints, websockets, operator API",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = db_engine
    app.state.temporal = TemporalProvider(settings, temporal_client)
    app.state.upnl_interval = upnl_interval
    app.state.poll_interval = poll_interval

    app.add_middleware(MetricsMiddleware)
    # Front-ends call from the browser, from any origin; the admin API needs its bearer token.
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"]
    )
    app.include_router(frontend.router)
    app.include_router(ws.router)
    app.include_router(admin.router)
    app.include_router(health.router)
    return app


def serve(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn handles both)."""
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        ws_ping_interval=20,
    )
