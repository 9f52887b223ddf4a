"""Reorg detection by block hash, shared by the listeners that read the chain (poller, websocket).

Each listener keeps a `ChainWindow` of the blocks it delivered recently (the last
`size` blocks): the hash of every block it saw (range tops, heads, blocks with logs) and the raw
logs it delivered in each. A block hash commits to every ancestor, so checking the newest known
block is enough to know whether anything below changed; when it did, `find_fork` walks down
the known blocks to the newest one whose hash is unchanged, and the listener **replays**
everything above it (`replay`): each log it had delivered there that the chain no longer has
(same block, transaction, log index, topics and data) is delivered again with
``removed: true`` — the workflows are told, `chain_events` is updated — and then the range's
current logs are delivered as usual (those already recorded are duplicates). A reorg deeper
than the window is logged as an error and the whole window is replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

HashOf = Callable[[int], Awaitable[str | None]]


def _num(value: Any) -> int:
    if isinstance(value, str):
        return int(value, 16) if value[:2].lower() == "0x" else int(value)
    return int(value or 0)


def _low(value: Any) -> str:
    return str(value or "").lower()


def log_identity(raw: Mapping[str, Any]) -> tuple[int, str, int, tuple[str, ...], str]:
    """What makes two logs the same event: position and content (not the block hash)."""
    topics = tuple(_low(t) for t in raw.get("topics") or ())
    return (
        _num(raw.get("blockNumber")),
        _low(raw.get("transactionHash")),
        _num(raw.get("logIndex")),
        topics,
        _low(raw.get("data")),
    )


@dataclass
class ChainWindow:
    size: int = 64
    hashes: dict[int, str] = field(default_factory=dict)
    times: dict[int, int] = field(default_factory=dict)
    logs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def note_block(self, number: int, block_hash: str, timestamp: int | None = None) -> None:
        self.hashes[number] = block_hash.lower()
        if timestamp is not None:
            self.times[number] = timestamp
        self.prune()

    def note_log(self, raw: Mapping[str, Any]) -> None:
        number = _num(raw.get("blockNumber"))
        block_hash = raw.get("blockHash")
        if block_hash:
            self.hashes[number] = _low(block_hash)
        kept = {**raw, "removed": False}
        bucket = self.logs.setdefault(number, [])
        identity = log_identity(kept)
        if all(log_identity(x) != identity for x in bucket):
            bucket.append(kept)

    def hash_differs(self, raw: Mapping[str, Any]) -> bool:
        """The log names a block it saw at that height under another hash."""
        known = self.hashes.get(_num(raw.get("blockNumber")))
        return known is not None and known != _low(raw.get("blockHash"))

    def drop_log(self, raw: Mapping[str, Any]) -> None:
        number = _num(raw.get("blockNumber"))
        identity = log_identity(raw)
        bucket = self.logs.get(number, [])
        self.logs[number] = [x for x in bucket if log_identity(x) != identity]

    def newest(self) -> int | None:
        return max(self.hashes) if self.hashes else None

    def timestamp(self, number: int) -> int | None:
        return self.times.get(number)

    def prune(self) -> None:
        newest = self.newest()
        if newest is None:
            return
        floor = newest - self.size
        for table in (self.hashes, self.times, self.logs):
            for number in [n for n in table if n < floor]:
                del table[number]

    def forget_from(self, low: int) -> list[dict[str, Any]]:
        """Drop what is known of blocks ≥ `low`; returns the logs delivered there."""
        dropped = [x for n in sorted(self.logs) if n >= low for x in self.logs[n]]
        for table in (self.hashes, self.times, self.logs):
            for number in [n for n in table if n >= low]:
                del table[number]
        return dropped


async def find_fork(window: ChainWindow, hash_of: HashOf) -> int | None:
    """The first block to replay when a known block hash changed, else None."""
    known = sorted(window.hashes, reverse=True)
    if not known:
        return None
    if await hash_of(known[0]) == window.hashes[known[0]]:
        return None
    for number in known[1:]:
        if await hash_of(number) == window.hashes[number]:
            return number + 1
    log.error(
        "reorg deeper than the %d-block window (no known block below %d is unchanged): "
        "replaying the whole window",
        window.size,
        known[0],
    )
    return known[-1]


def vanished(
    delivered: Iterable[Mapping[str, Any]], current: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The delivered logs the chain no longer has, as ``removed: true`` logs (chain order)."""
    now = {log_identity(x) for x in current}
    gone = [dict(x) for x in delivered if log_identity(x) not in now]
    for x in gone:
        x["removed"] = True
    gone.sort(key=lambda x: (_num(x.get("blockNumber")), _num(x.get("logIndex"))))
    return gone


Deliver = Callable[[Mapping[str, Any], str], Awaitable[Any]]


async def replay(
    window: ChainWindow,
    deliver: Deliver,
    *,
    source: str,
    cursor_name: str,
    fork: int,
    newest: int,
    current: list[dict[str, Any]],
    order: Callable[[dict[str, Any]], Any],
) -> int:
    """After a reorg from block `fork`: deliver every log the listener had delivered at or above
    it that `current` (the chain's logs there now) no longer has, as ``removed: true``, then
    `current` in `order`; the window then holds `current` instead. Returns how many logs were
    delivered. The caller counts the reorg and re-reads `current`."""
    delivered = [x for n, xs in window.logs.items() if n >= fork for x in xs]
    gone = vanished(delivered, current)
    log.warning(
        "%s: reorg from block %s (delivered up to %s): %d logs removed, %d re-read",
        cursor_name, fork, newest, len(gone), len(current),
    )  # fmt: skip
    for raw in gone:
        await deliver(raw, source)
    for raw in sorted(current, key=order):
        await deliver(raw, source)
    window.forget_from(fork)
    for raw in current:
        window.note_log(raw)
    return len(gone) + len(current)
