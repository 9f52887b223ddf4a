"""One poller of the notifications table per process, fanning out to `position-state-ws3` clients.

However many front-ends are connected, the database sees one query per `interval` (rows modified
at or after a moving cursor), not one per client. Each client gets the notifications of its
addresses that were created or modified after it subscribed, each (id, modify_time) once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncEngine

from ledger import queries as repo
from ledger.models import Notification

log = logging.getLogger(__name__)
QUEUE_LIMIT = 1000  # a client this far behind is dropped (the socket closes; it reconnects)


class Subscription:
    def __init__(self, hub: NotificationHub, addresses: Iterable[str]) -> None:
        self.hub = hub
        self.addresses = {a.lower() for a in addresses}
        self.queue: asyncio.Queue[Notification | None] = asyncio.Queue(QUEUE_LIMIT)

    def close(self) -> None:
        self.hub.unsubscribe(self)


class NotificationHub:
    def __init__(self, engine: AsyncEngine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self._subs: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, addresses: Iterable[str]) -> Subscription:
        sub = Subscription(self, addresses)
        self._subs.add(sub)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="notification-hub")
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        cursor = int(time.time())
        sent: set[tuple[str, int]] = set()
        while self._subs:
            try:
                rows = await repo.notifications_modified_since(self.engine, cursor)
            except Exception as exc:  # noqa: BLE001 - a DB blip must not end the stream
                log.warning("notification poll failed: %s", exc)
                rows = []
            for n in rows:
                key = (str(n.id), n.modify_time)
                if key in sent:
                    continue
                sent.add(key)
                self._dispatch(n)
            if rows:
                cursor = max(cursor, max(n.modify_time for n in rows))
                sent = {k for k in sent if k[1] >= cursor}
            await asyncio.sleep(self.interval)

    def _dispatch(self, n: Notification) -> None:
        address = n.counterparty_address.lower()
        for sub in list(self._subs):
            if address not in sub.addresses:
                continue
            try:
                sub.queue.put_nowait(n)
            except asyncio.QueueFull:
                log.warning("position-state client too slow; dropping it")
                self._subs.discard(sub)
                with contextlib.suppress(asyncio.QueueEmpty):
                    sub.queue.get_nowait()
                sub.queue.put_nowait(None)  # tells the handler to close
