"""What the hedge decisions can ask a workflow to do next, and how a hedge can end.

The workflows (`workflows/intent.py`, `workflows/position.py`) are reconciliation loops: they
refresh the facts, ask `domain.open_path.next_open_action` or
`domain.position_path.next_position_action` for the single next action, perform it through an
activity and ask again, until `Done`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TypeAlias

from domain.enums import QuoteStatus
from domain.fixed import exact

ZERO = Decimal(0)

OPEN_STATUSES = frozenset(
    {QuoteStatus.OPENED, QuoteStatus.CLOSE_PENDING, QuoteStatus.CANCEL_CLOSE_PENDING}
)
# A quote in one of these was opened at some point (CLOSED and LIQUIDATED come only after OPENED).
OPENED_ONCE_STATUSES = frozenset({*OPEN_STATUSES, QuoteStatus.CLOSED, QuoteStatus.LIQUIDATED})
OUR_PENDING_STATUSES = frozenset({QuoteStatus.LOCKED, QuoteStatus.CANCEL_PENDING})
CLOSING_STATUSES = frozenset({QuoteStatus.CLOSE_PENDING, QuoteStatus.CANCEL_CLOSE_PENDING})


@exact
def is_hedged(
    chain_open_qty: Decimal, broker_position_qty: Decimal, tolerance: Decimal = ZERO
) -> bool:
    """The invariant: the broker hedge equals what is open on chain (within `tolerance`)."""
    return abs(chain_open_qty - broker_position_qty) <= tolerance


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
class WaitForProtocol:
    """The protocol pauses PartyB actions: send nothing, look again shortly."""


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
    | WaitForProtocol
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
    | WaitForProtocol
    | Done
)
