"""The risk-control workflow's interface: the kill switch and the exposure book.

`RiskControlWorkflow` (`risk-control-<chainId>`, one per chain) is where the global trading
state and the exposure reservations live: in Temporal, beside the hedges it governs, so neither
needs Postgres (a database outage never blocks or misleads a hedge) and every change is atomic
(its updates run one at a time). The admin API and `hedger ops` change the trading state with
the `set_trading_state` update; the ops activities read it (`trading_state` query) and reserve
and resize exposure (`reserve`, `resize` updates). Every change is also written to the ledger's
`trading_state` table, as history for people to read.

The protocol's own switches (`pausePartyBActions` / `pauseGlobal`, emergency mode, our PartyB's
emergency status) are read from the chain by the workflow — at its start, whenever a listener
signals `protocol_event`, and every minute — and combined with the operator's state
(`domain.trading_state.effective_state`): `trading_state` answers the effective state, e.g.
``PROTOCOL_PAUSED`` with the reason "protocol paused: partyB actions". They are never written
to the `trading_state` table (that is the operators' history; a protocol change raises an
alert instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RISK_CONTROL_WORKFLOW = "RiskControlWorkflow"
UPDATE_SET_TRADING_STATE = "set_trading_state"
UPDATE_RESERVE = "reserve"
UPDATE_RESIZE = "resize"
QUERY_TRADING_STATE = "trading_state"
QUERY_BOOK = "book"
QUERY_PROTOCOL = "protocol"
# A listener saw one of the diamond's pause / emergency events: read the switches again.
SIGNAL_PROTOCOL_EVENT = "protocol_event"
# A listener saw our PartyB liquidated for a PartyA (LiquidatePartyB / FullyLiquidatedPartyB).
SIGNAL_PARTY_B_LIQUIDATION = "party_b_liquidation"


def risk_control_workflow_id(chain_id: int) -> str:
    return f"risk-control-{chain_id}"


@dataclass(frozen=True)
class TradingStateChange:
    state: str  # ACTIVE | REDUCE_ONLY | HALTED
    reason: str
    changed_by: str


@dataclass(frozen=True)
class TradingStateView:
    state: str
    reason: str
    changed_by: str
    changed_at: str | None  # ISO 8601 (None: the default, never set)
    version: int = 0  # changes so far

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reason": self.reason,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at,
        }


@dataclass(frozen=True)
class ExposureRequest:
    quote_id: int
    symbol: str
    notional: str  # USD, decimal string
    max_open_interest: str
    max_notional_per_symbol: str


@dataclass(frozen=True)
class ExposureGrant:
    granted: bool
    open_interest: str  # reserved in total, after the request
    symbol_notional: str  # reserved for the symbol, after the request
    trading_state: str
    reason: str = ""


@dataclass(frozen=True)
class ExposureResize:
    quote_id: int
    symbol: str
    notional: str  # what the quote holds from now on; "0" releases it


@dataclass(frozen=True)
class BookView:
    open_interest: str
    by_symbol: dict[str, str]
    quotes: int


@dataclass(frozen=True)
class ProtocolView:
    """The protocol's switches as the risk-control workflow last read them."""

    global_paused: bool = False
    party_b_actions_paused: bool = False
    emergency_mode: bool = False
    party_b_emergency: bool = False
    block_number: int = 0
    read_at: str | None = None  # ISO 8601 (None: never read)
    changed_at: str | None = None


@dataclass(frozen=True)
class PartyBLiquidationNote:
    """Our PartyB liquidated for `party_a`: `event` is LiquidatePartyB (its positions are
    liquidated next; each position workflow then flattens its broker hedge) or
    FullyLiquidatedPartyB (nothing of ours is left open with that PartyA)."""

    event: str
    party_a: str
    key: str  # "<block>:<tx>:<log index>"
    allocated: str | None = None  # PartyB's allocation for the PartyA when liquidated (wei)
    upnl: str | None = None  # PartyB's signed uPnL the liquidator used (wei)


@dataclass(frozen=True)
class RiskControlInput:
    chain_id: int
    seed: TradingStateView | None = None  # the state to start from (first start only)
    resume: dict[str, Any] | None = None  # carried over continue-as-new
