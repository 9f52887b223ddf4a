"""The ledger schema migrates on the embedded Postgres and matches the models exactly."""

from __future__ import annotations

from decimal import Decimal

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ledger.migrate import current_revision, head_revision, upgrade_async
from ledger.models import BrokerOrder
from ledger.schema import metadata


async def test_schema_is_at_head(database_url: str) -> None:
    assert await current_revision(database_url) == head_revision()


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
    finally:
        await engine.dispose()
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"


async def test_upgrade_is_idempotent(database_url: str) -> None:
    await upgrade_async(database_url)
    assert await current_revision(database_url) == head_revision()


async def test_decimals_round_trip_exactly(database_url: str) -> None:
    engine = create_async_engine(database_url)
    amount = Decimal("0.123456789012345678")
    try:
        async with AsyncSession(engine) as session:
            session.add(
                BrokerOrder(
                    client_order_id="h999999o1", chain_id=31337, quote_id=999999, symbol="BTC/USDT:USDT",
                    side="buy", order_type="market", amount=amount, status="new",
                )
            )  # fmt: skip
            await session.commit()
            row = (
                await session.exec(
                    select(BrokerOrder).where(BrokerOrder.client_order_id == "h999999o1")
                )
            ).one()
            assert row.amount == amount
            await session.delete(row)
            await session.commit()
    finally:
        await engine.dispose()
