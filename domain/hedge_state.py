"""Explicit hedge state machines and the compensation decisions (DESIGN §4–§6).

Two layers, both pure:

1. **State machines** (`OpenHedge`, `PositionHedge`), in the spirit of NautilusTrader's order
   FSM: a closed set of states, a closed set of events and one transition table. `apply(event)`
   returns the next machine or raises `InvalidTransition`; nothing else can change a state.
   Each state maps to the `HedgeStatus` search attribute operators filter on.

2. **"What must happen next"** (`next_open_action`, `next_position_action`): given a snapshot of
   the facts — chain status, what the broker has filled, whether an order is working, deadline,
   trading state — return the single next action. The workflow performs it, refreshes the facts
   and asks again until `Done`. Every branch ends hedged-and-open (`Done(HEDGED_OPEN)`) or
   flat (`Done(FLAT)`); the decisions never leave broker exposure without a chain counterpart:
   the first rule of each function reconciles the broker side to the chain side.

Quantities are the trader's quantity units; `broker_filled` / `broker_quantity` are the absolute
size of the broker hedge attributed to this quote (its side is fixed by `domain.pricing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeAlias

from domain.enums import HedgeStatus, OrderType, QuoteStatus, TradingState
from domain.fixed import exact
from domain.quote import LockedValues
from domain.sizing import close_amount_to_report, open_amount_to_report
from domain.trading_state import allows_new_opens, keeps_resting_opening_orders

ZERO = Decimal(0)

OPEN_STATUSES = frozenset(
    {QuoteStatus.OPENED, QuoteStatus.CLOSE_PENDING, QuoteStatus.CANCEL_CLOSE_PENDING}
)
OUR_PENDING_STATUSES = frozenset({QuoteStatus.LOCKED, QuoteStatus.CANCEL_PENDING})
CLOSING_STATUSES = frozenset({QuoteStatus.CLOSE_PENDING, QuoteStatus.CANCEL_CLOSE_PENDING})


class InvalidTransition(Exception):
    def __init__(self, machine: str, state: StrEnum, event: StrEnum) -> None:
        super().__init__(f"{machine}: event {event.value} is not allowed in state {state.value}")
        self.state = state
        self.event = event


@exact
def is_hedged(
    chain_open_qty: Decimal, broker_position_qty: Decimal, tolerance: Decimal = ZERO
) -> bool:
    """The invariant: the broker hedge equals what is open on chain (within `tolerance`)."""
    return abs(chain_open_qty - broker_position_qty) <= tolerance


# =============================================================================== open path FSM


class OpenState(StrEnum):
    RECEIVED = "RECEIVED"  # SendQuote seen, policy not yet decided
    REJECTED = "REJECTED"  # policy said no (terminal)
    LOCKING = "LOCKING"  # lockQuote (maybe after allocateForPartyB) in flight
    LOCKED = "LOCKED"  # lock mined, no broker order working
    HEDGING = "HEDGING"  # broker order working
    OPENING = "OPENING"  # openPosition in flight
    OPEN = "OPEN"  # OPENED on chain and hedged (terminal for the intent)
    CANCELLING = "CANCELLING"  # cancelling the broker order (cancel request, deadline, halt)
    UNWINDING = "UNWINDING"  # flattening broker fills that cannot be opened on chain
    UNLOCKING = "UNLOCKING"  # unlockQuote / acceptCancelRequest in flight
    UNLOCKED = "UNLOCKED"  # we let the quote go (PENDING for others), flat (terminal)
    CANCELLED = "CANCELLED"  # chain CANCELED, flat (terminal)
    EXPIRED = "EXPIRED"  # chain EXPIRED, flat (terminal)
    LOST = "LOST"  # another PartyB locked it / lock impossible, flat (terminal)
    STUCK = "STUCK"  # retries exhausted: waits for an operator
    FAILED = "FAILED"  # operator abandoned (terminal)

    @property
    def hedge_status(self) -> HedgeStatus:
        return _OPEN_STATUS_MAP[self]

    @property
    def is_terminal(self) -> bool:
        return self in OPEN_TERMINAL_STATES


_OPEN_STATUS_MAP: dict[OpenState, HedgeStatus] = {
    OpenState.RECEIVED: HedgeStatus.RECEIVED,
    OpenState.REJECTED: HedgeStatus.REJECTED,
    OpenState.LOCKING: HedgeStatus.LOCKING,
    OpenState.LOCKED: HedgeStatus.HEDGING,
    OpenState.HEDGING: HedgeStatus.HEDGING,
    OpenState.OPENING: HedgeStatus.OPENING,
    OpenState.OPEN: HedgeStatus.OPEN,
    OpenState.CANCELLING: HedgeStatus.UNWINDING,
    OpenState.UNWINDING: HedgeStatus.UNWINDING,
    OpenState.UNLOCKING: HedgeStatus.UNWINDING,
    OpenState.UNLOCKED: HedgeStatus.CANCELLED,
    OpenState.CANCELLED: HedgeStatus.CANCELLED,
    OpenState.EXPIRED: HedgeStatus.EXPIRED,
    OpenState.LOST: HedgeStatus.CANCELLED,
    OpenState.STUCK: HedgeStatus.STUCK,
    OpenState.FAILED: HedgeStatus.FAILED,
}

OPEN_TERMINAL_STATES = frozenset(
    {
        OpenState.REJECTED,
        OpenState.OPEN,
        OpenState.UNLOCKED,
        OpenState.CANCELLED,
        OpenState.EXPIRED,
        OpenState.LOST,
        OpenState.FAILED,
    }
)


class OpenEvent(StrEnum):
    POLICY_ACCEPTED = "POLICY_ACCEPTED"
    POLICY_REJECTED = "POLICY_REJECTED"
    LOCK_CONFIRMED = "LOCK_CONFIRMED"  # LockQuote(us) seen / lock tx mined
    LOCK_LOST = "LOCK_LOST"  # another PartyB locked, or our lock can no longer succeed
    BROKER_ORDER_PLACED = "BROKER_ORDER_PLACED"
    BROKER_ORDER_REJECTED = "BROKER_ORDER_REJECTED"  # no (more) broker orders for this intent
    BROKER_ORDER_DONE = "BROKER_ORDER_DONE"  # order finished (filled / cancelled / expired)
    OPEN_SENT = "OPEN_SENT"  # openPosition broadcast
    OPEN_CONFIRMED = "OPEN_CONFIRMED"  # OpenPosition seen
    OPEN_FAILED = "OPEN_FAILED"  # openPosition impossible (reverted, will not retry)
    CANCEL_REQUESTED = "CANCEL_REQUESTED"  # RequestToCancelQuote (CANCELED or CANCEL_PENDING)
    DEADLINE_REACHED = "DEADLINE_REACHED"  # too close to / past the deadline to open
    HALTED = "HALTED"  # trading state no longer allows the hedge to proceed
    UNWIND_STARTED = "UNWIND_STARTED"
    UNWIND_DONE = "UNWIND_DONE"  # broker flat for this quote
    UNLOCK_SENT = "UNLOCK_SENT"  # unlockQuote or acceptCancelRequest broadcast
    UNLOCKED = "UNLOCKED"  # UnlockQuote(PENDING) seen
    CHAIN_CANCELED = "CHAIN_CANCELED"  # AcceptCancelRequest / ForceCancelQuote / cancel of PENDING
    CHAIN_EXPIRED = "CHAIN_EXPIRED"  # ExpireQuoteOpen
    RETRIES_EXHAUSTED = "RETRIES_EXHAUSTED"
    OPERATOR_RETRY = "OPERATOR_RETRY"
    OPERATOR_UNWIND = "OPERATOR_UNWIND"
    OPERATOR_ABANDON = "OPERATOR_ABANDON"


_S = OpenState
_E = OpenEvent

# Chain outcomes that make the quote unreachable: from a state with no broker exposure we go
# straight to the terminal state; from states that may hold exposure we unwind first.
_FLAT_CHAIN_ENDINGS: dict[OpenEvent, OpenState] = {
    _E.CHAIN_CANCELED: _S.CANCELLED,
    _E.CHAIN_EXPIRED: _S.EXPIRED,
    _E.LOCK_LOST: _S.LOST,
}

OPEN_TRANSITIONS: dict[tuple[OpenState, OpenEvent], OpenState] = {
    # RECEIVED: nothing done yet
    (_S.RECEIVED, _E.POLICY_ACCEPTED): _S.LOCKING,
    (_S.RECEIVED, _E.POLICY_REJECTED): _S.REJECTED,
    (_S.RECEIVED, _E.CANCEL_REQUESTED): _S.CANCELLED,
    (_S.RECEIVED, _E.DEADLINE_REACHED): _S.EXPIRED,
    (_S.RECEIVED, _E.HALTED): _S.REJECTED,
    **{(_S.RECEIVED, e): s for e, s in _FLAT_CHAIN_ENDINGS.items()},
    # LOCKING: lock tx in flight, no broker exposure
    (_S.LOCKING, _E.LOCK_CONFIRMED): _S.LOCKED,
    (_S.LOCKING, _E.CANCEL_REQUESTED): _S.LOCKING,  # outcome decided by which tx lands first
    (_S.LOCKING, _E.DEADLINE_REACHED): _S.EXPIRED,
    (_S.LOCKING, _E.RETRIES_EXHAUSTED): _S.STUCK,
    **{(_S.LOCKING, e): s for e, s in _FLAT_CHAIN_ENDINGS.items()},
    # LOCKED: ours on chain, no broker order working
    (_S.LOCKED, _E.BROKER_ORDER_PLACED): _S.HEDGING,
    (_S.LOCKED, _E.BROKER_ORDER_REJECTED): _S.UNLOCKING,
    (_S.LOCKED, _E.BROKER_ORDER_DONE): _S.OPENING,  # earlier fills are ready to report
    (_S.LOCKED, _E.OPEN_SENT): _S.OPENING,
    (_S.LOCKED, _E.CANCEL_REQUESTED): _S.UNLOCKING,
    (_S.LOCKED, _E.DEADLINE_REACHED): _S.UNLOCKING,
    (_S.LOCKED, _E.HALTED): _S.UNLOCKING,
    (_S.LOCKED, _E.UNWIND_STARTED): _S.UNWINDING,
    (_S.LOCKED, _E.UNLOCK_SENT): _S.UNLOCKING,
    (_S.LOCKED, _E.UNLOCKED): _S.UNLOCKED,
    (_S.LOCKED, _E.RETRIES_EXHAUSTED): _S.STUCK,
    **{(_S.LOCKED, e): s for e, s in _FLAT_CHAIN_ENDINGS.items()},
    # HEDGING: a broker order is working — exposure possible
    (_S.HEDGING, _E.BROKER_ORDER_DONE): _S.LOCKED,  # back to deciding: open, top up or unlock
    (_S.HEDGING, _E.BROKER_ORDER_REJECTED): _S.LOCKED,
    (_S.HEDGING, _E.CANCEL_REQUESTED): _S.CANCELLING,
    (_S.HEDGING, _E.DEADLINE_REACHED): _S.CANCELLING,
    (_S.HEDGING, _E.HALTED): _S.CANCELLING,
    (_S.HEDGING, _E.CHAIN_CANCELED): _S.CANCELLING,
    (_S.HEDGING, _E.CHAIN_EXPIRED): _S.CANCELLING,
    (_S.HEDGING, _E.LOCK_LOST): _S.CANCELLING,
    (_S.HEDGING, _E.RETRIES_EXHAUSTED): _S.STUCK,
    # OPENING: openPosition in flight; fills exist
    (_S.OPENING, _E.OPEN_SENT): _S.OPENING,
    (_S.OPENING, _E.OPEN_CONFIRMED): _S.OPEN,
    (_S.OPENING, _E.OPEN_FAILED): _S.UNWINDING,
    (_S.OPENING, _E.CANCEL_REQUESTED): _S.OPENING,  # CANCEL_PENDING still lets us open
    (_S.OPENING, _E.DEADLINE_REACHED): _S.UNWINDING,
    (_S.OPENING, _E.CHAIN_CANCELED): _S.UNWINDING,
    (_S.OPENING, _E.CHAIN_EXPIRED): _S.UNWINDING,
    (_S.OPENING, _E.LOCK_LOST): _S.UNWINDING,
    (_S.OPENING, _E.UNWIND_STARTED): _S.UNWINDING,  # e.g. over-fill excess after the open
    (_S.OPENING, _E.RETRIES_EXHAUSTED): _S.STUCK,
    # CANCELLING: cancelling the working broker order
    (_S.CANCELLING, _E.BROKER_ORDER_DONE): _S.LOCKED,  # decide: open filled part / unwind / unlock
    (_S.CANCELLING, _E.BROKER_ORDER_REJECTED): _S.LOCKED,
    (_S.CANCELLING, _E.CANCEL_REQUESTED): _S.CANCELLING,
    (_S.CANCELLING, _E.DEADLINE_REACHED): _S.CANCELLING,
    (_S.CANCELLING, _E.HALTED): _S.CANCELLING,
    (_S.CANCELLING, _E.CHAIN_CANCELED): _S.CANCELLING,
    (_S.CANCELLING, _E.CHAIN_EXPIRED): _S.CANCELLING,
    (_S.CANCELLING, _E.LOCK_LOST): _S.CANCELLING,
    (_S.CANCELLING, _E.RETRIES_EXHAUSTED): _S.STUCK,
    # UNWINDING: flattening the broker
    (_S.UNWINDING, _E.UNWIND_STARTED): _S.UNWINDING,
    (_S.UNWINDING, _E.UNWIND_DONE): _S.UNLOCKING,  # then unlock / accept cancel / observe end
    (_S.UNWINDING, _E.CANCEL_REQUESTED): _S.UNWINDING,
    (_S.UNWINDING, _E.DEADLINE_REACHED): _S.UNWINDING,
    (_S.UNWINDING, _E.HALTED): _S.UNWINDING,
    (_S.UNWINDING, _E.CHAIN_CANCELED): _S.UNWINDING,
    (_S.UNWINDING, _E.CHAIN_EXPIRED): _S.UNWINDING,
    (_S.UNWINDING, _E.LOCK_LOST): _S.UNWINDING,
    (_S.UNWINDING, _E.OPEN_CONFIRMED): _S.OPENING,  # a "failed" open landed after all: re-decide
    (_S.UNWINDING, _E.RETRIES_EXHAUSTED): _S.STUCK,
    # UNLOCKING: broker flat; releasing the quote on chain
    (_S.UNLOCKING, _E.UNLOCK_SENT): _S.UNLOCKING,
    (_S.UNLOCKING, _E.UNLOCKED): _S.UNLOCKED,
    (_S.UNLOCKING, _E.CANCEL_REQUESTED): _S.UNLOCKING,  # switch to acceptCancelRequest
    (_S.UNLOCKING, _E.DEADLINE_REACHED): _S.UNLOCKING,
    (_S.UNLOCKING, _E.HALTED): _S.UNLOCKING,
    (_S.UNLOCKING, _E.RETRIES_EXHAUSTED): _S.STUCK,
    **{(_S.UNLOCKING, e): s for e, s in _FLAT_CHAIN_ENDINGS.items()},
    # STUCK: only an operator moves it, or the chain proves an outcome
    (_S.STUCK, _E.OPERATOR_UNWIND): _S.UNWINDING,
    (_S.STUCK, _E.OPERATOR_ABANDON): _S.FAILED,
    (_S.STUCK, _E.OPEN_CONFIRMED): _S.OPENING,  # re-decide: reconcile broker to chain
    (_S.STUCK, _E.RETRIES_EXHAUSTED): _S.STUCK,
    # (_S.STUCK, OPERATOR_RETRY) is handled by OpenHedge.apply: back to the state it came from
}


@dataclass(frozen=True, slots=True)
class OpenHedge:
    """The open path's state. `resume` remembers where STUCK came from (for `retry`)."""

    state: OpenState = OpenState.RECEIVED
    resume: OpenState | None = None

    @property
    def hedge_status(self) -> HedgeStatus:
        return self.state.hedge_status

    def can_apply(self, event: OpenEvent) -> bool:
        if self.state is OpenState.STUCK and event is OpenEvent.OPERATOR_RETRY:
            return True
        return (self.state, event) in OPEN_TRANSITIONS

    def apply(self, event: OpenEvent) -> OpenHedge:
        if self.state is OpenState.STUCK and event is OpenEvent.OPERATOR_RETRY:
            assert self.resume is not None
            return OpenHedge(self.resume, None)
        try:
            target = OPEN_TRANSITIONS[(self.state, event)]
        except KeyError:
            raise InvalidTransition("open", self.state, event) from None
        if target is OpenState.STUCK:
            return OpenHedge(OpenState.STUCK, self.resume if self.state is _S.STUCK else self.state)
        return OpenHedge(target, None)


