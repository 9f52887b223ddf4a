"""The position validator's contract (task queue `hedger-ops`): what its activities read and
write, and the workflow's input and result. Amounts travel as strings. Nothing here does I/O.

The validator only reads the chain, the broker and Temporal; it writes nothing but its own
findings (and alerts, through `ops_raise_alert`). It never trades (its one optional repair cancels an orphan order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from temporalio import activity

from domain.enums import PositionType
from domain.reconcile import (
    BrokerOpenOrder,
    ChainPosition,
    Finding,
    InFlight,
    LedgerPosition,
    Snapshot,
    TrackedFinding,
)

VALIDATOR_WORKFLOW = "ValidatorWorkflow"
VALIDATOR_SCHEDULE_ID = "hedger-validator"


def validator_workflow_id(chain_id: int) -> str:
    """The id of the validator's runs (the Schedule appends the start time to it)."""
    return f"validator-{chain_id}"


@dataclass(frozen=True)
class ValidatorInput:
    chain_id: int
    # a finding alerts once this many consecutive runs saw it (a hedge in flight clears sooner)
    persist_runs: int = 2
    # finding classes repaired once confirmed (see REPAIRABLE); empty: the validator never acts
    auto_repair: list[str] = field(default_factory=list)


# The classes with an automatic repair, and what it does.
REPAIRABLE = {"orphan_broker_order": "cancel the resting broker order"}


@dataclass(frozen=True)
class SnapshotRequest:
    party_b: str


@dataclass(frozen=True)
class ChainPositionRow:
    quote_id: int
    symbol: str
    side: int  # PositionType
    open_amount: str


@dataclass(frozen=True)
class BrokerOrderRow:
    client_order_id: str
    symbol: str
    side: str
    amount: str
    filled: str = "0"


@dataclass(frozen=True)
class LedgerPositionRow:
    quote_id: int
    symbol: str
    open_amount: str
    hedge_status: str


@dataclass(frozen=True)
class SnapshotView:
    """What each side reports, read once per run. Symbols are broker markets on every side."""

    party_b: str
    chain: list[ChainPositionRow] = field(default_factory=list)
    broker_positions: dict[str, str] = field(default_factory=dict)  # symbol -> signed amount
    broker_orders: list[BrokerOrderRow] = field(default_factory=list)
    ledger: list[LedgerPositionRow] = field(default_factory=list)
    in_flight_quotes: list[int] = field(default_factory=list)
    in_flight_symbols: list[str] = field(default_factory=list)
    party_as: int = 0  # how many counterparties the chain was asked about


@dataclass(frozen=True)
class ReconcileView:
    """A snapshot already reconciled (`validator_reconcile`): its findings and how much was
    checked. Its size grows with the differences found, not with the positions open: the
    snapshot itself (about 165 bytes per open position) passed Temporal's 2 MB payload limit
    at about 12,000 positions, and the validator then failed on every run."""

    party_b: str
    findings: list[Finding] = field(default_factory=list)
    positions: int = 0  # chain positions checked
    party_as: int = 0  # how many counterparties the chain was asked about


def to_snapshot(view: SnapshotView) -> Snapshot:
    d = Decimal
    return Snapshot(
        chain=[ChainPosition(r.quote_id, r.symbol, PositionType(r.side), d(r.open_amount))
               for r in view.chain],
        broker_positions={s: d(a) for s, a in view.broker_positions.items()},
        broker_orders=[BrokerOpenOrder(r.client_order_id, r.symbol, r.side, d(r.amount), d(r.filled))
                       for r in view.broker_orders],
        ledger=[LedgerPosition(r.quote_id, r.symbol, d(r.open_amount), r.hedge_status)
                for r in view.ledger],
        in_flight=InFlight(frozenset(view.in_flight_quotes), frozenset(view.in_flight_symbols)),
    )  # fmt: skip


@dataclass(frozen=True)
class RecordRequest:
    run_id: str
    now: float  # the run's time (epoch seconds): last_seen of open findings, resolved_at
    open: list[TrackedFinding] = field(default_factory=list)
    resolved: list[TrackedFinding] = field(default_factory=list)


@dataclass(frozen=True)
class ValidatorResult:
    run_id: str
    open_by_kind: dict[str, int]
    alerted: list[str] = field(default_factory=list)  # finding keys alerted by this run
    resolved: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # finding keys an auto-repair acted on


class ValidatorApi:
    """The validator's reads and its findings table (implementation: `activities.validator`)."""

    @activity.defn(name="validator_snapshot")
    async def snapshot(self, request: SnapshotRequest) -> SnapshotView:
        """Chain (open quotes of our PartyB, paged), broker (positions, open orders), ledger
        (positions) and what live workflows report in flight."""
        raise NotImplementedError

    @activity.defn(name="validator_reconcile")
    async def reconcile(self, request: SnapshotRequest) -> ReconcileView:
        """The snapshot, reconciled where it was read (`domain.reconcile.reconcile`): only the
        findings travel back to the workflow."""
        raise NotImplementedError

    @activity.defn(name="validator_open_findings")
    async def open_findings(self) -> list[TrackedFinding]:
        raise NotImplementedError

    @activity.defn(name="validator_record")
    async def record(self, request: RecordRequest) -> None:
        """Upsert the open findings, resolve the cleared ones (idempotent)."""
        raise NotImplementedError
