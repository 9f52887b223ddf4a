"""Broker order monitor (DESIGN §2 "Broker Order Monitoring", websocket half).

Watches our account's order updates with ccxt.pro `watch_orders` (Binance user data stream:
listenKey + websocket) and delivers each update for a client order id owned by a workflow
(`domain.ids.parse_client_order_id`) to that workflow as the signal `broker_order_update`
with an `OrderSnapshot` payload. Foreign ids (orders placed by hand or by other bots) are
ignored; an update for a workflow that does not exist (or has finished) is logged and counted.

On a disconnect it backs off (exponential, capped), resubscribes, and re-reads over REST the
orders it last saw open, so a fill that happened while the socket was down is still signalled.
The REST poll inside the workflow's fill-poll activity remains the second, independent source.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.broker.adapter import snapshot_from_ccxt
from config.settings import Settings
from domain.ids import parse_client_order_id
from interfaces.broker import OrderSnapshot

log = logging.getLogger(__name__)

SIGNAL_NAME = "broker_order_update"

UPDATES = Counter(
    "hedger_broker_ws_order_updates_total",
    "Order updates from the broker websocket, by outcome",
    ["outcome"],
)
RECONNECTS = Counter("hedger_broker_ws_reconnects_total", "Broker user-stream reconnects")
CONNECTED = Gauge("hedger_broker_ws_connected", "1 while the broker user stream is subscribed")
LAG = Histogram(
    "hedger_broker_ws_order_update_lag_seconds",
    "Exchange event time to signal delivered",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class OrderMonitor:
    def __init__(
        self,
        exchange: Any,
        client: Client,
        chain_id: int,
        *,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        catch_up_delay: float = 0.5,
    ) -> None:
        self.exchange = exchange
        self.client = client
        self.chain_id = chain_id
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.catch_up_delay = catch_up_delay
        self.stats: dict[str, int] = {
            "delivered": 0,
            "foreign": 0,
            "no_workflow": 0,
            "duplicate": 0,
            "error": 0,
            "reconnects": 0,
            "caught_up": 0,
        }
        self._last: dict[str, tuple[str, str]] = {}  # client id -> (status, filled) last delivered
        self._open: dict[str, str] = {}  # owned client ids last seen non-final -> symbol
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.subscribed = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Watch until `stop()` (or cancellation); never raises for broker or Temporal trouble."""
        backoff = self.initial_backoff
        while not self._stop.is_set():
            watch = asyncio.ensure_future(self.exchange.watch_orders())
            stopper = asyncio.ensure_future(self._stop.wait())
            CONNECTED.set(1)
            self.subscribed.set()
            try:
                done, _ = await asyncio.wait({watch, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if watch not in done:
                    watch.cancel()
                    with contextlib.suppress(BaseException):
                        await watch
                    break
                orders = watch.result()
                backoff = self.initial_backoff
                for order in orders:
                    await self.handle(snapshot_from_ccxt(order, source="ws"))
            except asyncio.CancelledError:
                watch.cancel()
                raise
            except Exception as exc:  # ccxt NetworkError on disconnect, auth errors, ...
                CONNECTED.set(0)
                self.subscribed.clear()
                RECONNECTS.inc()
                self.stats["reconnects"] += 1
                log.warning(
                    "broker user stream failed (%s: %s); resubscribing in %.1fs",
                    type(exc).__name__,
                    exc,
                    backoff,
                )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), backoff)
                backoff = min(backoff * 2, self.max_backoff)
                self._spawn(self._catch_up())
            finally:
                stopper.cancel()
        CONNECTED.set(0)
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _catch_up(self) -> None:
        """Re-read over REST the owned orders last seen open (updates may have been missed)."""
        await asyncio.sleep(self.catch_up_delay)
        for cid, symbol in list(self._open.items()):
            try:
                order = await self.exchange.fetch_order(None, symbol, {"clientOrderId": cid})
            except Exception as exc:
                log.info("catch-up read of %s failed: %s", cid, exc)
                continue
            if await self.handle(snapshot_from_ccxt(order, source="rest")) == "delivered":
                self.stats["caught_up"] += 1

    async def handle(self, snap: OrderSnapshot) -> str:
        """Deliver one update; returns the outcome (also counted in metrics and `stats`)."""
        outcome = await self._deliver(snap)
        UPDATES.labels(outcome).inc()
        self.stats[outcome] += 1
        return outcome

    async def _deliver(self, snap: OrderSnapshot) -> str:
        parsed = parse_client_order_id(snap.client_order_id)
        if parsed is None:
            return "foreign"
        key = (snap.status, snap.filled)
        if self._last.get(snap.client_order_id) == key:
            return "duplicate"
        workflow_id = parsed.workflow_id(self.chain_id)
        try:
            await self.client.get_workflow_handle(workflow_id).signal(SIGNAL_NAME, snap)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                log.warning(
                    "order update for %s: workflow %s not found (finished or never started)",
                    snap.client_order_id,
                    workflow_id,
                )
                self._forget(snap)
                return "no_workflow"
            log.error("signalling %s for %s failed: %s", workflow_id, snap.client_order_id, exc)
            return "error"
        if snap.timestamp:
            LAG.observe(max(0.0, time.time() - snap.timestamp / 1000))
        self._last[snap.client_order_id] = key
        if snap.is_final:
            self._forget(snap)
        else:
            self._open[snap.client_order_id] = snap.symbol
        return "delivered"

    def _forget(self, snap: OrderSnapshot) -> None:
        self._open.pop(snap.client_order_id, None)
        if snap.is_final:
            self._last.pop(snap.client_order_id, None)

    def track(self, orders: Iterable[tuple[str, str]]) -> None:
        """Seed the catch-up set with (client id, symbol) of orders known open (e.g. after restart)."""
        for cid, symbol in orders:
            if parse_client_order_id(cid) is not None:
                self._open[cid] = symbol


async def main(settings: Settings) -> None:
    """What `hedger worker order-monitor` runs, until SIGTERM/SIGINT."""
    from prometheus_client import start_http_server

    from adapters.broker.client import BrokerConfig, make_exchange
    from adapters.temporal import connect

    logging.basicConfig(level=logging.INFO)
    metrics_port = os.environ.get("HEDGER_ORDER_MONITOR_METRICS_PORT")
    if metrics_port:
        start_http_server(int(metrics_port), addr=settings.metrics_host)
    client = await connect(settings)
    exchange = make_exchange(BrokerConfig.from_settings(settings))
    monitor = OrderMonitor(exchange, client, settings.chain_id)
    try:
        await exchange.load_markets()
        open_orders = await exchange.fetch_open_orders()
        monitor.track(
            (o["clientOrderId"], o["symbol"]) for o in open_orders if o.get("clientOrderId")
        )
        await monitor.run()
    finally:
        await exchange.close()