# =========================================================================== position path FSM


class PositionState(StrEnum):
    OPEN = "OPEN"  # hedged, no close request being worked
    CLOSING = "CLOSING"  # close request: broker reduce-only order working / to place
    REPORTING = "REPORTING"  # fillCloseRequest in flight
    CANCELLING_CLOSE = "CANCELLING_CLOSE"  # cancel-close requested: cancel broker order, answer
    REBALANCING = "REBALANCING"  # bringing the broker side to match the chain
    CLOSED = "CLOSED"  # nothing open on chain, broker flat (terminal)
    STUCK = "STUCK"
    FAILED = "FAILED"  # operator abandoned (terminal)

    @property
    def hedge_status(self) -> HedgeStatus:
        return _POSITION_STATUS_MAP[self]

    @property
    def is_terminal(self) -> bool:
        return self in (PositionState.CLOSED, PositionState.FAILED)


_POSITION_STATUS_MAP: dict[PositionState, HedgeStatus] = {
    PositionState.OPEN: HedgeStatus.OPEN,
    PositionState.CLOSING: HedgeStatus.CLOSING,
    PositionState.REPORTING: HedgeStatus.CLOSING,
    PositionState.CANCELLING_CLOSE: HedgeStatus.CLOSING,
    PositionState.REBALANCING: HedgeStatus.UNWINDING,
    PositionState.CLOSED: HedgeStatus.CLOSED,
    PositionState.STUCK: HedgeStatus.STUCK,
    PositionState.FAILED: HedgeStatus.FAILED,
}


