"""What each global `TradingState` (the kill switch, DESIGN §6) allows.

Decisions (the design left these open):

* **Anything that reduces or removes risk is always allowed, in every state**: filling close
  requests, accepting cancels, unlocking, unwinding a broker position that has no chain
  counterpart, reporting (`openPosition`) a broker fill that already happened — that last one
  turns an unhedged broker position into a hedged pair, so it removes risk too.
* ``ACTIVE``: everything.
* ``REDUCE_ONLY``: no new locks and no new *opening* broker orders. A locked quote without a
  broker order is unlocked; an opening LIMIT order already resting may keep filling until its
  deadline (the risk was accepted when it was placed), and what fills is opened on chain.
* ``HALTED``: as REDUCE_ONLY, and resting opening orders are cancelled at once (what already
  filled is still opened on chain, or unwound if it cannot be). Closes still run: refusing to
  close would leave traders' positions and our broker hedge open longer, i.e. more risk.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.enums import TradingState


@dataclass(frozen=True, slots=True)
class TradingPermissions:
    lock_new_quotes: bool
    place_opening_orders: bool
    keep_resting_opening_orders: bool
    report_existing_fills: bool
    closes: bool
    unwinds: bool
    cancels_and_unlocks: bool


_PERMISSIONS: dict[TradingState, TradingPermissions] = {
    TradingState.ACTIVE: TradingPermissions(True, True, True, True, True, True, True),
    TradingState.REDUCE_ONLY: TradingPermissions(False, False, True, True, True, True, True),
    TradingState.HALTED: TradingPermissions(False, False, False, True, True, True, True),
}


def permissions(state: TradingState) -> TradingPermissions:
    return _PERMISSIONS[TradingState(state)]


def allows_new_opens(state: TradingState) -> bool:
    """May we lock a new quote and place a new opening broker order?"""
    return permissions(state).lock_new_quotes


def allows_closes(state: TradingState) -> bool:
    """Close requests (broker reduce-only + fillCloseRequest): always True (they reduce risk)."""
    return permissions(state).closes


def allows_unwinds(state: TradingState) -> bool:
    """Flattening broker exposure that has no chain counterpart: always True."""
    return permissions(state).unwinds


def keeps_resting_opening_orders(state: TradingState) -> bool:
    """False when resting opening broker orders must be cancelled now (HALTED)."""
    return permissions(state).keep_resting_opening_orders
