"""Prometheus metrics of the web API, registered once in the default registry.

`/metrics` serves the default registry, so metrics that other modules of the same process
register (and the process/platform collectors) appear too.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "hedger_api_requests_total",
    "HTTP requests served by the hedger API",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "hedger_api_request_seconds", "HTTP request latency of the hedger API", ["method", "route"]
)
WS_CONNECTIONS = Gauge("hedger_api_websockets", "Open websocket connections", ["route"])


def render() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class MetricsMiddleware:
    """Counts and times every HTTP request by route template (not raw path: bounded labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = _route_of(scope)
            method = str(scope.get("method", "GET"))
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - start)


REFUSED = Counter(
    "hedger_api_client_limit_refusals_total",
    "Requests and websockets refused by the per-client limits (api.throttle)",
    ["kind"],  # rate (HTTP 429), ws_rate, ws_client, ws_total (websocket closed with 1013)
)