class PositionEvent(StrEnum):
    CLOSE_REQUESTED = "CLOSE_REQUESTED"  # RequestToClosePosition
    BROKER_ORDER_PLACED = "BROKER_ORDER_PLACED"
    BROKER_ORDER_REJECTED = "BROKER_ORDER_REJECTED"
    BROKER_ORDER_DONE = "BROKER_ORDER_DONE"
    CLOSE_FILL_SENT = "CLOSE_FILL_SENT"  # fillCloseRequest broadcast
    CLOSE_FILLED_PARTIAL = "CLOSE_FILLED_PARTIAL"  # FillCloseRequest, still CLOSE_PENDING
    CLOSE_FILLED_REQUEST = "CLOSE_FILLED_REQUEST"  # FillCloseRequest → OPENED (request done)
    CLOSE_FILLED_POSITION = "CLOSE_FILLED_POSITION"  # FillCloseRequest → CLOSED
    CLOSE_FILL_FAILED = "CLOSE_FILL_FAILED"  # fillCloseRequest impossible
    CANCEL_CLOSE_REQUESTED = "CANCEL_CLOSE_REQUESTED"  # RequestToCancelCloseRequest
    CANCEL_CLOSE_ACCEPTED = "CANCEL_CLOSE_ACCEPTED"  # AcceptCancelCloseRequest (ours)
    FORCE_CANCEL_CLOSE = "FORCE_CANCEL_CLOSE"  # ForceCancelCloseRequest
    CLOSE_EXPIRED = "CLOSE_EXPIRED"  # ExpireQuoteClose
    FORCE_CLOSED = "FORCE_CLOSED"  # ForceClosePosition
    EMERGENCY_CLOSED = "EMERGENCY_CLOSED"  # EmergencyClosePosition
    LIQUIDATED = "LIQUIDATED"  # LiquidatePositionsPartyA/B including this quote
    MISMATCH_FOUND = "MISMATCH_FOUND"  # validator: broker ≠ chain
    REBALANCED_OPEN = "REBALANCED_OPEN"  # broker matches chain, still open
    REBALANCED_FLAT = "REBALANCED_FLAT"  # broker matches chain, nothing open
    RETRIES_EXHAUSTED = "RETRIES_EXHAUSTED"
    OPERATOR_RETRY = "OPERATOR_RETRY"
    OPERATOR_UNWIND = "OPERATOR_UNWIND"
    OPERATOR_ABANDON = "OPERATOR_ABANDON"


