"""ChainJournal on the embedded Postgres: idempotent insert by (chain_id, tx_hash), status updates,
the per-activity lookup window."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from ledger.columns import utcnow
from ledger.tx_journal import ChainJournal


async def test_journal_upsert_status_and_window(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        journal = ChainJournal(async_sessionmaker(engine, expire_on_commit=False), chain_id=999)
        signer = "0x" + secrets.token_hex(20)
        start = utcnow() - timedelta(milliseconds=1)
        h1, h2 = "0x" + secrets.token_hex(32), "0x" + secrets.token_hex(32)
        await journal.write(signer, 7, h1.upper().replace("0X", "0x"), "lock_quote", 42)
        await journal.write(signer, 7, h1, "lock_quote", 42)  # retried write: same row
        await journal.write(signer, 7, h2, "lock_quote", 42)  # fee-bumped replacement
        await journal.write(signer, 8, "0x" + secrets.token_hex(32), "open_position", 42)
        rows = await journal.since(signer, "lock_quote", 42, start)
        assert [(r.nonce, r.tx_hash, r.status) for r in rows] == [
            (7, h1, "pending"), (7, h2, "pending"),
        ]  # fmt: skip
        await journal.status(h1, "replaced", f"replaced by {h2}", None, None)
        await journal.status(h2, "mined", None, 21000, 123)
        rows = await journal.since(signer, "lock_quote", 42, start)
        assert [(r.status, r.gas_used, r.block_number) for r in rows] == [
            ("replaced", None, None), ("mined", 21000, 123),
        ]  # fmt: skip
        assert rows[0].revert_reason == f"replaced by {h2}"
        assert await journal.since(signer, "lock_quote", 42, utcnow() + timedelta(seconds=1)) == []
        assert await journal.since(signer, "lock_quote", None, start) == []
    finally:
        await engine.dispose()
