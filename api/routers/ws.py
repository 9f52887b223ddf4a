"""Websockets SYMMIO front-ends open on a hedger (SYMMIO.md §5.2).

* `/ws/upnl-ws`: the client sends its sub-account address as a plain string (again on account
  change); every `upnl_interval` seconds the server sends the account summary from the ledger
  (balances the ledger does not hold are 0).
* `/ws/position-state-ws3`: the client sends `{"address": ["0x…", …]}`; the server pushes each
  notification of those addresses created or modified after the subscription, one
  `NotificationResponse` per message (polls the notifications table by `modify_time`).
* `/ws/funding-rate-ws`: the client sends `{"symbols": ["BTCUSDT", …]}` (an empty list pauses);
  the server sends `{"BTCUSDT": {next_funding_time, next_funding_rate_long, …}}` at once and
  then every `upnl_interval` seconds.

A malformed client message gets `{"error": "…"}` back and the socket stays open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncEngine

from api.metrics import WS_CONNECTIONS
from api.serialize import dec_str, funding_json, notification_json
from hedger.db import repo

log = logging.getLogger(__name__)
router = APIRouter(prefix="/ws", tags=["websockets"])

T = TypeVar("T")


class BadMessage(ValueError):
    pass


class _Session(Generic[T]):
    """One client: a reader task keeps the latest subscription; the main loop produces messages."""

    def __init__(self, ws: WebSocket, parse: Callable[[str], T]) -> None:
        self.ws = ws
        self.parse = parse
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
                text = raw.decode("utf-8", "replace")
            try:
                self.subscription = self.parse(text)
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
                    await tick(self.subscription, fresh)
                waiter = asyncio.create_task(self.changed.wait())
                await asyncio.wait(
                    {reader, waiter}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
        except (WebSocketDisconnect, RuntimeError):
            pass  # client gone while we were sending
        finally:
            reader.cancel()
            WS_CONNECTIONS.labels(route).dec()
        if not reader.cancelled() and reader.done():
            exc = reader.exception()
            if exc is not None and not isinstance(exc, WebSocketDisconnect):
                log.warning("websocket %s reader ended: %s", route, exc)


def _engine(ws: WebSocket) -> AsyncEngine:
    engine: AsyncEngine = ws.app.state.engine
    return engine


def _interval(ws: WebSocket) -> float:
    return float(ws.app.state.upnl_interval)


def _poll_interval(ws: WebSocket) -> float:
    return float(ws.app.state.poll_interval)


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise BadMessage(f"not JSON: {text[:80]!r}") from None
    if not isinstance(data, dict):
        raise BadMessage("expected a JSON object")
    return data


def _string_list(data: dict[str, Any], key: str, example: str) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadMessage(f'expected {{"{key}": [...]}} with a list of strings, e.g. {example}')
    return value


# --- upnl ----------------------------------------------------------------------------------


def _parse_address(text: str) -> str:
    value = text.strip().strip('"')
    if not repo.is_address(value):
        raise BadMessage(f"expected the sub-account address as a plain string, got {text[:80]!r}")
    return value


@router.websocket("/upnl-ws")
async def upnl_ws(ws: WebSocket) -> None:
    engine = _engine(ws)
    session: _Session[str] = _Session(ws, _parse_address)

    async def tick(address: str, fresh: bool) -> None:
        s = await repo.account_summary(engine, address)
        total_locked = s.cva + s.mm + s.lf
        pending = s.pending_cva + s.pending_mm + s.pending_lf
        await session.send(
            {
                "upnl": dec_str(s.upnl),
                "notional": dec_str(s.notional),
                "timestamp": int(time.time() * 1000),
                "available_balance": "0",
                "allocated_balance": "0",
                "cva": dec_str(s.cva),
                "mm": dec_str(s.mm),
                "lf": dec_str(s.lf),
                "total_locked": dec_str(total_locked),
                "pending_cva": dec_str(s.pending_cva),
                "pending_mm": dec_str(s.pending_mm),
                "pending_lf": dec_str(s.pending_lf),
                "total_pending_locked": dec_str(pending),
            }
        )

    await session.run(tick, _interval(ws), "/ws/upnl-ws")


# --- position state ------------------------------------------------------------------------


def _parse_addresses(text: str) -> list[str]:
    addresses = _string_list(_json_object(text), "address", '{"address": ["0x..."]}')
    bad = [a for a in addresses if not repo.is_address(a)]
    if bad:
        raise BadMessage(f"not addresses: {bad[:3]}")
    return addresses


@router.websocket("/position-state-ws3")
async def position_state_ws(ws: WebSocket) -> None:
    engine = _engine(ws)
    session: _Session[list[str]] = _Session(ws, _parse_addresses)
    cursor = int(time.time())  # modify_time (s) from which notifications are new
    sent: dict[tuple[str, int], None] = {}

    async def tick(addresses: list[str], fresh: bool) -> None:
        nonlocal cursor
        if not addresses:
            return
        rows = await repo.notifications_since(engine, addresses, cursor)
        for n in rows:
            key = (str(n.id), n.modify_time)
            if key in sent:
                continue
            sent[key] = None
            await session.send(notification_json(n))
        if rows:
            # keep only what could be returned again (same second as the new cursor)
            cursor = max(cursor, max(n.modify_time for n in rows))
            for key in [k for k in sent if k[1] < cursor]:
                del sent[key]

    await session.run(tick, _poll_interval(ws), "/ws/position-state-ws3")


# --- funding -------------------------------------------------------------------------------


def _parse_symbols(text: str) -> list[str]:
    return _string_list(_json_object(text), "symbols", '{"symbols": ["BTCUSDT"]}')


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
