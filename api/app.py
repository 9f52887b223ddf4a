"""The hedger web server (DESIGN §2 "Hedger Web-Server"): SYMMIO front-end API + websockets,
the authenticated admin API, `/healthz` and `/metrics`.

`create_app(settings, db_engine=…, temporal_client=…)` takes its dependencies (tests inject
real ones); whatever is not injected is built from settings: the engine at start-up, the
Temporal client on first use. `hedger api` runs `serve` (uvicorn on `HEDGER_API_HOST:PORT`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client

from api.access_log import AccessLogMiddleware, NoQueryStringFilter
from api.deps import TemporalProvider
from api.errors import SafeJSONResponse, install_error_handlers, install_openapi
from api.guard import Limits, RequestGuard
from api.metrics import MetricsMiddleware
from api.routers import admin, findings, frontend, health, ws
from api.throttle import ClientLimits
from config.settings import Settings

# The API process parses untrusted JSON: it runs with Python's default recursion limit, whatever
# an imported library set (py_ecc raises it to 100,000, deep enough for the C parser to overflow
# the C stack and kill the process). Bodies are also depth-checked before parsing (api.guard).
API_RECURSION_LIMIT = 1000


def create_app(
    settings: Settings,
    *,
    db_engine: AsyncEngine | None = None,
    temporal_client: Client | None = None,
    upnl_interval: float = 2.0,
    poll_interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """Build the app. `upnl_interval`: seconds between upnl/funding pushes; `poll_interval`:
    how often `position-state-ws3` polls the notifications table; `clock`: the per-client rate
    limit's (tests move it by hand)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned: AsyncEngine | None = None
        if app.state.engine is None:
            owned = create_async_engine(
                settings.database_url,
                pool_size=5,
                pool_pre_ping=True,
                pool_timeout=settings.api_db_timeout_seconds,
                connect_args={
                    "timeout": settings.api_db_timeout_seconds,
                    "command_timeout": settings.api_db_timeout_seconds,
                },
            )
            app.state.engine = owned
        chain = None
        if app.state.chain is None and settings.symmio_address is not None:
            # PartyA balances for /ws/upnl-ws (views only; no key)
            from adapters.chain.client import ChainClient

            chain = ChainClient.from_settings(settings)
            app.state.chain = chain
        try:
            yield
        finally:
            if chain is not None:
                app.state.chain = None
                await chain.close()
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
        default_response_class=SafeJSONResponse,
    )
    app.state.settings = settings
    app.state.limits = Limits.from_settings(settings)
    app.state.engine = db_engine
    app.state.chain = None  # a ChainClient when HEDGER_SYMMIO_ADDRESS is set (lifespan)
    app.state.temporal = TemporalProvider(settings, temporal_client)
    app.state.upnl_interval = upnl_interval
    app.state.poll_interval = poll_interval

    # Innermost first: the guard (limits, admin token before the body is read) runs before any
    # router; the per-client limits before the guard (a 429 before the body is read); CORS wraps
    # them so a browser can read their refusals; the access log sees everything.
    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(ClientLimits, settings=settings, clock=clock)
    # Front-ends call from the browser, from any origin; the admin API needs its bearer token.
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"]
    )
    app.add_middleware(AccessLogMiddleware)
    install_error_handlers(app)
    app.include_router(frontend.router)
    app.include_router(ws.router)
    app.include_router(admin.router)
    app.include_router(findings.router)
    app.include_router(health.router)
    install_openapi(app)
    return app


def serve(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn handles both).

    uvicorn's own access log is off (it writes query strings, where a client may have put a
    token); `api.access_log` writes one line per request with the path only."""
    import uvicorn

    sys.setrecursionlimit(API_RECURSION_LIMIT)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        # X-Forwarded-For is read by api.throttle, only from HEDGER_API_TRUSTED_PROXIES
        # (uvicorn's own handling would believe it from any 127.0.0.1 peer).
        proxy_headers=False,
        ws_ping_interval=20,
        ws_max_size=settings.api_ws_max_message_bytes,
        access_log=False,
    )
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(NoQueryStringFilter())
    access = logging.getLogger("api.access")
    if not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE, as uvicorn.run exits
