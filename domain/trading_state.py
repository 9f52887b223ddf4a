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
* ``PROTOCOL_PAUSED`` (never set by a person): the SYMMIO diamond pauses PartyB actions
  (`pausePartyBActions`, or `pauseGlobal`), so every PartyB transaction would revert. The hedge
  workflows then send no transaction and place no broker order: each next action goes through
  `hold_during_pause` — chain transactions and new broker orders wait (`WaitForProtocol`),
  resting orders are cancelled (a fill could be neither opened nor filled on chain for as long
  as the pause lasts), broker trades that bring the broker back to the chain still run. When
  the flag clears the facts are read again and every intent or close request resumes, or ends
  (a deadline that passed meanwhile). Inside the pure decisions it counts as HALTED.
* Emergency mode (`activeEmergencyMode`) and our PartyB's emergency status
  (`setPartyBEmergencyStatus`) forbid `openPosition` on chain: at least ``REDUCE_ONLY``.

`effective_state` combines the operator's state with the protocol's flags (`ProtocolFlags`,
read from the chain's `pauseState()` and `getPartyBEmergencyStatus(us)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from domain.enums import TradingState
from domain.hedge_actions import (
    AcceptCancel,
    AcceptCancelClose,
    CancelBrokerOrder,
    FillCloseOnChain,
    Lock,
    OpenOnChain,
    PlaceBrokerClose,
    PlaceBrokerOrder,
    Unlock,
    WaitForFills,
    WaitForProtocol,
)

OPERATOR_STATES = (TradingState.ACTIVE, TradingState.REDUCE_ONLY, TradingState.HALTED)


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
    # what a pure decision may choose; the workflows also hold chain transactions back
    # (`hold_during_pause`)
    TradingState.PROTOCOL_PAUSED: TradingPermissions(False, False, False, True, True, True, True),
}
_SEVERITY = {
    TradingState.ACTIVE: 0,
    TradingState.REDUCE_ONLY: 1,
    TradingState.HALTED: 2,
    TradingState.PROTOCOL_PAUSED: 3,
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


def is_protocol_paused(state: TradingState | str) -> bool:
    return str(state) == TradingState.PROTOCOL_PAUSED.value


@dataclass(frozen=True, slots=True)
class ProtocolFlags:
    """The diamond's switches that concern our PartyB (`pauseState()`, our emergency status)."""

    global_paused: bool = False
    party_b_actions_paused: bool = False
    emergency_mode: bool = False
    party_b_emergency: bool = False  # `getPartyBEmergencyStatus(us)`


def protocol_restriction(flags: ProtocolFlags) -> tuple[TradingState, str] | None:
    """What the protocol's flags alone impose, and why (None: nothing)."""
    if flags.global_paused:
        return TradingState.PROTOCOL_PAUSED, "protocol paused: global"
    if flags.party_b_actions_paused:
        return TradingState.PROTOCOL_PAUSED, "protocol paused: partyB actions"
    if flags.emergency_mode:
        return TradingState.REDUCE_ONLY, "protocol emergency mode: no new positions"
    if flags.party_b_emergency:
        return TradingState.REDUCE_ONLY, "PartyB emergency status: no new positions"
    return None


def effective_state(
    operator: TradingState, flags: ProtocolFlags
) -> tuple[TradingState, str | None]:
    """The state every hedge obeys: the stricter of the operator's and the protocol's; the
    protocol's reason when it is the protocol's (None when the operator's state rules)."""
    restriction = protocol_restriction(flags)
    if restriction is None or _SEVERITY[restriction[0]] <= _SEVERITY[TradingState(operator)]:
        return TradingState(operator), None
    return restriction


A = TypeVar("A")
_HELD = (
    Lock, PlaceBrokerOrder, OpenOnChain, Unlock, AcceptCancel, PlaceBrokerClose,
    FillCloseOnChain, AcceptCancelClose,
)  # fmt: skip


def hold_during_pause(action: A) -> A | WaitForProtocol | CancelBrokerOrder:
    """While the protocol pauses PartyB actions: the action to take instead of `action`, the
    decision made as if trading were ACTIVE. Transactions and new broker orders wait, a working
    broker order is cancelled, the rest (cancels, broker trades back to the chain, idling,
    ending) runs."""
    if isinstance(action, WaitForFills):
        return CancelBrokerOrder()
    if isinstance(action, _HELD):
        return WaitForProtocol()
    return action
