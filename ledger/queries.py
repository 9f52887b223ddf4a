"""Small async read (and a few write) queries over the ledger, used by the web API and ops tools.

Each function takes the `AsyncEngine` and opens its own short session: callers never hold a
transaction open across an `await` of something else. Addresses compare case-insensitively
(the chain gives checksummed hex, front-ends send either).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from domain.enums import PositionType, QuoteStatus
from ledger.columns import utcnow
from ledger.market_tables import SymbolLockedParams, SymbolRecord, WhitelistEntry
from ledger.models import Alert, Notification, PositionRecord, QuoteRecord

ZERO = Decimal(0)
ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


def is_address(value: str) -> bool:
    return bool(ADDRESS_RE.fullmatch(value))


# --- symbols -------------------------------------------------------------------------------


async def list_symbols(engine: AsyncEngine) -> list[SymbolRecord]:
    async with AsyncSession(engine) as session:
        rows = await session.scalars(select(SymbolRecord).order_by(col(SymbolRecord.symbol_id)))
        return list(rows.all())


async def symbol_by_name(engine: AsyncEngine, name: str) -> SymbolRecord | None:
    async with AsyncSession(engine) as session:
        return await session.scalar(
            select(SymbolRecord).where(func.upper(SymbolRecord.name) == name.upper())
        )


async def symbol_by_id(engine: AsyncEngine, symbol_id: int) -> SymbolRecord | None:
    async with AsyncSession(engine) as session:
        return await session.get(SymbolRecord, symbol_id)


async def symbols_by_names(engine: AsyncEngine, names: Sequence[str]) -> list[SymbolRecord]:
    upper = [n.upper() for n in names]
    async with AsyncSession(engine) as session:
        rows = await session.scalars(
            select(SymbolRecord).where(func.upper(SymbolRecord.name).in_(upper))
        )
        return list(rows.all())


async def locked_params_for(
    engine: AsyncEngine, symbol_id: int, leverage: Decimal
) -> SymbolLockedParams | None:
    """The tier for `leverage`: the smallest `max_leverage >= leverage`, or None (not offered)."""
    async with AsyncSession(engine) as session:
        return await session.scalar(
            select(SymbolLockedParams)
            .where(
                col(SymbolLockedParams.symbol_id) == symbol_id,
                col(SymbolLockedParams.max_leverage) >= leverage,
            )
            .order_by(col(SymbolLockedParams.max_leverage))
            .limit(1)
        )


# --- exposure ------------------------------------------------------------------------------

_NOTIONAL = col(PositionRecord.open_quantity) * col(PositionRecord.opened_price)


async def open_interest(engine: AsyncEngine) -> Decimal:
    """Sum of open notional (quantity × opened price) over all open positions."""
    async with AsyncSession(engine) as session:
        total = await session.scalar(
            select(func.coalesce(func.sum(_NOTIONAL), 0)).where(
                col(PositionRecord.open_quantity) > 0
            )
        )
    return Decimal(total or 0)


async def notional_by_symbol(engine: AsyncEngine) -> dict[str, Decimal]:
    """Open notional per position symbol (the SYMMIO symbol name, e.g. BTCUSDT)."""
    async with AsyncSession(engine) as session:
        rows = (
            await session.execute(
                select(col(PositionRecord.symbol), func.coalesce(func.sum(_NOTIONAL), 0))
                .where(col(PositionRecord.open_quantity) > 0)
                .group_by(col(PositionRecord.symbol))
            )
        ).all()
    return {str(symbol): Decimal(total or 0) for symbol, total in rows}


def notional_used(by_symbol: dict[str, Decimal], symbol: SymbolRecord) -> Decimal:
    keys = {symbol.name.upper()} | (
        {symbol.broker_market.upper()} if symbol.broker_market else set()
    )
    return sum((v for k, v in by_symbol.items() if k.upper() in keys), ZERO)


# --- whitelist -----------------------------------------------------------------------------


async def is_whitelisted(engine: AsyncEngine, sub_account: str, multi_account: str) -> bool:
    async with AsyncSession(engine) as session:
        row = await session.get(WhitelistEntry, (sub_account.lower(), multi_account.lower()))
    return row is not None


async def add_to_whitelist(engine: AsyncEngine, sub_account: str, multi_account: str) -> bool:
    """Idempotent; True when the entry is new."""
    stmt = (
        insert(WhitelistEntry)
        .values(
            sub_account=sub_account.lower(),
            multi_account=multi_account.lower(),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["sub_account", "multi_account"])
    )
    async with AsyncSession(engine) as session:
        result = await session.execute(stmt)
        await session.commit()
    return bool(getattr(result, "rowcount", 0))


# --- notifications -------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationFilter:
    quote_id: int | None = None
    address: str | None = None
    symbols: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    create_time_gte: int | None = None
    modify_time_gte: int | None = None


def _filtered(stmt: Select[Notification], f: NotificationFilter) -> Select[Notification]:
    if f.quote_id is not None:
        stmt = stmt.where(col(Notification.quote_id) == f.quote_id)
    if f.address is not None:
        stmt = stmt.where(func.lower(Notification.counterparty_address) == f.address.lower())
    if f.states:
        # a state is an action status (seen/success/failed), a state type (alert/report) or an
        # action name (SendQuote, ...)
        stmt = stmt.where(
            or_(
                col(Notification.action_status).in_(f.states),
                col(Notification.state_type).in_(f.states),
                col(Notification.last_seen_action).in_(f.states),
            )
        )
    if f.create_time_gte is not None:
        stmt = stmt.where(col(Notification.create_time) >= f.create_time_gte)
    if f.modify_time_gte is not None:
        stmt = stmt.where(col(Notification.modify_time) >= f.modify_time_gte)
    if f.symbols:
        upper = [s.upper() for s in f.symbols]
        stmt = stmt.where(
            select(col(QuoteRecord.quote_id))
            .where(
                col(QuoteRecord.quote_id) == col(Notification.quote_id),
                or_(
                    func.upper(QuoteRecord.symbol).in_(upper),
                    col(QuoteRecord.symbol_id).in_(
                        select(col(SymbolRecord.symbol_id)).where(
                            func.upper(SymbolRecord.name).in_(upper)
                        )
                    ),
                ),
            )
            .exists()
        )
    return stmt


async def notifications_page(
    engine: AsyncEngine, f: NotificationFilter, start: int, size: int
) -> tuple[int, list[Notification]]:
    """(total matching, rows[start:start+size]) newest first."""
    async with AsyncSession(engine) as session:
        count_stmt = _filtered(select(Notification), f).with_only_columns(func.count())
        total = await session.scalar(count_stmt)
        rows = await session.scalars(
            _filtered(select(Notification), f)
            .order_by(
                col(Notification.modify_time).desc(),
                col(Notification.create_time).desc(),
                col(Notification.ledger_seq).desc(),
            )
            .offset(start)
            .limit(size)
        )
        return int(total or 0), list(rows.all())


async def notifications_modified_since(
    engine: AsyncEngine, modify_time_gte: int, limit: int = 1000
) -> list[Notification]:
    """All notifications modified at or after `modify_time_gte` (seconds), oldest first."""
    async with AsyncSession(engine) as session:
        rows = await session.scalars(
            select(Notification)
            .where(col(Notification.modify_time) >= modify_time_gte)
            .order_by(
                col(Notification.modify_time),
                col(Notification.create_time),
                col(Notification.ledger_seq),
            )
            .limit(limit)
        )
        return list(rows.all())


# --- admin listings ------------------------------------------------------------------------


async def list_quotes(engine: AsyncEngine, status: str | None, limit: int) -> list[QuoteRecord]:
    stmt = select(QuoteRecord)
    if status:
        s = status.upper()
        stmt = stmt.where(
            or_(
                func.upper(QuoteRecord.hedge_status) == s, func.upper(QuoteRecord.chain_status) == s
            )
        )
    async with AsyncSession(engine) as session:
        rows = await session.scalars(
            stmt.order_by(
                col(QuoteRecord.updated_at).desc(), col(QuoteRecord.quote_id).desc()
            ).limit(limit)
        )
        return list(rows.all())


async def list_positions(
    engine: AsyncEngine, limit: int, open_only: bool = False, party_a: str | None = None
) -> list[PositionRecord]:
    stmt = select(PositionRecord)
    if open_only:
        stmt = stmt.where(col(PositionRecord.open_quantity) > 0)
    if party_a:
        stmt = stmt.where(func.lower(PositionRecord.party_a) == party_a.lower())
    async with AsyncSession(engine) as session:
        rows = await session.scalars(
            stmt.order_by(
                col(PositionRecord.updated_at).desc(), col(PositionRecord.quote_id).desc()
            ).limit(limit)
        )
        return list(rows.all())


async def list_alerts(
    engine: AsyncEngine, limit: int, unacknowledged_only: bool = False
) -> list[Alert]:
    stmt = select(Alert)
    if unacknowledged_only:
        stmt = stmt.where(col(Alert.acknowledged_at).is_(None))
    async with AsyncSession(engine) as session:
        rows = await session.scalars(stmt.order_by(col(Alert.id).desc()).limit(limit))
        return list(rows.all())


# --- account summary (upnl-ws) -------------------------------------------------------------

_PENDING = (QuoteStatus.PENDING.name, QuoteStatus.LOCKED.name, QuoteStatus.CANCEL_PENDING.name)


@dataclass(frozen=True)
class AccountSummary:
    upnl: Decimal = ZERO
    notional: Decimal = ZERO
    cva: Decimal = ZERO
    mm: Decimal = ZERO
    lf: Decimal = ZERO
    pending_cva: Decimal = ZERO
    pending_mm: Decimal = ZERO
    pending_lf: Decimal = ZERO


def _d(value: Decimal | None) -> Decimal:
    return ZERO if value is None else Decimal(value)


async def account_summary(engine: AsyncEngine, party_a: str) -> AccountSummary:
    """What the ledger knows of a PartyA's open positions and pending quotes with this hedger.

    uPnL uses the symbol's last mark price (0 for a position without one). Balances are not in
    the ledger; the caller reports them as 0.
    """
    addr = party_a.lower()
    async with AsyncSession(engine) as session:
        positions = (
            await session.execute(
                select(PositionRecord, col(SymbolRecord.mark_price))
                .outerjoin(
                    SymbolRecord,
                    or_(
                        func.upper(SymbolRecord.name) == func.upper(PositionRecord.symbol),
                        func.upper(SymbolRecord.broker_market) == func.upper(PositionRecord.symbol),
                    ),
                )
                .where(
                    func.lower(PositionRecord.party_a) == addr,
                    col(PositionRecord.open_quantity) > 0,
                )
            )
        ).all()
        quotes = (
            await session.scalars(
                select(QuoteRecord).where(
                    func.lower(QuoteRecord.party_a) == addr,
                    or_(
                        and_(
                            col(QuoteRecord.chain_status).in_(_PENDING),
                        ),
                        col(QuoteRecord.quote_id).in_(
                            select(col(PositionRecord.quote_id)).where(
                                func.lower(PositionRecord.party_a) == addr,
                                col(PositionRecord.open_quantity) > 0,
                            )
                        ),
                    ),
                )
            )
        ).all()
    upnl = notional = ZERO
    for position, mark in positions:
        qty, opened = _d(position.open_quantity), _d(position.opened_price)
        notional += qty * opened
        if mark is not None:
            sign = 1 if position.position_type == PositionType.LONG else -1
            upnl += sign * (Decimal(mark) - opened) * qty
    cva = mm = lf = p_cva = p_mm = p_lf = ZERO
    for quote in quotes:
        if quote.chain_status in _PENDING:
            p_cva, p_mm, p_lf = (
                p_cva + _d(quote.cva),
                p_mm + _d(quote.party_amm),
                p_lf + _d(quote.lf),
            )
        else:
            cva, mm, lf = cva + _d(quote.cva), mm + _d(quote.party_amm), lf + _d(quote.lf)
    return AccountSummary(upnl, notional, cva, mm, lf, p_cva, p_mm, p_lf)