_P = PositionState
_PE = PositionEvent

# Chain actions by others that change what is open: always → rebalance the broker.
_CHAIN_OVERRIDES = (
    _PE.FORCE_CLOSED,
    _PE.EMERGENCY_CLOSED,
    _PE.LIQUIDATED,
    _PE.CLOSE_EXPIRED,
    _PE.FORCE_CANCEL_CLOSE,
)

POSITION_TRANSITIONS: dict[tuple[PositionState, PositionEvent], PositionState] = {
    # OPEN
    (_P.OPEN, _PE.CLOSE_REQUESTED): _P.CLOSING,
    (_P.OPEN, _PE.EMERGENCY_CLOSED): _P.REBALANCING,
    (_P.OPEN, _PE.LIQUIDATED): _P.REBALANCING,
    (_P.OPEN, _PE.MISMATCH_FOUND): _P.REBALANCING,
    (_P.OPEN, _PE.RETRIES_EXHAUSTED): _P.STUCK,
    # CLOSING
    (_P.CLOSING, _PE.BROKER_ORDER_PLACED): _P.CLOSING,
    (_P.CLOSING, _PE.BROKER_ORDER_REJECTED): _P.CLOSING,  # retry or leave the request pending
    (_P.CLOSING, _PE.BROKER_ORDER_DONE): _P.REPORTING,
    (_P.CLOSING, _PE.CLOSE_FILL_SENT): _P.REPORTING,  # partial LIMIT fills reported on the go
    (_P.CLOSING, _PE.CANCEL_CLOSE_REQUESTED): _P.CANCELLING_CLOSE,
    (_P.CLOSING, _PE.MISMATCH_FOUND): _P.REBALANCING,
    (_P.CLOSING, _PE.RETRIES_EXHAUSTED): _P.STUCK,
    **{(_P.CLOSING, e): _P.REBALANCING for e in _CHAIN_OVERRIDES},
    # REPORTING
    (_P.REPORTING, _PE.CLOSE_FILL_SENT): _P.REPORTING,
    (_P.REPORTING, _PE.CLOSE_FILLED_PARTIAL): _P.CLOSING,
    (_P.REPORTING, _PE.CLOSE_FILLED_REQUEST): _P.OPEN,
    (_P.REPORTING, _PE.CLOSE_FILLED_POSITION): _P.CLOSED,
    (_P.REPORTING, _PE.CLOSE_FILL_FAILED): _P.REBALANCING,
    (_P.REPORTING, _PE.CANCEL_CLOSE_REQUESTED): _P.REPORTING,  # still fillable when CANCEL_CLOSE
    (_P.REPORTING, _PE.BROKER_ORDER_DONE): _P.REPORTING,
    (_P.REPORTING, _PE.RETRIES_EXHAUSTED): _P.STUCK,
    **{(_P.REPORTING, e): _P.REBALANCING for e in _CHAIN_OVERRIDES},
    # CANCELLING_CLOSE
    (_P.CANCELLING_CLOSE, _PE.BROKER_ORDER_DONE): _P.CANCELLING_CLOSE,
    (_P.CANCELLING_CLOSE, _PE.BROKER_ORDER_REJECTED): _P.CANCELLING_CLOSE,
    (_P.CANCELLING_CLOSE, _PE.CLOSE_FILL_SENT): _P.REPORTING,  # fill what was filled
    (_P.CANCELLING_CLOSE, _PE.CANCEL_CLOSE_ACCEPTED): _P.OPEN,
    (_P.CANCELLING_CLOSE, _PE.CLOSE_FILLED_REQUEST): _P.OPEN,
    (_P.CANCELLING_CLOSE, _PE.CLOSE_FILLED_POSITION): _P.CLOSED,
    (_P.CANCELLING_CLOSE, _PE.RETRIES_EXHAUSTED): _P.STUCK,
    **{(_P.CANCELLING_CLOSE, e): _P.REBALANCING for e in _CHAIN_OVERRIDES},
    # REBALANCING
    (_P.REBALANCING, _PE.REBALANCED_OPEN): _P.OPEN,
    (_P.REBALANCING, _PE.REBALANCED_FLAT): _P.CLOSED,
    (_P.REBALANCING, _PE.BROKER_ORDER_PLACED): _P.REBALANCING,
    (_P.REBALANCING, _PE.BROKER_ORDER_DONE): _P.REBALANCING,
    (_P.REBALANCING, _PE.BROKER_ORDER_REJECTED): _P.REBALANCING,
    (_P.REBALANCING, _PE.MISMATCH_FOUND): _P.REBALANCING,
    (_P.REBALANCING, _PE.CLOSE_REQUESTED): _P.REBALANCING,  # worked once rebalanced
    (_P.REBALANCING, _PE.CANCEL_CLOSE_REQUESTED): _P.REBALANCING,
    (_P.REBALANCING, _PE.RETRIES_EXHAUSTED): _P.STUCK,
    **{(_P.REBALANCING, e): _P.REBALANCING for e in _CHAIN_OVERRIDES},
    # STUCK
    (_P.STUCK, _PE.OPERATOR_UNWIND): _P.REBALANCING,
    (_P.STUCK, _PE.OPERATOR_ABANDON): _P.FAILED,
    (_P.STUCK, _PE.RETRIES_EXHAUSTED): _P.STUCK,
    **{(_P.STUCK, e): _P.STUCK for e in _CHAIN_OVERRIDES},
}


