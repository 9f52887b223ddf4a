"""Writes of the markets the API publishes (`symbols`, `symbol_locked_params`), from the
symbol-sync and market-data activities; the API only reads these tables (`ledger.queries`).

A sync is one transaction: a front-end never sees a symbol without its tiers, and a symbol the
contract no longer lists is left not tradable rather than deleted (its id may be in positions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col, select

from domain.markets import MarketSnapshot, PublishedSymbol
from ledger.columns import utcnow
from ledger.market_tables import SymbolLockedParams, SymbolRecord


@dataclass(frozen=True, slots=True)
class TradableMarket:
    symbol_id: int
    name: str
    broker_market: str
    funding_epoch: int = 0  # the contract's fundingRateEpochDuration, seconds (0: unknown)


def _values(row: PublishedSymbol) -> dict[str, object]:
    c = row.contract
    return {
        "name": row.name, "symbol": row.base[:16], "asset": row.asset[:16],
        "is_valid": row.tradable, "rfq_allowed": row.tradable,
        "min_acceptable_quote_value": c.min_acceptable_quote_value,
        "min_acceptable_portion_lf": c.min_acceptable_portion_lf, "trading_fee": c.trading_fee,
        "max_leverage": row.max_leverage,
        "funding_rate_epoch_duration": c.funding_rate_epoch_duration,
        "funding_rate_window_time": c.funding_rate_window_time,
        "price_precision": row.price_precision, "quantity_precision": row.quantity_precision,
        "broker_market": row.broker_market, "max_notional_value": row.notional_cap,
        "min_notional_value": row.min_notional, "max_quantity": row.max_quantity,
        "lot_size": row.lot_size, "hedger_fee_open": row.hedger_fee_open,
        "hedger_fee_close": row.hedger_fee_close, "updated_at": utcnow(),
    }  # fmt: skip


async def publish_symbols(engine: AsyncEngine, rows: Sequence[PublishedSymbol]) -> None:
    """Upsert every row and replace its tiers; symbols not in `rows` become not tradable."""
    ids = [r.symbol_id for r in rows]
    symbols = SymbolRecord.__table__  # type: ignore[attr-defined]
    tiers = SymbolLockedParams.__table__  # type: ignore[attr-defined]
    async with AsyncSession(engine) as session, session.begin():
        gone = select(col(SymbolRecord.symbol_id)).where(col(SymbolRecord.symbol_id).not_in(ids))
        await session.execute(delete(tiers).where(tiers.c.symbol_id.in_(gone)))
        await session.execute(
            update(symbols)
            .where(symbols.c.symbol_id.not_in(ids))
            .values(is_valid=False, rfq_allowed=False, updated_at=utcnow())
        )
        for row in rows:
            # names are unique: an older id under this name (re-listed symbol) gives way
            stale = select(symbols.c.symbol_id).where(
                func.upper(symbols.c.name) == row.name.upper(), symbols.c.symbol_id != row.symbol_id
            )
            await session.execute(delete(tiers).where(tiers.c.symbol_id.in_(stale)))
            await session.execute(
                delete(symbols).where(
                    func.upper(symbols.c.name) == row.name.upper(),
                    symbols.c.symbol_id != row.symbol_id,
                )
            )
            values = _values(row)
            # a new row: the columns the sync does not own start at their defaults
            stmt = insert(symbols).values(
                symbol_id=row.symbol_id, max_funding_rate=Decimal(0), **values
            )
            await session.execute(
                stmt.on_conflict_do_update(index_elements=["symbol_id"], set_=values)
            )
            await session.execute(delete(tiers).where(tiers.c.symbol_id == row.symbol_id))
            if row.tiers:
                now = utcnow()
                await session.execute(
                    insert(tiers),
                    [
                        {
                            "symbol_id": row.symbol_id,
                            "max_leverage": t.max_leverage,
                            "cva_pct": t.cva_pct,
                            "lf_pct": t.lf_pct,
                            "party_amm_pct": t.party_amm_pct,
                            "party_bmm_pct": t.party_bmm_pct,
                            "updated_at": now,
                        }  # fmt: skip
                        for t in row.tiers
                    ],
                )


async def tradable_markets(engine: AsyncEngine) -> list[TradableMarket]:
    async with AsyncSession(engine) as session:
        rows = await session.execute(
            select(
                SymbolRecord.symbol_id,
                SymbolRecord.name,
                SymbolRecord.broker_market,
                SymbolRecord.funding_rate_epoch_duration,
            )  # fmt: skip
            .where(col(SymbolRecord.is_valid), col(SymbolRecord.broker_market).is_not(None))
            .order_by(col(SymbolRecord.symbol_id))
        )
        return [TradableMarket(int(i), str(n), str(m), int(e or 0)) for i, n, m, e in rows.all()]


async def write_market_data(engine: AsyncEngine, snapshots: Sequence[MarketSnapshot]) -> None:
    symbols = SymbolRecord.__table__  # type: ignore[attr-defined]
    async with AsyncSession(engine) as session, session.begin():
        for s in snapshots:
            values: dict[str, object] = {"mark_price": s.mark_price}
            optional = {
                "price_change_percent": s.price_change_percent, "trade_volume": s.trade_volume,
                "next_funding_time": s.next_funding_time,
                "next_funding_rate_long": s.funding_rate_long,
                "next_funding_rate_short": s.funding_rate_short,
            }  # fmt: skip
            values.update({k: v for k, v in optional.items() if v is not None})
            await session.execute(
                update(symbols).where(symbols.c.symbol_id == s.symbol_id).values(**values)
            )
