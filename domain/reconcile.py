"""Three-way reconciliation of the chain, the broker and the ledger (the position validator).

Pure: given what each side reports at one moment (`Snapshot`) it names every difference
(`Finding`), the way NautilusTrader's live reconciliation names a missed fill, an external order
or a position mismatch. The broker account nets every quote's hedge per symbol (one-way mode,
DESIGN §5), so positions are compared per symbol: the signed sum of what is open on chain
against us (trader LONG = +, the hedge buys) must equal the broker's position. Orders and the
ledger are compared per client order id and per quote.

Whatever a live workflow reports it is working on (`InFlight`) is not a finding: its quote's
orders, its quote's ledger row, and its symbol's net are skipped for this run. `track` then
carries findings across runs: one that is still there on `persist_runs` consecutive runs is to
be alerted; one that is gone is resolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from domain.enums import PositionType
from domain.ids import parse_client_order_id

ZERO = Decimal(0)


class FindingKind(StrEnum):
    MISSING_ON_BROKER = "missing_on_broker"  # open on chain, nothing on the broker
    MISSING_ON_CHAIN = "missing_on_chain"  # a broker position, nothing open on chain
    SIZE_MISMATCH = "size_mismatch"  # both sides hold the symbol, size or side differs
    ORPHAN_BROKER_ORDER = "orphan_broker_order"  # our client id, no workflow working it
    UNKNOWN_BROKER_ORDER = "unknown_broker_order"  # an open order the hedger did not make
    LEDGER_BEHIND = "ledger_behind"  # the ledger disagrees with the chain about a quote


SEVERITY: Mapping[FindingKind, str] = {
    FindingKind.MISSING_ON_BROKER: "critical",
    FindingKind.MISSING_ON_CHAIN: "critical",
    FindingKind.SIZE_MISMATCH: "critical",
    FindingKind.ORPHAN_BROKER_ORDER: "warning",
    FindingKind.UNKNOWN_BROKER_ORDER: "warning",
    FindingKind.LEDGER_BEHIND: "warning",
}


# ------------------------------------------------------------------ inputs


@dataclass(frozen=True, slots=True)
class ChainPosition:
    """One quote open on chain against our PartyB (OPENED, CLOSE_PENDING, CANCEL_CLOSE_PENDING)."""

    quote_id: int
    symbol: str  # the same key the broker side uses (the broker market)
    side: PositionType  # the trader's side
    open_amount: Decimal  # quantity - closedAmount

    @property
    def signed(self) -> Decimal:
        """What the hedge holds on the broker for it: a trader LONG is hedged by buying."""
        return self.open_amount if self.side == PositionType.LONG else -self.open_amount


@dataclass(frozen=True, slots=True)
class BrokerOpenOrder:
    client_order_id: str
    symbol: str
    side: str
    amount: Decimal
    filled: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class LedgerPosition:
    """What the ledger's `positions` row says of a quote."""

    quote_id: int
    symbol: str
    open_amount: Decimal
    hedge_status: str


@dataclass(frozen=True, slots=True)
class InFlight:
    """What live workflows report they are doing: quotes being locked, hedged, opened or closed."""

    quote_ids: frozenset[int] = frozenset()
    symbols: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Snapshot:
    chain: Sequence[ChainPosition]
    broker_positions: Mapping[str, Decimal]  # symbol -> signed net amount
    broker_orders: Sequence[BrokerOpenOrder]
    ledger: Sequence[LedgerPosition]
    in_flight: InFlight = InFlight()


# ------------------------------------------------------------------ findings


@dataclass(frozen=True)
class Finding:
    """One difference, with a key that stays the same while the difference lasts. Plain JSON
    types only (amounts as strings): it travels as a Temporal payload and into the ledger."""

    kind: str
    key: str
    severity: str
    message: str
    symbol: str | None = None
    quote_ids: list[int] = field(default_factory=list)
    detail: dict[str, str] = field(default_factory=dict)


def _finding(
    kind: FindingKind,
    key: str,
    message: str,
    *,
    symbol: str | None = None,
    quote_ids: Iterable[int] = (),
    detail: Mapping[str, str] | None = None,
) -> Finding:
    return Finding(
        kind=kind.value, key=f"{kind.value}:{key}", severity=SEVERITY[kind], message=message,
        symbol=symbol, quote_ids=sorted(set(quote_ids)), detail=dict(detail or {}),
    )  # fmt: skip


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def reconcile(snapshot: Snapshot, tolerance: Mapping[str, Decimal] | None = None) -> list[Finding]:
    """Every difference between the chain, the broker and the ledger in `snapshot`, sorted by key.

    `tolerance`: per symbol, the absolute net difference that is not a finding (e.g. half the
    broker's step size); default 0.
    """
    tolerance = tolerance or {}
    flight = snapshot.in_flight
    findings = [
        *_positions(snapshot, flight, tolerance),
        *_orders(snapshot, flight),
        *_ledger(snapshot, flight),
    ]
    return sorted(findings, key=lambda f: f.key)


