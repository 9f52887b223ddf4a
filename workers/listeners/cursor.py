"""Listener cursors in Postgres (`listener_cursors`): the last block a listener fully delivered.

A cursor only moves forward (`advance` keeps the larger value), so a re-scan behind it or a
second instance of the same listener never moves it back.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ledger.columns import utcnow
from ledger.models import ListenerCursor


class CursorStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, name: str) -> int | None:
        async with AsyncSession(self.engine) as session:
            row = await session.get(ListenerCursor, name)
            return None if row is None else int(row.block_number)

    async def advance(self, name: str, chain_id: int, block_number: int) -> int:
        """Set the cursor to `block_number` unless it is already further; returns the cursor."""
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