@dataclass(frozen=True, slots=True)
class PositionHedge:
    state: PositionState = PositionState.OPEN
    resume: PositionState | None = None

    @property
    def hedge_status(self) -> HedgeStatus:
        return self.state.hedge_status

    def can_apply(self, event: PositionEvent) -> bool:
        if self.state is PositionState.STUCK and event is PositionEvent.OPERATOR_RETRY:
            return True
        return (self.state, event) in POSITION_TRANSITIONS

    def apply(self, event: PositionEvent) -> PositionHedge:
        if self.state is PositionState.STUCK and event is PositionEvent.OPERATOR_RETRY:
            assert self.resume is not None
            return PositionHedge(self.resume, None)
        try:
            target = POSITION_TRANSITIONS[(self.state, event)]
        except KeyError:
            raise InvalidTransition("position", self.state, event) from None
        if target is PositionState.STUCK:
            resume = self.resume if self.state is _P.STUCK else self.state
            return PositionHedge(PositionState.STUCK, resume)
        return PositionHedge(target, None)


# ================================================================================== actions


class Outcome(StrEnum):
    HEDGED_OPEN = "HEDGED_OPEN"  # open on chain, broker hedge equal
    FLAT = "FLAT"  # nothing on chain for us, broker flat


@dataclass(frozen=True, slots=True)
class Lock:
    """lockQuote (after allocateForPartyB if short)."""


