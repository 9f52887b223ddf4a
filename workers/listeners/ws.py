"""The websocket listener (DESIGN §2 "Blockchain Input Module", the fast path).

Subscribes with ``eth_subscribe("logs", {address, topics: [[topic0s]]})`` and
``eth_subscribe("newHeads")`` on one socket and delivers each log as it arrives — or, with
``confirmations`` > 0, once the head is that many blocks past its block (a log whose block was
replaced meanwhile is dropped, never delivered). A node's ``removed: true`` log is delivered
too. Reorgs are also detected by block hash (`reorg`): a new head whose parent hash is not the
hash it saw for the block below, or a head at a height it saw with another hash, makes it
compare the hashes of the blocks it delivered with the chain's and replay the changed range
(vanished logs delivered with ``removed: true``, the range's current logs delivered again).

Several websocket URLs may be configured: each (re)connect goes to the best-ranked one
(`adapters.chain.health`; a URL whose session failed rests, doubling per failure), so one dead
node never stops the listener.

Its own cursor (`listener_cursors`, name ``ws-<chainId>``) means "every log up to this block was
delivered": a ``newHeads`` notification for block N, processed after every message sent before
it, moves the cursor to N − 1 (throttled writes). On every (re)connect it subscribes first,
then catches up with ``eth_getLogs`` over the same socket from the cursor to the head, so
nothing mined while it was away is missed (overlap with the subscription is harmless). A
dropped socket, a node restart or a failed delivery leads to a reconnect with exponential
backoff (capped), a fresh subscription and a new catch-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import Counter as Tally
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from adapters.chain.health import HealthBook, HealthPolicy
from workers.listeners.cursor import CursorStore
from workers.listeners.delivery import (
    RECONNECTS,
    REORG_DEPTH,
    REORGS,
    Delivery,
    DeliveryError,
    listened_topic0s,
    observe_lag,
)
from workers.listeners.poller import initial_cursor, initial_or_live, seed_window, sort_key
from workers.listeners.reorg import ChainWindow, find_fork, replay
from workers.listeners.rpc import BlockHeader, RpcError, RpcMethods, redact_url

log = logging.getLogger(__name__)

WS_CONNECTED = Gauge(
    "hedger_listener_ws_connected", "1 while the websocket listener is subscribed", ["source"]
)
WS_RECONNECTS = Counter(
    "hedger_listener_ws_reconnects_total",
    "Websocket listener reconnects, by reason",
    ["source", "reason"],
)
WS_CAUGHT_UP = Counter(
    "hedger_listener_ws_catch_up_logs_total",
    "Logs delivered by the websocket listener's eth_getLogs catch-up after a (re)connect",
    ["source"],
)


class WsClosed(ConnectionError):
    """The socket closed (or the reader failed)."""


class WsStale(ConnectionError):
    """The node's head moved on but our subscription stayed silent (a dropped subscription)."""


class WsRpc(RpcMethods):
    """JSON-RPC over one websocket: requests by id, subscription notifications on a queue."""

    def __init__(self, ws: ClientConnection, *, timeout: float = 30.0) -> None:
        self.ws = ws
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.notifications: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        error: BaseException = WsClosed("websocket closed")
        try:
            async for message in self.ws:
                try:
                    body = json.loads(message)
                except ValueError:
                    log.warning("ws: ignoring a non-JSON message")
                    continue
                if not isinstance(body, dict):
                    continue
                if body.get("method") == "eth_subscription":
                    params = body.get("params") or {}
                    self.notifications.put_nowait(
                        (str(params.get("subscription")), params.get("result"))
                    )
                    continue
                request_id = body.get("id")
                future = (
                    self._pending.pop(request_id, None) if isinstance(request_id, int) else None
                )
                if future is None or future.done():
                    continue
                if body.get("error") is not None:
                    err = body["error"]
                    message_text = err.get("message") if isinstance(err, dict) else str(err)
                    code = err.get("code") if isinstance(err, dict) else None
                    future.set_exception(RpcError(str(message_text), code=code))
                else:
                    future.set_result(body.get("result"))
        except ConnectionClosed as exc:
            error = WsClosed(f"websocket closed: {exc}")
        except Exception as exc:  # noqa: BLE001 - surfaced to the waiters below
            error = WsClosed(f"websocket reader failed: {type(exc).__name__}: {exc}")
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            self._pending.clear()
            self.notifications.put_nowait(None)

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        if self._reader.done():
            raise WsClosed("websocket closed")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or []}
        try:
            await self.ws.send(json.dumps(body))
        except ConnectionClosed as exc:
            self._pending.pop(request_id, None)
            raise WsClosed(f"websocket closed: {exc}") from exc
        try:
            return await asyncio.wait_for(future, self.timeout)
        finally:
            self._pending.pop(request_id, None)

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader
        with contextlib.suppress(Exception):
            await self.ws.close()


