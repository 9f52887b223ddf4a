"""The HTTP `eth_getLogs` poller (DESIGN §2 "Blockchain Input Module", the confirmed path).

Scans the diamond's logs (address + the topic0s some workflow may own) block range by block
range, up to ``head - confirmations``, over the configured RPC URLs (fallback on errors). Its
cursor (the last block whose logs were all delivered) lives in Postgres (`listener_cursors`,
name ``poll-<chainId>``) and advances only after every log of a range was delivered, so a crash
or a Temporal outage re-delivers instead of losing anything. On start it re-scans a few blocks
behind the cursor (deliveries are idempotent). With no cursor it starts at the configured start
block, else at the contract's deployment block (found with `eth_getCode`), else at 0.

A range the node refuses (too many results, too wide) is split in halves down to one block.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from workers.listeners.cursor import CursorStore
from workers.listeners.delivery import Delivery, DeliveryError, listened_topic0s, observe_lag
from workers.listeners.rpc import RpcError, RpcMethods, find_deployment_block

log = logging.getLogger(__name__)

RANGES = Counter(
    "hedger_listener_poll_ranges_total",
    "eth_getLogs block ranges the poller completed, by listener",
    ["source"],
)
POLL_ERRORS = Counter(
    "hedger_listener_poll_errors_total",
    "Poll rounds that failed (RPC or delivery) and will be retried",
    ["source", "kind"],
)


def sort_key(raw: dict[str, Any]) -> tuple[int, int]:
    def num(value: Any) -> int:
        if isinstance(value, str):
            return int(value, 16) if value.startswith("0x") else int(value)
        return int(value or 0)

    return num(raw.get("blockNumber")), num(raw.get("logIndex"))


@dataclass
class PollerConfig:
    chain_id: int
    address: str
    confirmations: int = 1
    start_block: int | None = None  # None: cursor, else deployment block, else 0
    batch_blocks: int = 2000
    rescan_blocks: int = 10
    interval: float = 2.0
    name: str | None = None  # cursor name; default poll-<chainId>
    source: str = "poll"

    @property
    def cursor_name(self) -> str:
        return self.name or f"{self.source}-{self.chain_id}"


async def initial_cursor(
    rpc: RpcMethods,
    cursors: CursorStore,
    name: str,
    address: str,
    start_block: int | None,
    rescan_blocks: int,
) -> tuple[int, int]:
    """(where to scan from − 1, the stored cursor or that value): the rescan starts behind the
    stored cursor; without one, the configured start block, the deployment block, or 0."""
    stored = await cursors.get(name)
    if stored is not None:
        floor = start_block if start_block is not None else 0
        return max(floor - 1, stored - rescan_blocks), stored
    if start_block is None:
        head = await rpc.block_number()
        deployed = await find_deployment_block(rpc, address, head)
        if deployed is None:
            log.warning(
                "%s: no cursor, no start block, deployment block unknown: scanning from 0", name
            )
        start_block = deployed or 0
    return start_block - 1, start_block - 1


class LogPoller:
    def __init__(
        self,
        rpc: RpcMethods,
        delivery: Delivery,
        cursors: CursorStore,
        config: PollerConfig,
        *,
        topics0: Sequence[str] | None = None,
    ) -> None:
        self.rpc = rpc
        self.delivery = delivery
        self.cursors = cursors
        self.config = config
        self.topics0 = list(topics0) if topics0 is not None else listened_topic0s()
        self.position: int | None = None  # last block scanned in this run (may trail the cursor)
        self.cursor: int | None = None  # persisted cursor
        self.head: int | None = None
        self._warned_ahead = False

    async def start(self) -> None:
        """Load the cursor and set the scan position (with the re-scan window)."""
        c = self.config
        self.position, self.cursor = await initial_cursor(
            self.rpc, self.cursors, c.cursor_name, c.address, c.start_block, c.rescan_blocks
        )
        log.info(
            "%s: cursor %s, scanning from block %s", c.cursor_name, self.cursor, self.position + 1
        )

    async def poll_once(self) -> int:
        """Scan up to the confirmed head; returns the number of logs handed to delivery.

        Raises `RpcError` / `DeliveryError`; the scan position and the cursor stay where the
        last completed range left them."""
        if self.position is None:
            await self.start()
        assert self.position is not None
        c = self.config
        head = await self.rpc.block_number()
        self.head = head
        target = head - c.confirmations
        if self.cursor is not None and self.cursor > head and not self._warned_ahead:
            self._warned_ahead = True
            log.warning(
                "%s: cursor %s is ahead of the chain head %s (a reset devnet, or a lagging "
                "node?): nothing is delivered until the chain passes it; reset the cursor if "
                "the chain was replaced",
                c.cursor_name,
                self.cursor,
                head,
            )
        handled = 0
        while self.position < target:
            low = self.position + 1
            high = min(target, low + c.batch_blocks - 1)
            logs = await self._get_logs(low, high)
            for raw in sorted(logs, key=sort_key):
                await self.delivery.deliver(raw, c.source)
                handled += 1
            self.position = high
            self.cursor = await self.cursors.advance(c.cursor_name, c.chain_id, high)
            RANGES.labels(c.source).inc()
            observe_lag(c.source, head, self.cursor)
        if self.cursor is not None:
            observe_lag(c.source, head, self.cursor)
        return handled

    async def _get_logs(self, low: int, high: int) -> list[dict[str, Any]]:
        try:
            return await self.rpc.get_logs(self.config.address, self.topics0, low, high)
        except RpcError as exc:
            if high <= low:
                raise
            middle = (low + high) // 2
            log.info("eth_getLogs %s..%s refused (%s); splitting", low, high, exc)
            return [
                *(await self._get_logs(low, middle)),
                *(await self._get_logs(middle + 1, high)),
            ]

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; RPC and delivery failures are logged and retried."""
        c = self.config
        while not stop.is_set():
            try:
                await self.poll_once()
            except (RpcError, DeliveryError) as exc:
                kind = "rpc" if isinstance(exc, RpcError) else "delivery"
                POLL_ERRORS.labels(c.source, kind).inc()
                log.warning("%s: poll failed (%s), retrying: %s", c.cursor_name, kind, exc)
            except Exception as exc:  # noqa: BLE001 - e.g. Postgres down while saving the cursor
                POLL_ERRORS.labels(c.source, "other").inc()
                log.exception("%s: poll failed, retrying: %s", c.cursor_name, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), c.interval)
