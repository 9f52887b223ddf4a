"""The validator's reconciliation names every difference between chain, broker and ledger, and
nothing a live workflow is working on."""

from __future__ import annotations

from decimal import Decimal

from domain.enums import PositionType
from domain.reconcile import (
    BrokerOpenOrder,
    ChainPosition,
    FindingKind,
    InFlight,
    LedgerPosition,
    Snapshot,
    alert_key,
    counts_by_kind,
    reconcile,
    track,
)

D = Decimal
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
LONG, SHORT = PositionType.LONG, PositionType.SHORT


def _ledger(*positions: ChainPosition) -> list[LedgerPosition]:
    return [LedgerPosition(p.quote_id, p.symbol, p.open_amount, "OPEN") for p in positions]


def _kinds(snapshot: Snapshot) -> list[tuple[str, str | None, list[int]]]:
    return [(f.kind, f.symbol, f.quote_ids) for f in reconcile(snapshot)]


def test_a_hedged_book_has_no_findings() -> None:
    chain = [ChainPosition(1, BTC, LONG, D("0.03")), ChainPosition(2, BTC, SHORT, D("0.01")),
             ChainPosition(3, ETH, SHORT, D("2"))]  # fmt: skip
    snapshot = Snapshot(chain, {BTC: D("0.02"), ETH: D("-2")}, [], _ledger(*chain))
    assert reconcile(snapshot) == []


def test_positions_are_compared_per_symbol_net() -> None:
    chain = [ChainPosition(1, BTC, LONG, D("0.03")), ChainPosition(2, BTC, SHORT, D("0.01")),
             ChainPosition(3, ETH, LONG, D("1"))]  # fmt: skip
    ledger = _ledger(*chain)
    # BTC: broker holds 0.01 instead of 0.02; ETH: nothing on the broker; SOL: nothing on chain
    snapshot = Snapshot(chain, {BTC: D("0.01"), "SOL/USDT:USDT": D("-5")}, [], ledger)
    assert _kinds(snapshot) == [
        (FindingKind.MISSING_ON_BROKER, ETH, [3]),
        (FindingKind.MISSING_ON_CHAIN, "SOL/USDT:USDT", []),
        (FindingKind.SIZE_MISMATCH, BTC, [1, 2]),
    ]
    btc = next(f for f in reconcile(snapshot) if f.symbol == BTC)
    assert btc.detail == {"chain_net": "0.02", "broker_net": "0.01", "difference": "-0.01",
                          "differs": "size"}  # fmt: skip
    assert btc.severity == "critical" and btc.key == f"size_mismatch:{BTC}"


def test_a_broker_position_on_the_wrong_side_is_a_side_mismatch() -> None:
    chain = [ChainPosition(1, BTC, LONG, D("0.02"))]
    (finding,) = reconcile(Snapshot(chain, {BTC: D("-0.02")}, [], _ledger(*chain)))
    assert finding.kind == FindingKind.SIZE_MISMATCH and finding.detail["differs"] == "side"


def test_tolerance_hides_a_difference_below_the_step() -> None:
    chain = [ChainPosition(1, BTC, LONG, D("0.0200001"))]
    snapshot = Snapshot(chain, {BTC: D("0.02")}, [], _ledger(*chain))
    assert reconcile(snapshot, {BTC: D("0.0005")}) == []
    assert [f.kind for f in reconcile(snapshot)] == [FindingKind.SIZE_MISMATCH]


def test_orders_ours_by_client_id_are_orphans_unless_in_flight_others_are_unknown() -> None:
    orders = [
        BrokerOpenOrder("h7o1", BTC, "buy", D("0.01")),  # quote 7: nobody works it
        BrokerOpenOrder("h8c3n1", BTC, "sell", D("0.01")),  # quote 8's close: in flight
        BrokerOpenOrder("manual-1", ETH, "buy", D("1")),
        BrokerOpenOrder("h9x", ETH, "buy", D("1")),  # looks like ours, is not our format
    ]
    snapshot = Snapshot([], {}, orders, [], InFlight(frozenset({8})))
    assert _kinds(snapshot) == [
        (FindingKind.ORPHAN_BROKER_ORDER, BTC, [7]),
        (FindingKind.UNKNOWN_BROKER_ORDER, ETH, []),
        (FindingKind.UNKNOWN_BROKER_ORDER, ETH, []),
    ]
    keys = [f.key for f in reconcile(snapshot)]
    assert keys == ["orphan_broker_order:h7o1", "unknown_broker_order:h9x",
                    "unknown_broker_order:manual-1"]  # fmt: skip


