"""The chain worker's local transaction journal (DESIGN §3, §7): one SQLite file per signer key.

A transaction is recorded here — committed and fsync'd (WAL, ``synchronous=FULL``) — before it
is broadcast, its status after the receipt, and a retried or repeated send consults it first.
It lives on the chain worker's own disk, so a Postgres outage never stops or strands a send;
``chain_transactions`` in Postgres is a *mirror* that `JournalMirror` catches up in the
background (idempotent upserts, retried with back-off, never awaited by a send).

Rows carry an order: every change of a row takes the next ``seq`` (strictly increasing per
file, seeded from the clock so a recreated file keeps increasing), and the mirror applies a row
only over an older ``seq``. A status never moves back: ``pending`` < ``dropped`` / ``replaced``
< ``mined`` / ``reverted`` / ``reverted_preflight`` (a receipt is the ground truth and may
overrule an earlier "dropped"; nothing overrules a receipt but another receipt).

Each row also says who sent it and what makes it unique beyond (action, quote):
``origin`` — the Temporal activity (workflow id / run id / activity id) whose attempts share
the transaction — and ``key`` — an idempotency key (a close fill's ``closedAmount`` before it).
A revert caught by the gas-estimate pre-flight is a row too (``reverted_preflight``, no nonce,
a synthetic ``preflight:<uuid>`` in place of a hash: nothing was signed or broadcast).

All SQLite work runs on one dedicated thread, so an fsync never blocks the event loop. The file
belongs to one process at a time (an exclusive lock on ``<file>.lock``, released when the
process ends, even by kill -9): a second chain worker for the same signer on the same disk is
refused with `JournalLocked` instead of racing the first for nonces.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger("adapters.chain.journal")

T = TypeVar("T")

PENDING = "pending"
MINED = "mined"
REVERTED = "reverted"
REPLACED = "replaced"
DROPPED = "dropped"
REVERTED_PREFLIGHT = "reverted_preflight"

STATUS_RANK = {
    PENDING: 0,
    DROPPED: 1,
    REPLACED: 1,
    MINED: 2,
    REVERTED: 2,
    REVERTED_PREFLIGHT: 2,
}
PREFLIGHT_PREFIX = "preflight:"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS txs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chain_id INTEGER NOT NULL,
    signer TEXT NOT NULL,
    nonce INTEGER,
    tx_hash TEXT NOT NULL UNIQUE,
    action TEXT NOT NULL,
    quote_id INTEGER,
    key TEXT,
    origin TEXT,
    status TEXT NOT NULL,
    revert_reason TEXT,
    gas_used INTEGER,
    block_number INTEGER,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    seq INTEGER NOT NULL,
    mirrored_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS txs_action_quote ON txs (action, quote_id);
CREATE INDEX IF NOT EXISTS txs_status ON txs (status);
CREATE INDEX IF NOT EXISTS txs_unmirrored ON txs (seq) WHERE seq > mirrored_seq;
"""
_COLUMNS = (
    "id, chain_id, signer, nonce, tx_hash, action, quote_id, key, origin, status, revert_reason, "
    "gas_used, block_number, created_at, updated_at, seq, mirrored_seq"
)


@dataclass(frozen=True, slots=True)
class TxTag:
    """Who sends a transaction and what, beyond (action, quote), makes it unique."""

    origin: str | None = None  # the activity (workflow id / run id / activity id) sending it
    key: str | None = None  # idempotency key, e.g. "closed:<closedAmount before, wei>"


NO_TAG = TxTag()


@dataclass(frozen=True, slots=True)
class JournalRow:
    id: int
    chain_id: int
    signer: str
    nonce: int | None
    tx_hash: str
    action: str
    quote_id: int | None
    key: str | None
    origin: str | None
    status: str
    revert_reason: str | None
    gas_used: int | None
    block_number: int | None
    created_at: float  # unix seconds
    updated_at: float
    seq: int
    mirrored_seq: int

    @property
    def preflight(self) -> bool:
        return self.tx_hash.startswith(PREFLIGHT_PREFIX)


class JournalLocked(RuntimeError):
    """Another process holds this signer's journal (a second chain worker for the same key)."""


def journal_file(directory: str | Path, chain_id: int, signer: str) -> Path:
    """The journal of `signer` on `chain_id` inside `directory` (one file per signer)."""
    return Path(directory) / f"chain-{chain_id}-{signer.lower()}.sqlite3"


