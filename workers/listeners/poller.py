"""The HTTP `eth_getLogs` poller (DESIGN §2 "Blockchain Input Module", the confirmed path).

Scans the diamond's logs (address + the topic0s some workflow may own) block range by block
range, up to ``head - confirmations``, over the configured RPC URLs (fallback on errors). Its
cursor (the last block whose logs were all delivered) lives in Postgres (`listener_cursors`,
name ``poll-<chainId>``) and advances only after every log of a range was delivered, so a crash
or a Temporal outage re-delivers instead of losing anything. On start it re-scans a few blocks
behind the cursor (deliveries are idempotent). With no cursor it starts at the configured start
block, else at the contract's deployment block (found with `eth_getCode`), else at 0.

A range the node refuses (too many results, too wide) is split in halves down to one block.

**Reorgs** (`reorg`): every round first compares the hash of the newest block it delivered
with the chain's; when it changed, the affected blocks are replayed — each log the chain no
longer has is delivered with ``removed: true`` and the range's current logs are delivered as
usual. The logs of a range within `reorg_window` blocks of the head are checked against their
block headers before any is delivered (a reorg in the middle of a round retries the round).
On start, the logs `chain_events` holds in the re-scan window seed the window, so a reorg that
happened while the poller was down is detected too.
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
from workers.listeners.delivery import (
    RECONNECTS,
    REORG_DEPTH,
    REORGS,
    Delivery,
    DeliveryError,
    listened_topic0s,
    observe_lag,
)
from workers.listeners.reorg import ChainWindow, find_fork, replay
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
    reorg_window: int = 64  # blocks whose hashes are remembered for reorg detection
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


async def initial_or_live(
    rpc: RpcMethods,
    cursors: CursorStore,
    name: str,
    address: str,
    start_block: int | None,
    rescan_blocks: int,
    confirmations: int,
) -> tuple[int, int | None]:
    """`initial_cursor`, or — when the ledger cannot give the cursor (Postgres away while the
    listener starts) — a live start `rescan_blocks` behind the confirmed head, with no cursor:
    the caller scans from the stored cursor once the ledger is back (`backfill`) and writes no
    cursor until then. Postgres never holds a delivery up, not even at start."""
    try:
        return await initial_cursor(rpc, cursors, name, address, start_block, rescan_blocks)
    except RpcError:
        raise
    except Exception as exc:  # noqa: BLE001 - asyncpg, SQLAlchemy: the ledger is away
        head = await rpc.block_number()
        position = max(-1, head - confirmations - rescan_blocks)
        if start_block is not None:
            position = max(position, start_block - 1)
        log.warning(
            "%s: the ledger cannot give the cursor (%s): starting live from block %d; what lies "
            "between the stored cursor and there is scanned once the ledger is back",
            name,
            exc,
            position + 1,
        )
        return position, None


class ReorgInFlight(RpcError):
    """A log's block hash differs from the header's: the chain is reorganising; retry."""


async def seed_window(
    window: ChainWindow, delivery: Delivery, low: int, high: int, name: str
) -> int:
    """Put the logs `chain_events` holds as delivered in [low, high] into `window`."""
    if high < low:
        return 0
    try:
        recorded = await delivery.recorded_logs(low, high)
    except Exception as exc:  # noqa: BLE001 - the ledger is away: no seed (logged)
        log.warning("%s: cannot read chain_events to check for reorgs (%s)", name, exc)
        return 0
    for raw in recorded:
        if raw.get("blockHash"):
            window.note_log(raw)
    return len(recorded)


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
        self.window = ChainWindow(config.reorg_window)
        self.live_start: int | None = None  # started without the ledger: backfill pending
        self._warned_ahead = False

    async def start(self) -> None:
        """Load the cursor and set the scan position (with the re-scan window)."""
        c = self.config
        position, cursor = await initial_or_live(
            self.rpc, self.cursors, c.cursor_name, c.address, c.start_block, c.rescan_blocks,
            c.confirmations,
        )  # fmt: skip
        self.position = position
        if cursor is None:
            self.live_start = position + 1
            return
        self.cursor = cursor
        low = max(position + 1, cursor - c.reorg_window)
        await seed_window(self.window, self.delivery, low, cursor, c.cursor_name)
        log.info("%s: cursor %s, scanning from block %s", c.cursor_name, cursor, position + 1)

    async def backfill(self) -> None:
        """Started without the ledger: once it answers, scan again from the stored cursor (what
        was delivered meanwhile comes back as duplicates), and write the cursor from then on."""
        c = self.config
        try:
            position, cursor = await initial_cursor(
                self.rpc, self.cursors, c.cursor_name, c.address, c.start_block, c.rescan_blocks
            )
        except RpcError:
            raise
        except Exception:  # noqa: BLE001 - still away
            return
        if self.position is not None and position < self.position:
            log.info(
                "%s: the ledger is back (cursor %s): scanning again from block %s",
                c.cursor_name,
                cursor,
                position + 1,
            )
            self.position = position
        self.cursor = cursor
        self.live_start = None

    async def poll_once(self) -> int:
        """Scan up to the confirmed head; returns the number of logs handed to delivery.

        Raises `RpcError` / `DeliveryError`; the scan position and the cursor stay where the
        last completed range left them."""
        if self.position is None:
            await self.start()
        if self.live_start is not None:
            await self.backfill()
        assert self.position is not None
        c = self.config
        latest = await self.rpc.header("latest")
        if latest is None:
            raise RpcError("the node has no latest block")
        head = latest.number
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
        fork = await find_fork(self.window, self.rpc.block_hash)
        if fork is not None:
            handled += await self._replay(fork, head)
        while self.position < target:
            low = self.position + 1
            high = min(target, low + c.batch_blocks - 1)
            logs = await self._get_logs(low, high)
            top = await self._checked(logs, high, head)
            for raw in sorted(logs, key=sort_key):
                await self.delivery.deliver(raw, c.source)
                self.window.note_log(raw)
                handled += 1
            self.window.note_block(high, top[0], top[1])
            self.position = high
            if self.live_start is None:  # no cursor is written before the backfill
                self.cursor = await self.cursors.advance(c.cursor_name, c.chain_id, high)
            RANGES.labels(c.source).inc()
            observe_lag(c.source, head, high, top[1])
        if self.cursor is not None:
            observe_lag(c.source, head, self.cursor, self.window.timestamp(self.cursor))
        return handled

    async def _checked(
        self, logs: list[dict[str, Any]], high: int, head: int
    ) -> tuple[str, int | None]:
        """(hash, timestamp) of block `high`; raises `ReorgInFlight` when a log of a recent
        block carries another block hash than that block's header."""
        top = await self.rpc.header(high)
        if top is None:
            raise RpcError(f"block {high} not found (a lagging node?)")
        recent = head - self.config.reorg_window
        hashes = {high: top.hash}
        for raw in logs:
            number = sort_key(raw)[0]
            if number <= recent:
                continue
            if number not in hashes:
                header = await self.rpc.header(number)
                if header is None:
                    raise ReorgInFlight(f"block {number} vanished while it was read")
                hashes[number] = header.hash
            if str(raw.get("blockHash", "")).lower() != hashes[number]:
                raise ReorgInFlight(f"block {number} changed while it was read")
        return top.hash, top.timestamp

    async def _replay(self, fork: int, head: int) -> int:
        """A known block hash changed: re-read [fork, newest delivered], tell the workflows
        what vanished (``removed: true``) and deliver what is there now."""
        c = self.config
        newest = max(self.position or 0, self.window.newest() or 0)
        high = min(newest, head - c.confirmations)
        REORGS.labels(c.source).inc()
        REORG_DEPTH.labels(c.source).set(max(0, newest - fork + 1))
        current = await self._get_logs(fork, high) if high >= fork else []
        top = await self._checked(current, high, head) if high >= fork else None
        count = await replay(
            self.window, self.delivery.deliver, source=c.source, cursor_name=c.cursor_name,
            fork=fork, newest=newest, current=current, order=sort_key,
        )  # fmt: skip
        if top is not None:
            self.window.note_block(high, top[0], top[1])
        if self.position is not None and self.position > high:
            self.position = high  # blocks above the confirmed head are scanned again
        return count

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
                kind = (
                    "reorg"
                    if isinstance(exc, ReorgInFlight)
                    else "rpc"
                    if isinstance(exc, RpcError)
                    else "delivery"
                )
                POLL_ERRORS.labels(c.source, kind).inc()
                RECONNECTS.labels(c.source, kind).inc()
                log.warning("%s: poll failed (%s), retrying: %s", c.cursor_name, kind, exc)
            except Exception as exc:  # noqa: BLE001 - e.g. Postgres down while saving the cursor
                POLL_ERRORS.labels(c.source, "other").inc()
                RECONNECTS.labels(c.source, "other").inc()
                log.exception("%s: poll failed, retrying: %s", c.cursor_name, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), c.interval)
