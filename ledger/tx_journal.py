"""The chain transaction journal (`chain_transactions`): a row before broadcast, its status after
the receipt, and the look-up a retried send consults first (DESIGN §3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.columns import utcnow
from ledger.models import ChainTransaction


class ChainJournal:
    """Writes `chain_transactions`: a row before broadcast, its status after the receipt."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], chain_id: int) -> None:
        self.sessions = sessions
        self.chain_id = chain_id

    async def write(
        self, signer: str, nonce: int, tx_hash: str, action: str, quote_id: int | None
    ) -> None:
        now = utcnow()
        stmt = (
            insert(ChainTransaction)
            .values(
                chain_id=self.chain_id,
                signer=signer,
                nonce=nonce,
                tx_hash=tx_hash.lower(),
                action=action,
                quote_id=quote_id,
                status="pending",
                created_at=now,
                updated_at=now,
            )  # fmt: skip
            .on_conflict_do_nothing(index_elements=["chain_id", "tx_hash"])
        )
        async with self.sessions() as session:
            await session.execute(stmt)
            await session.commit()

    async def status(
        self,
        tx_hash: str,
        status: str,
        reason: str | None,
        gas_used: int | None,
        block_number: int | None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
        if reason is not None:
            values["revert_reason"] = reason
        if gas_used is not None:
            values["gas_used"] = gas_used
        if block_number is not None:
            values["block_number"] = block_number
        stmt = (
            update(ChainTransaction)
            .where(ChainTransaction.chain_id == self.chain_id)  # type: ignore[arg-type]
            .where(ChainTransaction.tx_hash == tx_hash.lower())  # type: ignore[arg-type]
            .values(**values)
        )
        async with self.sessions() as session:
            await session.execute(stmt)
            await session.commit()

    async def since(
        self, signer: str, action: str, quote_id: int | None, since: datetime
    ) -> list[ChainTransaction]:
        """This signer's transactions for (action, quote) journaled at or after `since`."""
        query = (
            select(ChainTransaction)
            .where(ChainTransaction.chain_id == self.chain_id)  # type: ignore[arg-type]
            .where(ChainTransaction.signer == signer)  # type: ignore[arg-type]
            .where(ChainTransaction.action == action)  # type: ignore[arg-type]
            .where(ChainTransaction.created_at >= since)  # type: ignore[arg-type]
            .order_by(ChainTransaction.nonce, ChainTransaction.id)  # type: ignore[arg-type]
        )
        if quote_id is None:
            query = query.where(ChainTransaction.quote_id.is_(None))  # type: ignore[union-attr]
        else:
            query = query.where(ChainTransaction.quote_id == quote_id)  # type: ignore[arg-type]
        async with self.sessions() as session:
            return list((await session.scalars(query)).all())