class LocalJournal:
    """The signer's journal file. `on_change` (if set) is called after every committed change,
    on the event loop (the mirror uses it to wake up)."""

    def __init__(self, path: str | Path, *, chain_id: int, signer: str) -> None:
        self.path = Path(path)
        self.chain_id = chain_id
        self.signer = signer
        self.on_change: Callable[[], None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chain-journal")
        self._db: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._last_seq = 0
        self._closed = False

    @classmethod
    def open_for(cls, directory: str | Path, *, chain_id: int, signer: str) -> LocalJournal:
        return cls(journal_file(directory, chain_id, signer), chain_id=chain_id, signer=signer)

    # ------------------------------------------------------------------ plumbing
    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(_SCHEMA)
            self._last_seq = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM txs").fetchone()[0])
            self._db = db
        return self._db

    def _take_lock(self) -> None:
        if self._lock_fd is not None:
            return
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalLocked(
                f"chain journal {self.path} is held by another process: run one chain worker "
                "per signer key"
            ) from None
        self._lock_fd = fd

    async def open(self) -> None:
        """Open (create) the file and take its lock now; raises `JournalLocked`."""
        await self._run(lambda db: None)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError(f"chain journal {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(self._connect()))

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn` in one transaction, committed (WAL + synchronous=FULL: fsync'd) on return."""
        result = await self._run(lambda db: _in_transaction(db, fn))
        if self.on_change is not None:
            self.on_change()
        return result

    def _next_seq(self) -> int:
        # strictly increasing; seeded from the clock (µs) so a recreated file still goes up
        self._last_seq = max(self._last_seq + 1, time.time_ns() // 1000)
        return self._last_seq

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the lock
                self._lock_fd = None

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=True)

    # ------------------------------------------------------------------ writes
    async def sent(
        self, signer: str, nonce: int, tx_hash: str, action: str, quote_id: int | None,
        tag: TxTag = NO_TAG,
    ) -> None:  # fmt: skip
        """Record a signed transaction before its broadcast (idempotent on the hash)."""
        now = time.time()

        def insert(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR IGNORE INTO txs (chain_id, signer, nonce, tx_hash, action, quote_id, "
                "key, origin, status, created_at, updated_at, seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.chain_id, signer, nonce, tx_hash.lower(), action, quote_id, tag.key,
                 tag.origin, PENDING, now, now, self._next_seq()),
            )  # fmt: skip

        await self._write(insert)

    async def status(
        self, tx_hash: str, status: str, reason: str | None = None, gas_used: int | None = None,
        block_number: int | None = None,
    ) -> bool:  # fmt: skip
        """Move a row to `status` unless it already holds a later one; True if it changed."""
        if status not in STATUS_RANK:
            raise ValueError(f"unknown transaction status {status!r}")
        now = time.time()

        def update(db: sqlite3.Connection) -> bool:
            row = db.execute(
                "SELECT status, revert_reason, gas_used, block_number FROM txs WHERE tx_hash = ?",
                (tx_hash.lower(),),
            ).fetchone()
            if row is None:
                return False
            old_status, old_reason, old_gas, old_block = row
            if STATUS_RANK[status] < STATUS_RANK[old_status]:
                return False
            new = (
                status,
                reason if reason is not None else old_reason,
                gas_used if gas_used is not None else old_gas,
                block_number if block_number is not None else old_block,
            )
            if new == (old_status, old_reason, old_gas, old_block):
                return False
            db.execute(
                "UPDATE txs SET status = ?, revert_reason = ?, gas_used = ?, block_number = ?, "
                "updated_at = ?, seq = ? WHERE tx_hash = ?",
                (*new, now, self._next_seq(), tx_hash.lower()),
            )
            return True

        return await self._write(update)

    async def preflight_reverted(
        self, signer: str, action: str, quote_id: int | None, reason: str, tag: TxTag = NO_TAG
    ) -> str:
        """Record a send refused by the gas-estimate pre-flight (no nonce); returns its id."""
        ref = PREFLIGHT_PREFIX + uuid.uuid4().hex
        now = time.time()

        def insert(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO txs (chain_id, signer, nonce, tx_hash, action, quote_id, key, "
                "origin, status, revert_reason, created_at, updated_at, seq) "
                "VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.chain_id, signer, ref, action, quote_id, tag.key, tag.origin,
                 REVERTED_PREFLIGHT, reason, now, now, self._next_seq()),
            )  # fmt: skip

        await self._write(insert)
        return ref

    async def mark_mirrored(self, rows: Iterable[JournalRow]) -> None:
        """The mirror holds these rows as of their `seq` (a newer change stays unmirrored)."""
        pairs = [(row.seq, row.id, row.seq) for row in rows]
        if not pairs:
            return

        def update(db: sqlite3.Connection) -> None:
            db.executemany(
                "UPDATE txs SET mirrored_seq = ? WHERE id = ? AND mirrored_seq < ?", pairs
            )

        await self._run(lambda db: _in_transaction(db, update))

    async def prune(self, older_than_seconds: float) -> int:
        """Forget settled, mirrored rows older than this; returns how many."""
        cutoff = time.time() - older_than_seconds

        def delete(db: sqlite3.Connection) -> int:
            cur = db.execute(
                "DELETE FROM txs WHERE updated_at < ? AND status != ? AND mirrored_seq >= seq",
                (cutoff, PENDING),
            )
            return int(cur.rowcount)

        return await self._run(lambda db: _in_transaction(db, delete))

    # ------------------------------------------------------------------ reads
    async def find(
        self, action: str, quote_id: int | None, *, key: str | None = None,
        origin: str | None = None, statuses: Sequence[str] | None = None,
    ) -> list[JournalRow]:  # fmt: skip
        """Rows for (action, quote), narrowed to `key` / `origin` / `statuses` when given,
        oldest nonce first."""
        sql = f"SELECT {_COLUMNS} FROM txs WHERE action = ? AND "
        params: list[Any] = [action]
        if quote_id is None:
            sql += "quote_id IS NULL"
        else:
            sql += "quote_id = ?"
            params.append(quote_id)
        if key is not None:
            sql += " AND key = ?"
            params.append(key)
        if origin is not None:
            sql += " AND origin = ?"
            params.append(origin)
        if statuses is not None:
            sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
            params.extend(statuses)
        sql += " ORDER BY nonce, id"
        return await self._select(sql, params)

    async def get(self, tx_hash: str) -> JournalRow | None:
        rows = await self._select(
            f"SELECT {_COLUMNS} FROM txs WHERE tx_hash = ?", [tx_hash.lower()]
        )
        return rows[0] if rows else None

    async def pending(self) -> list[JournalRow]:
        return await self._select(
            f"SELECT {_COLUMNS} FROM txs WHERE status = ? ORDER BY nonce, id", [PENDING]
        )

    async def unmirrored(self, limit: int = 200) -> list[JournalRow]:
        return await self._select(
            f"SELECT {_COLUMNS} FROM txs WHERE seq > mirrored_seq ORDER BY seq LIMIT ?", [limit]
        )

    async def all_rows(self) -> list[JournalRow]:
        return await self._select(f"SELECT {_COLUMNS} FROM txs ORDER BY id", [])

    async def _select(self, sql: str, params: Sequence[Any]) -> list[JournalRow]:
        def query(db: sqlite3.Connection) -> list[JournalRow]:
            return [JournalRow(*row) for row in db.execute(sql, params).fetchall()]

        return await self._run(query)


def _in_transaction(db: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = fn(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result


MirrorPush = Callable[[Sequence[JournalRow]], Awaitable[None]]


class JournalMirror:
    """Copies journal changes to the Postgres mirror in the background.

    `kick()` (wired to `LocalJournal.on_change`) wakes it — and starts it on the running loop
    the first time; the changes of the next `coalesce` seconds after a kick go out in the same
    push (a transaction's send and its receipt, the other transactions of the moment), so the
    copy costs the chain worker, which sends on the same event loop, one push per moment rather
    than per change. A failed push is logged and retried with back-off (1 s doubling to
    `max_backoff`); nothing ever waits for it but `flush()`."""

    def __init__(
        self, journal: LocalJournal, push: MirrorPush, *, interval: float = 5.0,
        max_backoff: float = 10.0, batch: int = 200, coalesce: float = 0.25,
    ) -> None:  # fmt: skip
        self.journal = journal
        self.push = push
        self.interval = interval
        self.coalesce = coalesce
        self.max_backoff = max_backoff
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.failures = 0  # consecutive failed pushes
        self.last_error: str | None = None

    def kick(self) -> None:
        if self._stopping:
            return
        self._wake.set()
        if self._task is None or self._task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (yet): started by the next kick inside one
            self._task = loop.create_task(self._run(), name="chain-journal-mirror")

    def start(self) -> None:
        """Start catching up (rows a previous process left unmirrored included)."""
        self.kick()

    async def _run(self) -> None:
        backoff = 1.0
        while not self._stopping:
            self._wake.clear()  # a kick from here on wakes the wait below
            try:
                done = await self.sync_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - an outage of the mirror: retry later
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self.failures == 1 or self.failures % 20 == 0:
                    log.warning("chain journal mirror unavailable (%s failures): %s",
                                self.failures, self.last_error)  # fmt: skip
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if self.failures:
                log.info("chain journal mirror caught up after %s failures", self.failures)
            self.failures, self.last_error, backoff = 0, None, 1.0
            if not done:
                continue  # more rows waiting
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                continue
            if self.coalesce > 0:
                await asyncio.sleep(self.coalesce)  # kicked: let the moment's changes gather

    async def sync_once(self) -> bool:
        """Push one batch of unmirrored rows; True when nothing is left behind."""
        rows = await self.journal.unmirrored(self.batch)
        if not rows:
            return True
        await self.push(rows)
        await self.journal.mark_mirrored(rows)
        return len(rows) < self.batch

    async def flush(self, timeout: float = 5.0) -> bool:  # noqa: ASYNC109 - bounded best effort
        """Try to mirror everything now (shutdown); True if the mirror is caught up."""
        try:
            async with asyncio.timeout(timeout):
                while not await self.sync_once():
                    pass
            return True
        except Exception as exc:  # noqa: BLE001
            log.warning("chain journal mirror not caught up at shutdown: %s", exc)
            return False

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._task = None
