"""`chain_transactions`: the Postgres mirror of the chain worker's local transaction journal.

The journal a send needs first lives on the chain worker's disk (`adapters.chain.journal`,
DESIGN §3, §7); this table is the queryable copy the API, the validator and operators read,
caught up in the background. Upserts are idempotent on (chain_id, tx_hash) and ordered: a row
carries the journal's `seq` of its latest change, and an upsert applies only over an older one,
so a status written later (a retried, delayed push) never overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.models import ChainTransaction


class JournalEntry(Protocol):
    """What the mirror reads of a local journal row (`adapters.chain.journal.JournalRow`)."""

    @property
    def chain_id(self) -> int: ...
    @property
    def signer(self) -> str: ...
    @property
    def nonce(self) -> int | None: ...
    @property
    def tx_hash(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def quote_id(self) -> int | None: ...
    @property
    def status(self) -> str: ...
    @property
    def revert_reason(self) -> str | None: ...
    @property
    def gas_used(self) -> int | None: ...
    @property
    def block_number(self) -> int | None: ...
    @property
    def created_at(self) -> float: ...
    @property
    def updated_at(self) -> float: ...
    @property
    def seq(self) -> int: ...


def _ts(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


class ChainTxMirror:
    """Upserts journal rows into `chain_transactions` (newer `seq` wins) and reads them back."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def upsert(self, rows: Sequence[JournalEntry]) -> None:
        if not rows:
            return
        values = [
            {
                "chain_id": r.chain_id,
                "signer": r.signer,
                "nonce": r.nonce,
                "tx_hash": r.tx_hash.lower(),
                "action": r.action,
                "quote_id": r.quote_id,
                "status": r.status,
                "revert_reason": r.revert_reason,
                "gas_used": r.gas_used,
                "block_number": r.block_number,
                "created_at": _ts(r.created_at),
                "updated_at": _ts(r.updated_at),
                "journal_seq": r.seq,
            }
            for r in rows
        ]
        stmt = insert(ChainTransaction).values(values)
        changed: dict[str, Any] = {
            name: stmt.excluded[name]
            for name in (
                "status", "revert_reason", "gas_used", "block_number", "updated_at", "journal_seq",
            )
        }  # fmt: skip
        table = ChainTransaction.__table__  # type: ignore[attr-defined]
        stmt = stmt.on_conflict_do_update(
            index_elements=["chain_id", "tx_hash"],
            set_=changed,
            where=or_(
                table.c.journal_seq.is_(None), table.c.journal_seq < stmt.excluded.journal_seq
            ),
        )
        async with self.sessions() as session:
            await session.execute(stmt)
            await session.commit()

    async def rows(
        self, chain_id: int, *, quote_id: int | None = None, signer: str | None = None
    ) -> list[ChainTransaction]:
        query = select(ChainTransaction).where(
            ChainTransaction.chain_id == chain_id  # type: ignore[arg-type]
        )
        if quote_id is not None:
            query = query.where(ChainTransaction.quote_id == quote_id)  # type: ignore[arg-type]
        if signer is not None:
            query = query.where(ChainTransaction.signer == signer)  # type: ignore[arg-type]
        query = query.order_by(ChainTransaction.id)  # type: ignore[arg-type]
        async with self.sessions() as session:
            return list((await session.scalars(query)).all())
