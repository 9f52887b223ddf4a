"""One PartyA's balances as the front-end endpoints publish them (/ws/upnl-ws, /get_balance_info).

The uPnL and notional are the ledger's (the hedger's marks); the allocated balance and locked
values are the chain's (`partyAStats`, SYMMIO's accounting) when they were read, else the ledger's
locked values and zero balances.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain.quote import LockedValues
from ledger import queries as repo

if TYPE_CHECKING:
    from adapters.chain.client import PartyABalanceInfo


@dataclass(frozen=True, slots=True)
class PartyABalances:
    upnl: Decimal
    notional: Decimal
    allocated: Decimal
    available: Decimal
    locked: LockedValues
    pending: LockedValues


async def party_a_balances(
    engine: Any, address: str, info: PartyABalanceInfo | None
) -> PartyABalances:
    """`address`'s balances: the ledger's summary combined with the chain's `info` (if read)."""
    s = await repo.account_summary(engine, address)
    if info is None:
        return PartyABalances(
            upnl=s.upnl,
            notional=s.notional,
            allocated=Decimal(0),
            available=Decimal(0),
            locked=LockedValues(s.cva, s.lf, s.mm),
            pending=LockedValues(s.pending_cva, s.pending_lf, s.pending_mm),
        )
    return PartyABalances(
        upnl=s.upnl,
        notional=s.notional,
        allocated=info.allocated,
        available=info.available_for_quote(s.upnl),
        locked=info.locked,
        pending=info.pending_locked,
    )
