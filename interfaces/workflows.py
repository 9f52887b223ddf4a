"""What flows into and out of the intent and position workflows.

These names and shapes are an interface: the chain listeners, the broker order monitor, the
admin API, the CLI and operators typing into the Temporal UI's "Send a Signal" dialog all use
them. Payloads are plain JSON-friendly dataclasses (Decimals as strings, bytes as hex).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Signal names (also accepted as updates where noted by the workflow).
SIGNAL_CHAIN_EVENT = "chain_event"
SIGNAL_BROKER_ORDER_UPDATE = "broker_order_update"
SIGNAL_RETRY = "retry"
SIGNAL_UNWIND = "unwind"
SIGNAL_ABANDON = "abandon"
SIGNAL_HANDOVER = "handover"  # intent -> position: the broker quantity it built
SIGNAL_EMERGENCY_CLOSE = "emergency_close"  # close the position now (emergencyClosePosition)
QUERY_STATE = "state"

INTENT_WORKFLOW = "IntentWorkflow"
POSITION_WORKFLOW = "PositionWorkflow"


@dataclass(frozen=True)
class ChainLog:
    """A raw SYMMIO log as a listener saw it; the workflow decodes it (pure, deterministic).

    `source` is the listener that delivered it ("ws", "poll", "subgraph"): three listeners may
    deliver the same log, and the workflow applies it once by (block_number, tx_hash, log_index).
    """

    address: str
    topics: list[str]  # 0x-hex, topic0 first
    data: str  # 0x-hex
    block_number: int
    tx_hash: str
    log_index: int
    source: str = "poll"
    block_hash: str | None = None
    removed: bool = False

    def as_log(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "topics": list(self.topics),
            "data": self.data,
            "blockNumber": self.block_number,
            "transactionHash": self.tx_hash,
            "logIndex": self.log_index,
            "blockHash": self.block_hash,
            "removed": self.removed,
        }


@dataclass(frozen=True)
class EmergencyClose:
    """Payload of `emergency_close`: close the whole position with `emergencyClosePosition`
    (only possible in emergency mode, under our PartyB emergency status, or once the symbol is
    invalid), then flatten its broker hedge. A person types `{"reason": "..."}`; the listeners
    send it to every running position when our emergency status is set, with `symbol_id` when a
    symbol is made invalid (positions of other symbols ignore it)."""

    reason: str = ""
    operator: str = "temporal-ui"
    symbol_id: int | None = None


@dataclass(frozen=True)
class OperatorCommand:
    """Payload of `retry` / `unwind` / `abandon`: what a person types is `{"reason": "..."}`."""

    reason: str = ""
    operator: str = "temporal-ui"


@dataclass(frozen=True)
class IntentInput:
    chain_id: int
    quote_id: int
    # The workflow's own state, carried over continue-as-new (None on a fresh start).
    resume: dict[str, Any] | None = None
    # Continue-as-new beyond this many history events (None: the workflow's default).
    history_limit: int | None = None


@dataclass(frozen=True)
class PositionMarket:
    """What the intent knew of the quote's symbol and broker market when it opened."""

    symbol_name: str
    min_acceptable_quote_value: str
    broker_market: str
    tick_size: str


@dataclass(frozen=True)
class PositionInput:
    chain_id: int
    quote_id: int
    # The workflow's own state, carried over continue-as-new (None on a fresh start).
    resume: dict[str, Any] | None = None
    # The broker hedge the intent built (Decimal string); None: assume it equals the chain.
    broker_quantity: str | None = None
    # Continue-as-new beyond this many history events (None: the workflow's default).
    history_limit: int | None = None
    # The symbol and broker market the intent hedged on (None: the position reads them).
    market: PositionMarket | None = None
