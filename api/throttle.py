"""Per-client limits in front of everything else (issue #12): an ASGI middleware.

* Who the client is: `api.client_ip` (the TCP peer; X-Forwarded-For only from a trusted proxy,
  which then also becomes `scope["client"]`, so the access log names the real client).
* Rate: every HTTP request and websocket handshake spends a token of the client's bucket
  (`api.rate_limit`); an HTTP request over the limit gets a 429 `{"detail": ...}` with
  `Retry-After` before its body is read.
* Websockets: concurrent connections per client and in total (`api.ws_slots`); a slot is held
  from the handshake until the handler returns, however the connection ends.

A refused websocket is accepted and at once closed with 1013 ("try again later") and a reason:
a close before the accept reaches the client as an HTTP 403, with no code it can act on.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.client_ip import TrustedProxies, limit_key, parse_networks
from api.guard import send_json
from api.metrics import REFUSED
from api.rate_limit import RateLimiter
from api.ws_slots import ConnectionSlots
from config.settings import Settings

log = logging.getLogger(__name__)
TRY_AGAIN_LATER = 1013


def _forwarded_for(scope: Scope) -> str | None:
    values = [
        bytes(v).decode("latin-1")
        for k, v in scope.get("headers") or ()
        if k.lower() == b"x-forwarded-for"
    ]
    return ",".join(values) if values else None


class ClientLimits:
    def __init__(
        self, app: ASGIApp, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.proxies = TrustedProxies(parse_networks(settings.api_trusted_proxies))
        self.rate = RateLimiter(
            settings.api_requests_per_second, settings.api_request_burst, clock=clock
        )
        self.slots = ConnectionSlots(settings.api_max_ws_per_client, settings.api_max_ws_total)

    def _client(self, scope: Scope) -> str:
        peer = scope.get("client")
        host = self.proxies.client(peer[0] if peer else None, _forwarded_for(scope))
        if peer is not None and host != peer[0]:
            scope["client"] = (host, 0)
        return limit_key(host)

    def _rate_message(self, wait: float) -> str:
        return (
            f"too many requests from this client (at most {self.rate.rate:g} per second, "
            f"bursts of {self.rate.burst}); retry after {math.ceil(wait)} s"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        key = self._client(scope)
        wait = self.rate.take(key)
        if scope["type"] == "http":
            if wait > 0:
                REFUSED.labels("rate").inc()
                retry = str(max(1, math.ceil(wait))).encode()
                await send_json(
                    send, 429, {"detail": self._rate_message(wait)}, [(b"retry-after", retry)]
                )
                return
            await self.app(scope, receive, send)
            return
        if wait > 0:
            REFUSED.labels("ws_rate").inc()
            await self._refuse_ws(receive, send, self._rate_message(wait))
            return
        refusal = self.slots.acquire(key)
        if refusal is not None:
            REFUSED.labels("ws_total" if self.slots.open >= self.slots.total else "ws_client").inc()
            log.warning("websocket from %s refused: %s", key, refusal)
            await self._refuse_ws(receive, send, refusal)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release(key)

    @staticmethod
    async def _refuse_ws(receive: Receive, send: Send, reason: str) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": reason[:120]})