@dataclass(frozen=True, slots=True)
class PlaceBrokerOrder:
    """Opening-side broker order (or a top-up / gap hedge) for `quantity`."""

    quantity: Decimal


@dataclass(frozen=True, slots=True)
class WaitForFills:
    """A broker order is working: poll / wait for monitor signals."""


@dataclass(frozen=True, slots=True)
class CancelBrokerOrder:
    """Cancel the working broker order, then ask again."""


@dataclass(frozen=True, slots=True)
class OpenOnChain:
    amount: Decimal


@dataclass(frozen=True, slots=True)
class UnwindBroker:
    """Trade `quantity` against the opening side (reduce-only) to remove unmatched exposure."""

    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Unlock:
    """unlockQuote (→ PENDING, or EXPIRED past the deadline)."""


@dataclass(frozen=True, slots=True)
class AcceptCancel:
    """acceptCancelRequest."""


@dataclass(frozen=True, slots=True)
class PlaceBrokerClose:
    """Reduce-only broker order for a close request."""

    quantity: Decimal


@dataclass(frozen=True, slots=True)
class FillCloseOnChain:
    amount: Decimal


@dataclass(frozen=True, slots=True)
class AcceptCancelClose:
    """acceptCancelCloseRequest."""


@dataclass(frozen=True, slots=True)
class ReduceBroker:
    """Reduce-only broker trade: the broker holds `quantity` more than the chain."""

    quantity: Decimal


@dataclass(frozen=True, slots=True)
class IncreaseBroker:
    """Re-hedge: the chain holds `quantity` more than the broker."""

    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Idle:
    """Hedged; nothing to do until the next event."""


@dataclass(frozen=True, slots=True)
class Done:
    outcome: Outcome


OpenAction: TypeAlias = (
    Lock
    | PlaceBrokerOrder
    | WaitForFills
    | CancelBrokerOrder
    | OpenOnChain
    | UnwindBroker
    | Unlock
    | AcceptCancel
    | Done
)
PositionAction: TypeAlias = (
    PlaceBrokerClose
    | WaitForFills
    | CancelBrokerOrder
    | FillCloseOnChain
    | AcceptCancelClose
    | ReduceBroker
    | IncreaseBroker
    | Idle
    | Done
)