def test_the_ledger_behind_the_chain_either_way() -> None:
    chain = [ChainPosition(1, BTC, LONG, D("0.02")), ChainPosition(2, BTC, LONG, D("0.01")),
             ChainPosition(3, BTC, LONG, D("0.01"))]  # fmt: skip
    ledger = [
        LedgerPosition(1, BTC, D("0.02"), "OPEN"),  # agrees
        LedgerPosition(2, BTC, D("0.02"), "OPEN"),  # a partial close not recorded
        # quote 3: no row at all (opened by another path)
        LedgerPosition(4, BTC, D("0.05"), "OPEN"),  # closed on chain, still open in the ledger
        LedgerPosition(5, BTC, D("0"), "CLOSED"),  # closed on both: fine
    ]
    findings = reconcile(Snapshot(chain, {BTC: D("0.04")}, [], ledger))
    assert [(f.kind, f.quote_ids) for f in findings] == [
        (FindingKind.LEDGER_BEHIND, [2]),
        (FindingKind.LEDGER_BEHIND, [3]),
        (FindingKind.LEDGER_BEHIND, [4]),
    ]
    assert findings[1].detail == {"chain_open": "0.01"}
    assert findings[2].detail == {"chain_open": "0", "ledger_open": "0.05", "ledger_status": "OPEN"}


def test_what_is_in_flight_is_not_a_finding() -> None:
    # quote 2 is being hedged: its broker fill landed, the chain is not OPENED yet, the ledger
    # has no row; its order is still open.
    chain = [ChainPosition(1, BTC, LONG, D("0.02"))]
    snapshot = Snapshot(
        chain, {BTC: D("0.03")}, [BrokerOpenOrder("h2o1", BTC, "buy", D("0.01"), D("0.01"))],
        _ledger(*chain), InFlight(frozenset({2}), frozenset({BTC})),
    )  # fmt: skip
    assert reconcile(snapshot) == []
    # the same picture without the workflow's report is three findings
    bare = Snapshot(
        snapshot.chain, snapshot.broker_positions, snapshot.broker_orders, snapshot.ledger
    )
    assert {f.kind for f in reconcile(bare)} == {FindingKind.SIZE_MISMATCH,
                                                FindingKind.ORPHAN_BROKER_ORDER}  # fmt: skip


def test_a_finding_alerts_only_after_persisting_and_resolves_when_gone() -> None:
    chain = [ChainPosition(1, BTC, LONG, D("0.02"))]
    bad = reconcile(Snapshot(chain, {}, [], _ledger(*chain)))
    first = track([], bad, now=100.0)
    assert first.to_alert == [] and first.resolved == []
    (tracked,) = first.open
    assert tracked.seen_runs == 1 and tracked.first_seen == 100.0 and not tracked.alerted

    second = track(first.open, bad, now=160.0)
    (alerted,) = second.to_alert
    assert alerted.seen_runs == 2 and alerted.first_seen == 100.0 and alerted.last_seen == 160.0
    assert alerted.alerted and alert_key(alerted) == f"validator:missing_on_broker:{BTC}:100"

    third = track(second.open, bad, now=220.0)
    assert third.to_alert == [] and third.open[0].seen_runs == 3  # alerted once

    cleared = track(third.open, [], now=280.0)
    assert cleared.open == [] and [t.finding.key for t in cleared.resolved] == [bad[0].key]
    assert alert_key(cleared.resolved[0], resolved=True).endswith(":100:resolved")


def test_a_finding_that_clears_on_the_next_run_never_alerts() -> None:
    orders = [BrokerOpenOrder("h5o1", BTC, "buy", D("0.01"))]
    run1 = track([], reconcile(Snapshot([], {}, orders, [])), now=1.0)
    run2 = track(run1.open, reconcile(Snapshot([], {}, [], [])), now=2.0)
    assert run1.to_alert == run2.to_alert == [] and not run2.resolved[0].alerted


def test_counts_by_kind_lists_every_kind() -> None:
    orders = [BrokerOpenOrder("x1", BTC, "buy", D(1)), BrokerOpenOrder("x2", BTC, "buy", D(1))]
    counts = counts_by_kind(track([], reconcile(Snapshot([], {}, orders, [])), now=1.0).open)
    assert counts == {kind.value: (2 if kind == FindingKind.UNKNOWN_BROKER_ORDER else 0)
                      for kind in FindingKind}  # fmt: skip
