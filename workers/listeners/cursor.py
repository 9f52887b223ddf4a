"""Listener cursors in Postgres (`listener_cursors`): the last block a listener fully delivered.

A cursor only moves forward (`advance` keeps the larger value), so a re-scan behind it or a
second instance of the same listener never moves it back.
"""

from __future__ import annotations

import logging

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ledger.columns import utcnow
from ledger.models import ListenerCursor

log = logging.getLogger(__name__)


class CursorStore:
    """`advance` never fails for want of Postgres: the cursor is kept in memory and written
    when the database is back (a restart meanwhile re-scans from the last stored block;
    deliveries are idempotent)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._latest: dict[str, tuple[int, int]] = {}  # name -> (chain id, block) not stored yet

    async def get(self, name: str) -> int | None:
        async with AsyncSession(self.engine) as session:
            row = await session.get(ListenerCursor, name)
            return None if row is None else int(row.block_number)

    async def advance(self, name: str, chain_id: int, block_number: int) -> int:
        """Set the cursor to `block_number` unless it is already further; returns the cursor."""
        kept = self._latest.get(name)
        block_number = max(block_number, kept[1] if kept else block_number)
        try:
            stored = await self._store(name, chain_id, block_number)
        except Exception as exc:  # noqa: BLE001 - asyncpg, SQLAlchemy: kept in memory
            log.warning("cursor %s not stored (%s); kept at %d", name, exc, block_number)
            self._latest[name] = (chain_id, block_number)
            return block_number
        self._latest.pop(name, None)
        return stored

    async def _store(self, name: str, chain_id: int, block_number: int) -> int:
        table = ListenerCursor.__table__  # type: ignore[attr-defined]
        base = insert(table).values(
            name=name, chain_id=chain_id, block_number=block_number, updated_at=utcnow()
        )
        stmt = base.on_conflict_do_update(
            index_elements=[table.c.name],
            set_={
                "block_number": func.greatest(table.c.block_number, base.excluded.block_number),
                "updated_at": base.excluded.updated_at,
            },
        ).returning(table.c.block_number)
        async with AsyncSession(self.engine) as session:
            value = (await session.execute(stmt)).scalar_one()
            await session.commit()
        return int(value)

    async def reset(self, name: str) -> None:
        """Forget a cursor (operators: force a full re-scan from the start block)."""
        table = ListenerCursor.__table__  # type: ignore[attr-defined]
        async with AsyncSession(self.engine) as session:
            await session.execute(table.delete().where(table.c.name == name))
            await session.commit()