# ============================================================================ open decisions


@dataclass(frozen=True, slots=True)
class OpenSituation:
    """Facts the open path decides on; refresh them (chain read, broker query) before asking.

    `broker_filled`: broker hedge currently held for this quote (fills minus unwinds).
    `deadline_near`: too little time left to finish (cancel the order and open what filled).
    `deadline_passed`: `now > quote.deadline`: openPosition is impossible.
    `want_open`: set it False as soon as the intent unlocks, loses the lock race or is
    abandoned: while it is True a PENDING quote that is not ours yields `Lock` again.
    `broker_rejected`: no more broker orders will be placed for this intent (rejections,
    attempts exhausted).
    `open_failed`: openPosition reverted and will not be retried.
    `chain_open_quantity`: filledAmount on chain once OPENED (on a partial LIMIT open the
    parent's `quantity` becomes the filled amount and a child quote takes the rest).
    `min_acceptable_quote_value` with `locked_values`, `expected_open_price` (the price that
    will be reported) and `requested_open_price`: the contract's "Quote value is low" checks,
    reproduced exactly; with only `total_for_party_a`: an estimate. `step_size`: broker lot, so
    a reduced partial report leaves an unwindable excess.
    """

    chain_status: QuoteStatus
    ours: bool
    order_type: OrderType
    quantity: Decimal
    broker_filled: Decimal = ZERO
    broker_order_open: bool = False
    deadline_near: bool = False
    deadline_passed: bool = False
    trading_state: TradingState = TradingState.ACTIVE
    want_open: bool = True
    broker_rejected: bool = False
    open_failed: bool = False
    chain_open_quantity: Decimal = ZERO
    total_for_party_a: Decimal | None = None
    min_acceptable_quote_value: Decimal = ZERO
    locked_values: LockedValues | None = None
    expected_open_price: Decimal | None = None
    requested_open_price: Decimal | None = None
    step_size: Decimal | None = None


@exact
def next_open_action(s: OpenSituation) -> OpenAction:
    """The single next step of the open path (DESIGN §4 steps 2–6 and cancel handling).

    Order of rules:
    1. OPENED (or later) by us → make the broker equal the chain (cancel the working order,
       unwind any excess, hedge any gap), then `Done(HEDGED_OPEN)`.
    2. Not ours on chain (PENDING, locked by another, CANCELED, EXPIRED, liquidated) → make the
       broker flat; then `Lock` if still wanted and possible, else `Done(FLAT)`.
    3. LOCKED / CANCEL_PENDING by us:
       a. order working: cancel it on cancel request, deadline near/passed, HALTED or give-up;
          otherwise wait;
       b. fills and the chain can still open: report what is reportable (`OpenOnChain`); a
          MARKET under-fill is topped up while allowed, else unwound;
       c. fills and the chain cannot open (deadline passed, open failed) → unwind;
       d. nothing filled: place the order while allowed, else `AcceptCancel` (cancel requested)
          or `Unlock`.
    """
    # 1. The open happened on chain.
    if s.ours and s.chain_status in OPEN_STATUSES:
        if s.broker_order_open:
            return CancelBrokerOrder()
        diff = s.broker_filled - s.chain_open_quantity
        if diff > 0:
            return UnwindBroker(diff)
        if diff < 0:
            return PlaceBrokerOrder(-diff)
        return Done(Outcome.HEDGED_OPEN)

    # 2. Nothing on chain is ours.
    if not (s.ours and s.chain_status in OUR_PENDING_STATUSES):
        if s.broker_order_open:
            return CancelBrokerOrder()
        if s.broker_filled > 0:
            return UnwindBroker(s.broker_filled)
        if (
            s.chain_status == QuoteStatus.PENDING
            and not s.ours
            and s.want_open
            and not s.deadline_near
            and not s.deadline_passed
            and allows_new_opens(s.trading_state)
        ):
            return Lock()
        return Done(Outcome.FLAT)

    # 3. Locked by us.
    cancel_requested = s.chain_status == QuoteStatus.CANCEL_PENDING
    chain_can_open = not s.deadline_passed and not s.open_failed
    may_place = (
        s.want_open
        and not cancel_requested
        and not s.broker_rejected
        and chain_can_open
        and not s.deadline_near
        and allows_new_opens(s.trading_state)
    )
    if s.broker_order_open:
        if (
            cancel_requested
            or not chain_can_open
            or s.deadline_near
            or not s.want_open
            or not keeps_resting_opening_orders(s.trading_state)
        ):
            return CancelBrokerOrder()
        return WaitForFills()
    if s.broker_filled > 0:
        if chain_can_open:
            report = open_amount_to_report(
                s.order_type,
                s.quantity,
                s.broker_filled,
                total_for_party_a=s.total_for_party_a,
                min_acceptable_quote_value=s.min_acceptable_quote_value,
                locked_values=s.locked_values,
                opened_price=s.expected_open_price,
                requested_open_price=s.requested_open_price,
                remainder_cancelled=cancel_requested,
                step_size=s.step_size,
            )
            if report.amount is not None:
                return OpenOnChain(report.amount)  # any excess is unwound by rule 1 afterwards
            if s.order_type == OrderType.MARKET and may_place and s.broker_filled < s.quantity:
                return PlaceBrokerOrder(s.quantity - s.broker_filled)
        return UnwindBroker(s.broker_filled)
    if may_place:
        return PlaceBrokerOrder(s.quantity)
    if cancel_requested:
        return AcceptCancel()
    return Unlock()


