"""The global trading state (kill switch, DESIGN §6): read and change it in the ledger.

The `trading_state` table is a history; the newest row rules, and no row means ACTIVE. The admin
API and `hedger ops halt|resume|reduce-only` write through `set_trading_state`; workflows read
the state through the `ops_trading_state` activity, which applies the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from domain.enums import TradingState
from ledger.models import TradingStateRecord


@dataclass(frozen=True, slots=True)
class TradingStateView:
    state: TradingState
    reason: str
    changed_by: str
    changed_at: datetime | None  # None: never set (the default ACTIVE)

    def as_json(self) -> dict[str, str | None]:
        return {
            "state": self.state.value,
            "reason": self.reason,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
        }


DEFAULT = TradingStateView(TradingState.ACTIVE, "default (never set)", "", None)


def _view(row: TradingStateRecord) -> TradingStateView:
    return TradingStateView(TradingState(row.state), row.reason, row.changed_by, row.changed_at)


async def read_trading_state(engine: AsyncEngine) -> TradingStateView:
    """The state in force: the newest row, or ACTIVE when none was ever written."""
    async with AsyncSession(engine) as session:
        row = await session.scalar(
            select(TradingStateRecord).order_by(col(TradingStateRecord.id).desc()).limit(1)
        )
    return DEFAULT if row is None else _view(row)


async def set_trading_state(
    engine: AsyncEngine, state: TradingState | str, reason: str, changed_by: str
) -> TradingStateView:
    """Record a new state (a new row, so the history stays). Raises ValueError on a bad state or
    an empty reason: every change of the kill switch must say why."""
    try:
        new_state = TradingState(str(state).upper())
    except ValueError:
        allowed = ", ".join(s.value for s in TradingState)
        raise ValueError(f"unknown trading state {state!r}; expected one of {allowed}") from None
    if not reason.strip():
        raise ValueError("a reason is required to change the trading state")
    row = TradingStateRecord(
        state=new_state.value, reason=reason.strip(), changed_by=changed_by[:64]
    )
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add(row)
        await session.commit()
    return _view(row)


async def trading_state_history(engine: AsyncEngine, limit: int = 20) -> list[TradingStateView]:
    async with AsyncSession(engine) as session:
        rows = (
            await session.scalars(
                select(TradingStateRecord).order_by(col(TradingStateRecord.id).desc()).limit(limit)
            )
        ).all()
    return [_view(row) for row in rows]
