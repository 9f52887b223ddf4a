"""SYMMIO protocol-core 0.8.4 enums (same member order as on chain) and the hedger's own states."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class PositionType(IntEnum):
    LONG = 0
    SHORT = 1


class OrderType(IntEnum):
    LIMIT = 0
    MARKET = 1


class QuoteStatus(IntEnum):
    PENDING = 0
    LOCKED = 1
    CANCEL_PENDING = 2
    CANCELED = 3
    OPENED = 4
    CLOSE_PENDING = 5
    CANCEL_CLOSE_PENDING = 6
    CLOSED = 7
    LIQUIDATED = 8
    EXPIRED = 9
    LIQUIDATED_PENDING = 10


class BalanceChangeType(IntEnum):
    ALLOCATE = 0
    DEALLOCATE = 1
    PLATFORM_FEE_IN = 2
    PLATFORM_FEE_OUT = 3
    REALIZED_PNL_IN = 4
    REALIZED_PNL_OUT = 5
    CVA_IN = 6
    CVA_OUT = 7
    LF_IN = 8
    LF_OUT = 9
    FUNDING_FEE_IN = 10
    FUNDING_FEE_OUT = 11


class HedgeStatus(StrEnum):
    """Search-attribute value an operator filters on in the Temporal UI (DESIGN §6)."""

    RECEIVED = "RECEIVED"
    REJECTED = "REJECTED"
    LOCKING = "LOCKING"
    HEDGING = "HEDGING"
    OPENING = "OPENING"
    OPEN = "OPEN"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    RELEASED = "RELEASED"  # we unlocked it: PENDING again for other hedgers, never opened by us
    LOST = "LOST"  # another PartyB locked it first
    UNWINDING = "UNWINDING"
    STUCK = "STUCK"
    FAILED = "FAILED"


class TradingState(StrEnum):
    """Global kill switch every workflow checks before taking new risk.

    ACTIVE / REDUCE_ONLY / HALTED are set by operators; PROTOCOL_PAUSED is never set by a
    person: it is the effective state while the SYMMIO diamond pauses PartyB actions
    (`pausePartyBActions` or `pauseGlobal`), read from the chain (`domain.trading_state`)."""

    ACTIVE = "ACTIVE"
    REDUCE_ONLY = "REDUCE_ONLY"
    HALTED = "HALTED"
    PROTOCOL_PAUSED = "PROTOCOL_PAUSED"