# ======================================================================== position decisions


@dataclass(frozen=True, slots=True)
class PositionSituation:
    """Facts the position path decides on.

    `chain_open_quantity`: quantity − closedAmount on chain (0 once CLOSED / LIQUIDATED).
    `broker_quantity`: broker hedge currently held for this quote (after any close fills).
    `unreported_close_fill`: broker close fills of the current request not yet on chain.
    `close_failed`: fillCloseRequest reverted and will not be retried.
    `deadline_near` / `deadline_passed`: of the close request.
    `locked_values` / `min_acceptable_quote_value` / `step_size`: optional, for the contract's
    remaining-value guard on partial close fills (`domain.sizing.close_fill_is_valid`).
    """

    chain_status: QuoteStatus
    chain_open_quantity: Decimal
    broker_quantity: Decimal
    close_order_type: OrderType = OrderType.MARKET
    quantity_to_close: Decimal = ZERO
    close_order_open: bool = False
    unreported_close_fill: Decimal = ZERO
    deadline_near: bool = False
    deadline_passed: bool = False
    close_failed: bool = False
    broker_rejected: bool = False
    locked_values: LockedValues | None = None
    min_acceptable_quote_value: Decimal = ZERO
    step_size: Decimal | None = None


@exact
def _reconcile(broker: Decimal, chain: Decimal) -> ReduceBroker | IncreaseBroker | None:
    if broker > chain:
        return ReduceBroker(broker - chain)
    if broker < chain:
        return IncreaseBroker(chain - broker)
    return None


@exact
def next_position_action(s: PositionSituation) -> PositionAction:
    """The single next step of the position path (DESIGN §5).

    * A live close request (CLOSE_PENDING / CANCEL_CLOSE_PENDING, before its deadline, fill not
      failed): a working order is cancelled on cancel-close or near the deadline, LIMIT fills
      are reported as they come, MARKET fills once complete (an under-fill is topped up while
      allowed); with nothing placed yet, a reduce-only order is placed (not on cancel-close).
      Fills that can no longer be reported are re-hedged; then `AcceptCancelClose` answers a
      cancel-close, else `Idle` (the request waits for the trader or expiry).
    * Otherwise (OPENED, expired / force-cancelled close, force / emergency close,
      liquidation, CLOSED): cancel any working close order and bring the broker to exactly the
      chain's open quantity; `Idle` while open, `Done(FLAT)` once nothing is open.
    """
    live_close = s.chain_status in CLOSING_STATUSES and not s.deadline_passed and not s.close_failed
    if live_close:
        guard: dict[str, Any] = {
            "locked_values": s.locked_values,
            "open_quantity": s.chain_open_quantity,
            "min_acceptable_quote_value": s.min_acceptable_quote_value,
            "step_size": s.step_size,
        }
        cancel_req = s.chain_status == QuoteStatus.CANCEL_CLOSE_PENDING
        may_place = not cancel_req and not s.broker_rejected and not s.deadline_near
        if s.close_order_open:
            if cancel_req or s.deadline_near:
                return CancelBrokerOrder()
            if s.close_order_type == OrderType.LIMIT and s.unreported_close_fill > 0:
                report = close_amount_to_report(
                    OrderType.LIMIT, s.quantity_to_close, s.unreported_close_fill, **guard
                )
                if report.amount is not None:
                    return FillCloseOnChain(report.amount)
            return WaitForFills()
        if s.unreported_close_fill > 0:
            report = close_amount_to_report(
                s.close_order_type, s.quantity_to_close, s.unreported_close_fill, **guard
            )
            if report.amount is not None:
                return FillCloseOnChain(report.amount)
            if may_place and s.unreported_close_fill < s.quantity_to_close:  # MARKET top-up
                return PlaceBrokerClose(s.quantity_to_close - s.unreported_close_fill)
        elif may_place and s.quantity_to_close > 0:
            return PlaceBrokerClose(s.quantity_to_close)
        fix = _reconcile(s.broker_quantity, s.chain_open_quantity)
        if fix is not None:
            return fix
        return AcceptCancelClose() if cancel_req else Idle()

    if s.close_order_open:
        return CancelBrokerOrder()
    target = s.chain_open_quantity if s.chain_status in OPEN_STATUSES else ZERO
    fix = _reconcile(s.broker_quantity, target)
    if fix is not None:
        return fix
    return Idle() if s.chain_status in OPEN_STATUSES else Done(Outcome.FLAT)
