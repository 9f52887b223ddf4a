"""The bench's own view of the chain: one websocket to anvil, subscribed to the diamond's logs
and to pending transactions, stamping each with the wall clock when it is seen. Nothing here
asks the hedger: a lock's broadcast is the moment its transaction reached the node."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import websockets

from bench.stats import QuoteStamps
from domain import events as ev

# event -> the stamp it sets on its quote
STAMP_OF: dict[type[ev.SymmioEvent], str] = {
    ev.SendQuote: "quote_seen",
    ev.LockQuote: "lock_mined",
    ev.OpenPosition: "open_mined",
    ev.RequestToClosePosition: "close_seen",
    ev.FillCloseRequest: "close_mined",
}


class ChainWatch:
    def __init__(self, ws_url: str, symmio: str) -> None:
        self.ws_url = ws_url
        self.symmio = symmio
        self.quotes: dict[int, QuoteStamps] = {}
        self.pending: dict[str, float] = {}  # tx hash -> first seen pending
        self.lock_tx: dict[int, str] = {}  # quote id -> the LockQuote's transaction
        self.statuses: dict[int, str] = {}  # quote id -> the last event's name
        self.bad_logs = 0
        self.ready = asyncio.Event()
        self.listeners: list[Callable[[ev.SymmioEvent, float], None]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def stamps(self, quote_id: int) -> QuoteStamps:
        if quote_id not in self.quotes:
            self.quotes[quote_id] = QuoteStamps(quote_id)
        return self.quotes[quote_id]

    async def _run(self) -> None:
        async with websockets.connect(self.ws_url, max_size=None, ping_interval=None) as ws:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe",
                                      "params": ["logs", {"address": self.symmio}]}))  # fmt: skip
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "eth_subscribe",
                                      "params": ["newPendingTransactions"]}))  # fmt: skip
            subscriptions: dict[str, str] = {}
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                if "id" in message and "result" in message:
                    subscriptions[message["result"]] = "logs" if message["id"] == 1 else "pending"
                    if len(subscriptions) == 2:
                        self.ready.set()
                    continue
                params = message.get("params") or {}
                kind = subscriptions.get(params.get("subscription", ""))
                result = params.get("result")
                if kind == "pending" and isinstance(result, str):
                    self.pending.setdefault(result.lower(), now)
                elif kind == "logs" and isinstance(result, dict):
                    self._log(result, now)

    def _log(self, log: dict[str, Any], now: float) -> None:
        if log.get("removed"):
            return
        try:
            event = ev.decode_log(log)
        except ev.UnknownEvent:
            return
        except ev.UndecodableLog:
            self.bad_logs += 1
            return
        stamp = STAMP_OF.get(type(event))
        quote_id = getattr(event, "quote_id", None)
        if stamp is None or not isinstance(quote_id, int):
            return
        quote = self.stamps(quote_id)
        quote.note(stamp, now)
        self.statuses[quote_id] = type(event).__name__
        if isinstance(event, ev.LockQuote):
            quote.party_b = event.party_b.lower()
            tx = str(log.get("transactionHash", "")).lower()
            self.lock_tx[quote_id] = tx
            if tx in self.pending:
                quote.note("lock_broadcast", self.pending[tx])
        for listener in self.listeners:
            listener(event, now)