def _positions(
    snapshot: Snapshot, flight: InFlight, tolerance: Mapping[str, Decimal]
) -> list[Finding]:
    expected: dict[str, Decimal] = {}
    quotes: dict[str, list[int]] = {}
    for pos in snapshot.chain:
        expected[pos.symbol] = expected.get(pos.symbol, ZERO) + pos.signed
        quotes.setdefault(pos.symbol, []).append(pos.quote_id)
    out = []
    for symbol in sorted({*expected, *snapshot.broker_positions}):
        if symbol in flight.symbols:
            continue  # a hedge or a close is moving this symbol's net right now
        chain = expected.get(symbol, ZERO)
        broker = snapshot.broker_positions.get(symbol, ZERO)
        diff = broker - chain
        if abs(diff) <= tolerance.get(symbol, ZERO):
            continue
        detail = {"chain_net": _fmt(chain), "broker_net": _fmt(broker), "difference": _fmt(diff)}
        ids = quotes.get(symbol, [])
        if broker == 0:
            kind, text = FindingKind.MISSING_ON_BROKER, "open on chain, no broker position"
        elif chain == 0:
            kind, text = FindingKind.MISSING_ON_CHAIN, "broker position, nothing open on chain"
        else:
            side = "side" if (broker > 0) != (chain > 0) else "size"
            kind, text = FindingKind.SIZE_MISMATCH, f"broker {side} differs from the chain"
            detail["differs"] = side
        message = f"{symbol}: {text} (chain {detail['chain_net']}, broker {detail['broker_net']})"
        out.append(_finding(kind, symbol, message, symbol=symbol, quote_ids=ids, detail=detail))
    return out


def _orders(snapshot: Snapshot, flight: InFlight) -> list[Finding]:
    out = []
    for order in snapshot.broker_orders:
        detail = {
            "client_order_id": order.client_order_id, "side": order.side,
            "amount": _fmt(order.amount), "filled": _fmt(order.filled),
        }  # fmt: skip
        parsed = parse_client_order_id(order.client_order_id)
        if parsed is None:
            message = (
                f"{order.symbol}: open order {order.client_order_id!r} not placed by the hedger"
            )
            out.append(_finding(FindingKind.UNKNOWN_BROKER_ORDER, order.client_order_id, message,
                                symbol=order.symbol, detail=detail))  # fmt: skip
        elif parsed.quote_id not in flight.quote_ids:
            message = (
                f"{order.symbol}: open order {order.client_order_id} of quote {parsed.quote_id}, "
                "which no workflow is working"
            )
            out.append(_finding(FindingKind.ORPHAN_BROKER_ORDER, order.client_order_id, message,
                                symbol=order.symbol, quote_ids=[parsed.quote_id], detail=detail))  # fmt: skip
    return out


def _ledger(snapshot: Snapshot, flight: InFlight) -> list[Finding]:
    chain = {p.quote_id: p for p in snapshot.chain}
    ledger = {p.quote_id: p for p in snapshot.ledger}
    out = []
    for quote_id in sorted({*chain, *ledger}):
        if quote_id in flight.quote_ids:
            continue
        on_chain = chain[quote_id].open_amount if quote_id in chain else ZERO
        row = ledger.get(quote_id)
        recorded = row.open_amount if row is not None else None
        if recorded == on_chain or (recorded is None and on_chain == 0):
            continue
        symbol = chain[quote_id].symbol if quote_id in chain else (row.symbol if row else None)
        detail = {"chain_open": _fmt(on_chain)}
        if row is None:
            text = "no ledger position"
        else:
            detail.update(ledger_open=_fmt(row.open_amount), ledger_status=row.hedge_status)
            text = f"ledger shows {detail['ledger_open']} open ({row.hedge_status})"
        message = f"quote {quote_id}: chain has {detail['chain_open']} open, {text}"
        out.append(_finding(FindingKind.LEDGER_BEHIND, str(quote_id), message, symbol=symbol,
                            quote_ids=[quote_id], detail=detail))  # fmt: skip
    return out


# ------------------------------------------------------------------ across runs


@dataclass(frozen=True)
class TrackedFinding:
    """A finding as the validator remembers it between runs (times in epoch seconds)."""

    finding: Finding
    first_seen: float
    last_seen: float
    seen_runs: int = 1
    alerted: bool = False


@dataclass(frozen=True)
class Tracking:
    open: list[TrackedFinding]  # every finding of this run, with its history
    resolved: list[TrackedFinding]  # open before, gone now
    to_alert: list[TrackedFinding]  # open findings that reached `persist_runs` and were not alerted


def track(
    previous: Iterable[TrackedFinding],
    findings: Iterable[Finding],
    now: float,
    persist_runs: int = 2,
) -> Tracking:
    """Carry `findings` of this run over what the previous runs left open (by key)."""
    before = {t.finding.key: t for t in previous}
    current: list[TrackedFinding] = []
    to_alert: list[TrackedFinding] = []
    seen: set[str] = set()
    for finding in findings:
        if finding.key in seen:
            continue
        seen.add(finding.key)
        old = before.get(finding.key)
        tracked = (
            TrackedFinding(finding, first_seen=now, last_seen=now)
            if old is None
            else replace(old, finding=finding, last_seen=now, seen_runs=old.seen_runs + 1)
        )
        if not tracked.alerted and tracked.seen_runs >= persist_runs:
            tracked = replace(tracked, alerted=True)
            to_alert.append(tracked)
        current.append(tracked)
    resolved = [t for key, t in sorted(before.items()) if key not in seen]
    return Tracking(open=current, resolved=resolved, to_alert=to_alert)


def alert_key(tracked: TrackedFinding, resolved: bool = False) -> str:
    """Dedupe key of a finding's alert: one per occurrence (a finding that clears and comes back
    alerts again), and one for its resolve message."""
    base = f"validator:{tracked.finding.key}:{int(tracked.first_seen)}"
    return f"{base}:resolved" if resolved else base


def counts_by_kind(open_findings: Iterable[TrackedFinding]) -> dict[str, int]:
    """Open findings per kind, every kind present (0 when none): what the gauge shows."""
    counts = {kind.value: 0 for kind in FindingKind}
    for tracked in open_findings:
        counts[tracked.finding.kind] = counts.get(tracked.finding.kind, 0) + 1
    return counts
