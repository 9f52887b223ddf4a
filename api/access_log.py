"""The API's access log: one line per HTTP request and per websocket, path only.

uvicorn's access log writes the query string, where a client may have put a token; this one
writes `client - "METHOD /path HTTP/x" status ms app=<App-Name>` (logger `api.access`). The
`App-Name` header (SYMMIO front-ends name themselves with it) is logged, cut to 64 printable
characters.
"""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("api.access")
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")


def app_name(scope: Scope) -> str | None:
    """The client's `App-Name` header, printable ASCII only, at most 64 characters."""
    for key, value in scope.get("headers") or ():
        if key.lower() == b"app-name":
            name = _UNPRINTABLE.sub("_", bytes(value).decode("latin-1"))[:64]
            return name or None
    return None


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"


def strip_query(value: str) -> str:
    return value.split("?", 1)[0]


class NoQueryStringFilter(logging.Filter):
    """Cuts the query string out of uvicorn's own request lines (its websocket handshake lines,
    `"WebSocket /path?query" [accepted]`, are logged even with its access log off)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                strip_query(a) if isinstance(a, str) and a.startswith("/") else a
                for a in record.args
            )
        return True


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        status = 0
        start = time.perf_counter()

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "websocket.accept":
                status = 101
            elif message["type"] == "websocket.close" and status == 0:
                status = 403
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            if log.isEnabledFor(logging.INFO):
                method = scope.get("method", "WS") if scope["type"] == "http" else "WS"
                path = _UNPRINTABLE.sub("_", str(scope.get("path", "")))[:200]
                log.info(
                    '%s - "%s %s HTTP/%s" %s %.1fms app=%s',
                    client_of(scope),
                    method,
                    path,
                    scope.get("http_version", "1.1"),
                    status or 500,
                    (time.perf_counter() - start) * 1000,
                    app_name(scope) or "-",
                )
