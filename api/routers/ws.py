"""Websockets SYMMIO front-ends open on a hedger (SYMMIO.md §5.2).

* `/ws/upnl-ws`: the client sends its sub-account address as a plain string (again on account
  change); every `upnl_interval` seconds the server sends the account summary: uPnL of its
  positions with this hedger at the published broker marks (ledger), and its allocated and
  available balance from the chain (`partyAStats`, SYMMIO's `partyAAvailableForQuote`; "0"
  without a SYMMIO address, the last values read while the RPC is away).
* `/ws/position-state-ws3`: the client sends `{"address": ["0x…", …]}`; the server pushes each
  notification of those addresses created or modified after the subscription, one
  `NotificationResponse` per message (one process-wide poller of the notifications table by
  `modify_time`, `api.notify_hub`).
* `/ws/funding-rate-ws`: the client sends `{"symbols": ["BTCUSDT", …]}` (an empty list pauses);
  the server sends `{"BTCUSDT": {next_funding_time, next_funding_rate_long, …}}` at once and
  then every `upnl_interval` seconds.

A malformed client message gets `{"error": "…"}` back and the socket stays open. Messages are
checked like request bodies (`api.guard`: depth, NUL, lone surrogates, list and string lengths);
one above `api_ws_max_message_bytes` closes the socket with 1009. A database blip while
producing a message sends `{"error": "database unavailable…"}` once and the socket stays open;
any other failure closes it with 1011 (a close frame, never a dropped connection).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncEngine

from api.balances import party_a_balances
from api.errors import is_database_down
from api.guard import InputError, Limits, is_address, loads_checked
from api.metrics import WS_CONNECTIONS
from api.notify_hub import NotificationHub, Subscription
from api.serialize import dec_str, funding_json, notification_json
from ledger import queries as repo

if TYPE_CHECKING:
    from adapters.chain.client import PartyABalanceInfo

log = logging.getLogger(__name__)
router = APIRouter(prefix="/ws", tags=["websockets"])

T = TypeVar("T")


class BadMessage(ValueError):
    pass


class MessageTooBig(Exception):
    pass


class _Session(Generic[T]):
    """One client: a reader task keeps the latest subscription; the main loop produces messages."""

    def __init__(self, ws: WebSocket, parse: Callable[[str, Limits], T]) -> None:
        self.ws = ws
        self.parse = parse
        self.limits: Limits = ws.app.state.limits
        self.db_down = False
        self.subscription: T | None = None
        self.changed = asyncio.Event()
        self.send_lock = asyncio.Lock()

    async def send(self, payload: Any) -> None:
        async with self.send_lock:
            await self.ws.send_text(json.dumps(payload))

    async def read_forever(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(int(message.get("code") or 1000))
            text = message.get("text")
            if text is None:
                raw = message.get("bytes") or b""
                if len(raw) > self.limits.ws_max_message_bytes:
                    raise MessageTooBig
                text = raw.decode("utf-8", "replace")
            elif len(text) > self.limits.ws_max_message_bytes // 4 and (
                len(text.encode("utf-8", "surrogatepass")) > self.limits.ws_max_message_bytes
            ):
                raise MessageTooBig
            try:
                self.subscription = self.parse(text, self.limits)
            except BadMessage as exc:
                await self.send({"error": str(exc)})
                continue
            self.changed.set()

    async def run(
        self, tick: Callable[[T, bool], Awaitable[None]], interval: float, route: str
    ) -> None:
        """Call `tick(subscription, fresh)` every `interval` s and at once after each new
        subscription (`fresh` True), until the client goes away."""
        await self.ws.accept()
        WS_CONNECTIONS.labels(route).inc()
        reader = asyncio.create_task(self.read_forever())
        try:
            while not reader.done():
                fresh = self.changed.is_set()
                self.changed.clear()
                if self.subscription is not None:
                    await self.guarded(tick, self.subscription, fresh, route)
                waiter = asyncio.create_task(self.changed.wait())
                await asyncio.wait(
                    {reader, waiter}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
        except (WebSocketDisconnect, RuntimeError):
            pass  # client gone while we were sending
        except _Close as close:
            await close_quietly(self.ws, close.code, close.reason)
        finally:
            reader.cancel()
            WS_CONNECTIONS.labels(route).dec()
        if not reader.cancelled() and reader.done():
            exc = reader.exception()
            if isinstance(exc, MessageTooBig):
                await close_quietly(self.ws, 1009, "message too big")
            elif exc is not None and not isinstance(exc, WebSocketDisconnect):
                log.warning("websocket %s reader ended: %s", route, exc)
                await close_quietly(self.ws, 1011, "internal error")

    async def guarded(
        self, tick: Callable[[T, bool], Awaitable[None]], sub: T, fresh: bool, route: str
    ) -> None:
        """One tick; a database blip becomes one `{"error": ...}` message (until it recovers),
        anything else a 1011 close."""
        try:
            await tick(sub, fresh)
        except (WebSocketDisconnect, RuntimeError):
            raise
        except Exception as exc:  # noqa: BLE001 - sorted below; the socket is closed cleanly
            if not is_database_down(exc):
                log.warning("websocket %s failed: %s: %s", route, type(exc).__name__, exc)
                raise _Close(1011, "internal error") from exc
            if not self.db_down:
                log.warning("websocket %s: database unavailable: %s", route, exc)
                await self.send({"error": "database unavailable, retrying"})
            self.db_down = True
        else:
            self.db_down = False


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


async def close_quietly(ws: WebSocket, code: int, reason: str) -> None:
    """Send a close frame unless the socket is already closed."""
    try:
        await ws.close(code=code, reason=reason)
    except (RuntimeError, WebSocketDisconnect, OSError):
        pass


def _engine(ws: WebSocket) -> AsyncEngine:
    engine: AsyncEngine = ws.app.state.engine
    return engine


def _interval(ws: WebSocket) -> float:
    return float(ws.app.state.upnl_interval)


def _poll_interval(ws: WebSocket) -> float:
    return float(ws.app.state.poll_interval)


def _json_object(text: str, limits: Limits) -> dict[str, Any]:
    try:
        data = loads_checked(text, limits, ("message",))
    except InputError as exc:
        raise BadMessage(str(exc)) from None
    if not isinstance(data, dict):
        raise BadMessage("expected a JSON object")
    return data


def _string_list(data: dict[str, Any], key: str, example: str) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadMessage(f'expected {{"{key}": [...]}} with a list of strings, e.g. {example}')
    return value


# --- upnl ----------------------------------------------------------------------------------


def _parse_address(text: str, limits: Limits) -> str:
    value = text.strip().strip('"')
    if not is_address(value):
        raise BadMessage(
            f"expected the sub-account address as a plain string, got {ascii(text[:80])}"
        )
    return value


@router.websocket("/upnl-ws")
async def upnl_ws(ws: WebSocket) -> None:
    engine = _engine(ws)
    session: _Session[str] = _Session(ws, _parse_address)

    chain = getattr(ws.app.state, "chain", None)
    last: dict[str, PartyABalanceInfo] = {}  # address -> the last balances read from the chain

    async def tick(address: str, fresh: bool) -> None:
        if chain is not None:
            try:
                last[address] = await chain.party_a_balance_info(address)
            except Exception as exc:  # noqa: BLE001 - RPC trouble: the last values read
                log.warning("upnl-ws: PartyA balances unavailable: %s", exc)
        b = await party_a_balances(engine, address, last.get(address))
        locked, pending = b.locked, b.pending
        await session.send(
            {
                "upnl": dec_str(b.upnl),
                "notional": dec_str(b.notional),
                "timestamp": int(time.time() * 1000),
                "available_balance": dec_str(b.available),
                "allocated_balance": dec_str(b.allocated),
                "cva": dec_str(locked.cva),
                "mm": dec_str(locked.party_a_mm),
                "lf": dec_str(locked.lf),
                "total_locked": dec_str(locked.total_for_party_a),
                "pending_cva": dec_str(pending.cva),
                "pending_mm": dec_str(pending.party_a_mm),
                "pending_lf": dec_str(pending.lf),
                "total_pending_locked": dec_str(pending.total_for_party_a),
            }
        )

    await session.run(tick, _interval(ws), "/ws/upnl-ws")


# --- position state ------------------------------------------------------------------------


def _parse_addresses(text: str, limits: Limits) -> list[str]:
    addresses = _string_list(_json_object(text, limits), "address", '{"address": ["0x..."]}')
    bad = [a for a in addresses if not is_address(a)]
    if bad:
        raise BadMessage(f"not addresses: {ascii(bad[:3])[:200]}")
    return addresses


def _hub(ws: WebSocket) -> NotificationHub:
    hub: NotificationHub | None = getattr(ws.app.state, "notification_hub", None)
    if hub is None:
        hub = NotificationHub(_engine(ws), _poll_interval(ws))
        ws.app.state.notification_hub = hub
    return hub


@router.websocket("/position-state-ws3")
async def position_state_ws(ws: WebSocket) -> None:
    """Notifications come from the process-wide `NotificationHub` (one poller for all clients)."""
    hub = _hub(ws)
    session: _Session[list[str]] = _Session(ws, _parse_addresses)
    route = "/ws/position-state-ws3"

    async def forward(sub: Subscription) -> None:
        while True:
            n = await sub.queue.get()
            if n is None:  # too slow: the hub dropped us
                await ws.close(code=1013)
                return
            await session.send(notification_json(n))

    await ws.accept()
    WS_CONNECTIONS.labels(route).inc()
    reader = asyncio.create_task(session.read_forever())
    sub: Subscription | None = None
    forwarder: asyncio.Task[None] | None = None
    try:
        while not reader.done() and not (forwarder is not None and forwarder.done()):
            waiter = asyncio.create_task(session.changed.wait())
            pending: set[asyncio.Task[Any]] = {reader, waiter}
            if forwarder is not None:
                pending.add(forwarder)
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if session.changed.is_set():
                session.changed.clear()
                if forwarder is not None:
                    forwarder.cancel()
                if sub is not None:
                    sub.close()
                sub = hub.subscribe(session.subscription) if session.subscription else None
                forwarder = asyncio.create_task(forward(sub)) if sub is not None else None
    finally:
        reader.cancel()
        if forwarder is not None:
            forwarder.cancel()
        if sub is not None:
            sub.close()
        WS_CONNECTIONS.labels(route).dec()
    for task in (reader, forwarder):
        if task is not None and task.done() and not task.cancelled():
            exc = task.exception()
            if isinstance(exc, MessageTooBig):
                await close_quietly(ws, 1009, "message too big")
            elif exc is not None and not isinstance(exc, WebSocketDisconnect | RuntimeError):
                log.warning("websocket %s ended: %s", route, exc)
                await close_quietly(ws, 1011, "internal error")


# --- funding -------------------------------------------------------------------------------


def _parse_symbols(text: str, limits: Limits) -> list[str]:
    return _string_list(_json_object(text, limits), "symbols", '{"symbols": ["BTCUSDT"]}')


@router.websocket("/funding-rate-ws")
async def funding_rate_ws(ws: WebSocket) -> None:
    engine = _engine(ws)
    session: _Session[list[str]] = _Session(ws, _parse_symbols)

    async def tick(symbols: list[str], fresh: bool) -> None:
        if not symbols:
            return  # the tab is hidden
        rows = await repo.symbols_by_names(engine, symbols)
        await session.send({s.name: funding_json(s, with_epoch=False) for s in rows})

    await session.run(tick, _interval(ws), "/ws/funding-rate-ws")