@dataclass
class WsConfig:
    chain_id: int
    address: str
    url: str | None = None  # one URL, or `urls`
    urls: list[str] = field(default_factory=list)
    confirmations: int = 0  # deliver a log once the head is this many blocks past it
    reorg_window: int = 64
    start_block: int | None = None  # used only when there is no cursor yet
    batch_blocks: int = 2000
    rescan_blocks: int = 10
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    cursor_every: float = 1.0  # seconds between cursor writes while streaming
    idle_check: float = 30.0  # silent this long: ask the head; behind it → resubscribe
    request_timeout: float = 30.0
    name: str | None = None  # cursor name; default ws-<chainId>
    source: str = "ws"

    @property
    def cursor_name(self) -> str:
        return self.name or f"{self.source}-{self.chain_id}"

    @property
    def all_urls(self) -> list[str]:
        urls = list(self.urls) or ([self.url] if self.url else [])
        if not urls:
            raise ValueError("WsConfig needs a url")
        return urls


class WsListener:
    def __init__(
        self,
        delivery: Delivery,
        cursors: CursorStore,
        config: WsConfig,
        *,
        topics0: Sequence[str] | None = None,
    ) -> None:
        self.delivery = delivery
        self.cursors = cursors
        self.config = config
        self.topics0 = list(topics0) if topics0 is not None else listened_topic0s()
        self.cursor: int | None = None
        self.head: int | None = None
        self.connections = 0
        self.subscribed = asyncio.Event()  # set while subscribed and caught up
        self._first_connect = True
        self._streamed = False  # the last session got as far as streaming
        self.stats: Tally[str] = Tally()  # caught_up, streamed, reconnects (this instance)
        self.window = ChainWindow(config.reorg_window)
        self.pending: list[dict[str, Any]] = []  # logs waiting for their confirmations
        self.health = HealthBook(
            config.all_urls,
            client="ws",
            policy=HealthPolicy(rest_seconds=max(5.0, config.initial_backoff)),
        )
        self.url_index = 0  # the URL of the current (or last) session
        self.live_start: int | None = None  # started without the ledger: backfill pending
        self._backfill_at = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until `stop` is set; never raises for node, Temporal or database trouble."""
        c = self.config
        backoff = c.initial_backoff
        while not stop.is_set():
            session = asyncio.create_task(self._session())
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if session not in done:
                session.cancel()
                with contextlib.suppress(BaseException):
                    await session
                break
            self.subscribed.clear()
            WS_CONNECTED.labels(c.source).set(0)
            exc = session.exception()
            reason = _reason(exc)
            WS_RECONNECTS.labels(c.source, reason).inc()
            RECONNECTS.labels(c.source, reason).inc()
            self.stats["reconnects"] += 1
            if reason in ("closed", "stale", "connect", "rpc"):
                self.health.failure(self.url_index, f"{reason}: {exc}")
            if len(self.health.entries) > 1:
                backoff = min(backoff, c.initial_backoff)  # another URL may answer at once
            if self._streamed:
                backoff = c.initial_backoff  # it was working: retry soon
            log.warning(
                "%s: %s (%s); reconnecting in %.1fs",
                c.cursor_name,
                reason,
                exc if exc is not None else "session ended",
                backoff,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, c.max_backoff)
        WS_CONNECTED.labels(c.source).set(0)

    async def _session(self) -> None:
        c = self.config
        self._streamed = False
        self.url_index = self.health.order()[0]
        url = c.all_urls[self.url_index]
        async with connect(url, open_timeout=10, max_size=None) as ws:
            rpc = WsRpc(ws, timeout=c.request_timeout)
            try:
                logs_sub = await rpc.call(
                    "eth_subscribe", ["logs", {"address": c.address, "topics": [self.topics0]}]
                )
                heads_sub = await rpc.call("eth_subscribe", ["newHeads"])
                self.connections += 1
                await self._catch_up(rpc)
                WS_CONNECTED.labels(c.source).set(1)
                self.subscribed.set()
                self._streamed = True
                self.health.success(self.url_index, 0.0)
                log.info(
                    "%s: subscribed at %s (cursor %s)", c.cursor_name, redact(url), self.cursor
                )
                await self._stream(rpc, str(logs_sub), str(heads_sub))
            finally:
                await rpc.close()

    async def _catch_up(self, rpc: WsRpc) -> None:
        c = self.config
        if self.cursor is None or self._first_connect:
            # first connect of this process: start behind the stored cursor (re-scan window)
            position, stored = await initial_or_live(
                rpc, self.cursors, c.cursor_name, c.address, c.start_block, c.rescan_blocks,
                c.confirmations,
            )  # fmt: skip
            self._first_connect = False
            if stored is None:
                self.live_start = position + 1
                self.cursor = position  # in memory only, until the backfill
            else:
                self.cursor = stored
                log.info(
                    "%s: cursor %s, catching up from block %s", c.cursor_name, stored, position + 1
                )
                low = max(position + 1, stored - c.reorg_window)
                await seed_window(self.window, self.delivery, low, stored, c.cursor_name)
        else:
            position = self.cursor
        latest = await rpc.header("latest")
        if latest is None:
            raise RpcError("the node has no latest block")
        head = latest.number
        self.head = head
        await self._replay_if_forked(rpc, head)
        self.pending.clear()  # re-read below (the subscription may send them again)
        target = head - c.confirmations
        caught = 0
        while position < target:
            low = position + 1
            high = min(target, low + c.batch_blocks - 1)
            logs = await rpc.get_logs(c.address, self.topics0, low, high)
            for raw in sorted(logs, key=sort_key):
                await self.delivery.deliver(raw, c.source)
                self.window.note_log(raw)
                caught += 1
                # counted as delivered: a session that fails later in the catch-up keeps them
                self.stats["caught_up"] += 1
                WS_CAUGHT_UP.labels(c.source).inc()
            position = high
            self.cursor = await self._advance(high)
        if c.confirmations > 0 and head > max(position, target):
            # mined before the subscription, not confirmed yet: wait with the streamed ones
            low = max(position, target) + 1
            self.pending = sorted(
                await rpc.get_logs(c.address, self.topics0, low, head), key=sort_key
            )
        self.window.note_block(head, latest.hash, latest.timestamp)
        if self.cursor is not None:
            observe_lag(c.source, head, self.cursor, self.window.timestamp(self.cursor))
        if caught:
            log.info("%s: caught up %s logs up to block %s", c.cursor_name, caught, head)

    async def _advance(self, block: int) -> int:
        """Move the cursor (written to the ledger unless a backfill is still pending)."""
        if self.live_start is not None:
            self.cursor = max(block, self.cursor if self.cursor is not None else block)
            return self.cursor
        return await self.cursors.advance(self.config.cursor_name, self.config.chain_id, block)

    async def _backfill(self, rpc: WsRpc) -> None:
        """Started without the ledger: once it answers, deliver what lies between the stored
        cursor and the live start, then write the cursor again."""
        c = self.config
        now = time.monotonic()
        if self.live_start is None or now - self._backfill_at < 2.0:
            return
        self._backfill_at = now
        try:
            position, _stored = await initial_cursor(
                rpc, self.cursors, c.cursor_name, c.address, c.start_block, c.rescan_blocks
            )
        except RpcError:
            raise
        except Exception:  # noqa: BLE001 - still away
            return
        end = self.live_start - 1
        if position < end:
            log.info(
                "%s: the ledger is back: delivering blocks %s..%s", c.cursor_name, position + 1, end
            )
        while position < end:
            low, high = position + 1, min(end, position + c.batch_blocks)
            for raw in sorted(await rpc.get_logs(c.address, self.topics0, low, high), key=sort_key):
                await self.delivery.deliver(raw, c.source)
                self.window.note_log(raw)
            position = high
        self.live_start = None
        if self.cursor is not None:
            self.cursor = await self.cursors.advance(c.cursor_name, c.chain_id, self.cursor)

    async def _replay(self, rpc: RpcMethods, fork: int, head: int) -> None:
        """A block hash it saw changed: tell what vanished, deliver what is there now."""
        c = self.config
        newest = self.window.newest() or fork
        high = min(max(newest, fork), head - c.confirmations)
        REORGS.labels(c.source).inc()
        REORG_DEPTH.labels(c.source).set(max(0, newest - fork + 1))
        self.stats["reorgs"] += 1
        current = await rpc.get_logs(c.address, self.topics0, fork, high) if high >= fork else []
        await replay(
            self.window, self.delivery.deliver, source=c.source, cursor_name=c.cursor_name,
            fork=fork, newest=newest, current=current, order=sort_key,
        )  # fmt: skip
        self.pending = [x for x in self.pending if sort_key(x)[0] < fork]

    async def _on_log(self, result: dict[str, Any], rpc: RpcMethods) -> None:
        c = self.config
        if result.get("removed"):
            identity = sort_key(result)
            waiting = [x for x in self.pending if sort_key(x) == identity]
            if waiting:  # never delivered: nothing to take back
                self.pending = [x for x in self.pending if sort_key(x) != identity]
                return
            await self.delivery.deliver(result, c.source)
            self.window.drop_log(result)
        else:
            if self.window.hash_differs(result):
                # a reorg seen before its head (anvil streams a replacement block's logs
                # first): replay now, so what vanished is told before the new block's logs
                # (noting the log first would hide the change from the head that follows)
                await self._replay_if_forked(rpc, max(sort_key(result)[0], self.head or 0))
            if c.confirmations <= 0:
                await self.delivery.deliver(result, c.source)
                self.window.note_log(result)
            else:
                self.pending.append(result)
        self.stats["streamed"] += 1

    async def _replay_if_forked(self, rpc: RpcMethods, head: int) -> None:
        fork = await find_fork(self.window, rpc.block_hash)
        if fork is not None:
            await self._replay(rpc, fork, head)

    async def _on_head(self, rpc: RpcMethods, header: BlockHeader) -> None:
        c = self.config
        parent = self.window.hashes.get(header.number - 1)
        seen = self.window.hashes.get(header.number)
        if (parent is not None and parent != header.parent_hash) or (
            seen is not None and seen != header.hash
        ):
            await self._replay_if_forked(rpc, header.number)
        self.window.note_block(header.number, header.hash, header.timestamp)
        self.head = header.number
        if c.confirmations > 0:
            ready_below = header.number - c.confirmations
            ready = sorted((x for x in self.pending if sort_key(x)[0] <= ready_below), key=sort_key)
            self.pending = [x for x in self.pending if sort_key(x)[0] > ready_below]
            for raw in ready:
                number = sort_key(raw)[0]
                known = self.window.hashes.get(number)
                if known is not None and str(raw.get("blockHash", "")).lower() != known:
                    log.info("%s: a log of replaced block %s dropped", c.cursor_name, number)
                    continue
                await self.delivery.deliver(raw, c.source)
                self.window.note_log(raw)

    async def _stream(self, rpc: WsRpc, logs_sub: str, heads_sub: str) -> None:
        c = self.config
        last_write = 0.0
        pending_cursor: int | None = None
        while True:
            wait = min(c.idle_check, 2.0) if self.live_start is not None else c.idle_check
            try:
                item = await asyncio.wait_for(rpc.notifications.get(), wait)
            except TimeoutError:
                if self.live_start is not None:
                    await self._backfill(rpc)  # a quiet chain sends no heads to try it on
                head = await rpc.block_number()  # also proves the socket is alive
                if self.head is not None and head > self.head + 1:
                    raise WsStale(
                        f"node head {head}, last newHeads {self.head}: subscription lost"
                    ) from None
                continue
            if item is None:
                if pending_cursor is not None:
                    self.cursor = await self._advance(pending_cursor)
                raise WsClosed("websocket closed")
            subscription, result = item
            if subscription == logs_sub and isinstance(result, dict):
                await self._on_log(result, rpc)
            elif subscription == heads_sub and isinstance(result, dict):
                header = BlockHeader.from_json(result)
                await self._on_head(rpc, header)
                await self._backfill(rpc)
                number = header.number
                done = number - max(1, c.confirmations)
                if self.cursor is None or done > self.cursor:
                    pending_cursor = done
                now = time.monotonic()
                if pending_cursor is not None and now - last_write >= c.cursor_every:
                    self.cursor = await self._advance(pending_cursor)
                    pending_cursor = None
                    last_write = now
                if self.cursor is not None:
                    upto = pending_cursor or self.cursor
                    observe_lag(c.source, number, upto, self.window.timestamp(upto))


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "ended"
    if isinstance(exc, WsClosed | ConnectionClosed):
        return "closed"
    if isinstance(exc, WsStale):
        return "stale"
    if isinstance(exc, OSError | InvalidHandshake | InvalidURI | TimeoutError):
        return "connect"
    if isinstance(exc, RpcError):
        return "rpc"
    if isinstance(exc, DeliveryError):
        return "delivery"
    return "error"


def redact(url: str) -> str:
    return redact_url(url.replace("ws://", "http://").replace("wss://", "https://"))
