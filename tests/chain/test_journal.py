"""The local transaction journal (SQLite, one file per signer) and its Postgres mirror
(`chain_transactions` on the embedded Postgres): idempotent records, statuses that never move
back, a file that survives a reopen, lookups by action / quote / key / origin, and mirror
upserts where an older write never overwrites a newer one."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from adapters.chain.journal import (
    JournalLocked,
    JournalMirror,
    JournalRow,
    LocalJournal,
    TxTag,
    journal_file,
)
from ledger.tx_journal import ChainTxMirror


def _hash() -> str:
    return "0x" + secrets.token_hex(32)


async def test_local_journal_records_statuses_in_order_and_survives_a_reopen(
    tmp_path: Path,
) -> None:
    signer = "0x" + secrets.token_hex(20)
    path = journal_file(tmp_path, 999, signer)
    journal = LocalJournal(path, chain_id=999, signer=signer)
    h1, h2 = _hash(), _hash()
    try:
        await journal.sent(signer, 7, h1.upper().replace("0X", "0x"), "lock_quote", 42)
        await journal.sent(signer, 7, h1, "lock_quote", 42)  # retried write: same row
        await journal.sent(signer, 7, h2, "lock_quote", 42, TxTag(origin="wf/run/1"))  # bump
        await journal.sent(signer, 8, _hash(), "fill_close_request", 42, TxTag(key="closed:0"))
        rows = await journal.find("lock_quote", 42)
        assert [(r.nonce, r.tx_hash, r.status) for r in rows] == [
            (7, h1, "pending"), (7, h2, "pending"),
        ]  # fmt: skip
        assert await journal.status(h1, "replaced", f"replaced by {h2}")
        assert await journal.status(h2, "mined", None, 21000, 123)
        assert not await journal.status(h2, "pending")  # never back
        assert not await journal.status(h2, "dropped", "late sweep")  # a receipt wins
        assert await journal.status(h1, "mined", None, 21000, 124)  # a receipt may overrule
        seqs = [r.seq for r in await journal.all_rows()]
        assert len(set(seqs)) == len(seqs)
        ref = await journal.preflight_reverted(signer, "open_position", 42, "PartyBFacet: nope")
        assert ref.startswith("preflight:")
    finally:
        await journal.close()
    # a new process opens the same file: everything is there, the order keeps increasing
    again = LocalJournal(path, chain_id=999, signer=signer)
    try:
        rows = await again.find("lock_quote", 42)
        assert [(r.tx_hash, r.status, r.gas_used, r.block_number) for r in rows] == [
            (h1, "mined", 21000, 124), (h2, "mined", 21000, 123),
        ]  # fmt: skip
        assert rows[1].origin == "wf/run/1"
        assert [r.key for r in await again.find("fill_close_request", 42, key="closed:0")] == [
            "closed:0"
        ]
        assert await again.find("fill_close_request", 42, key="closed:1") == []
        assert await again.find("lock_quote", 42, origin="wf/run/2") == []
        [pre] = await again.find("open_position", 42)
        assert (pre.status, pre.nonce, pre.revert_reason) == (
            "reverted_preflight", None, "PartyBFacet: nope",
        )  # fmt: skip
        top = max(r.seq for r in await again.all_rows())
        await again.status(pre.tx_hash, "reverted_preflight", "PartyBFacet: nope (again)")
        assert (await again.get(pre.tx_hash)).seq > top  # type: ignore[union-attr]
    finally:
        await again.close()
    # durable settings of the file itself
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


async def test_mirror_upserts_idempotently_and_never_lets_an_older_write_win(
    database_url: str, tmp_path: Path
) -> None:
    signer = "0x" + secrets.token_hex(20)
    journal = LocalJournal.open_for(tmp_path, chain_id=998, signer=signer)
    engine = create_async_engine(database_url)
    mirror = ChainTxMirror(async_sessionmaker(engine, expire_on_commit=False))
    sync = JournalMirror(journal, mirror.upsert)
    try:
        h = _hash()
        await journal.sent(signer, 3, h, "open_position", 77)
        assert await sync.sync_once()
        pending = (await journal.all_rows())[0]
        assert [(r.tx_hash, r.status, r.nonce) for r in await mirror.rows(998, quote_id=77)] == [
            (h, "pending", 3)
        ]
        await journal.status(h, "mined", None, 50_000, 9)
        assert await journal.unmirrored() != []
        assert await sync.sync_once()
        assert await journal.unmirrored() == []
        await mirror.upsert([pending])  # a delayed, retried push of the older state
        await mirror.upsert([pending])
        [row] = await mirror.rows(998, quote_id=77)
        assert (row.status, row.gas_used, row.block_number, row.signer) == (
            "mined", 50_000, 9, signer,
        )  # fmt: skip
        newest = (await journal.all_rows())[0]
        assert row.journal_seq == newest.seq
        stale = dataclasses.replace(newest, status="pending", seq=newest.seq - 1)
        await mirror.upsert([stale])
        assert [r.status for r in await mirror.rows(998, quote_id=77)] == ["mined"]
        await journal.preflight_reverted(signer, "open_position", 77, "PartyBFacet: nope")
        await sync.flush()
        rows = await mirror.rows(998, quote_id=77)
        assert [(r.status, r.nonce) for r in rows] == [("mined", 3), ("reverted_preflight", None)]
    finally:
        await sync.stop()
        await journal.close()
        await engine.dispose()


async def test_one_process_at_a_time_holds_a_signers_journal(tmp_path: Path) -> None:
    signer = "0x" + secrets.token_hex(20)
    first = LocalJournal.open_for(tmp_path, chain_id=997, signer=signer)
    second = LocalJournal.open_for(tmp_path, chain_id=997, signer=signer)
    try:
        await first.open()
        with pytest.raises(JournalLocked, match="one chain worker per signer"):
            await second.open()
        await first.close()
        await second.open()  # the lock went with the first
        await second.sent(signer, 1, _hash(), "unlock_quote", 5)
        assert len(await second.pending()) == 1
    finally:
        await first.close()
        await second.close()


async def test_the_mirror_pushes_the_changes_of_a_moment_together(tmp_path: Path) -> None:
    """Ten sends 20 ms apart, each kicking the mirror: a few pushes carry them all (it pushed
    once per change before, each push a Postgres write on the chain worker's event loop)."""
    signer = "0x" + secrets.token_hex(20)
    journal = LocalJournal.open_for(tmp_path, chain_id=996, signer=signer)
    pushes: list[int] = []

    async def push(rows: Sequence[JournalRow]) -> None:
        pushes.append(len(rows))

    sync = JournalMirror(journal, push)
    journal.on_change = sync.kick
    try:
        for nonce in range(10):
            await journal.sent(signer, nonce, _hash(), "lock_quote", 100 + nonce)
            await asyncio.sleep(0.02)
        for _ in range(100):
            if not await journal.unmirrored():
                break
            await asyncio.sleep(0.05)
        assert await journal.unmirrored() == []
        assert sum(pushes) == 10 and len(pushes) <= 4, pushes
    finally:
        await sync.stop()
        await journal.close()
