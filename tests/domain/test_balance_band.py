"""The balance manager's margin band: a breach is one finding per asset, alerted on its first
run and resolved on the first run back inside the band."""

from __future__ import annotations

from decimal import Decimal

from domain.balance import MARGIN_LOW, margin_findings
from domain.reconcile import alert_key, track

D = Decimal


def test_free_collateral_below_the_band_is_one_finding() -> None:
    assert margin_findings("USDT", D(5000), D(100), D(5100), D(1000)) == []
    assert margin_findings("USDT", D(5), D(100), D(105), D(0)) == []  # band off
    (finding,) = margin_findings("USDT", D("999.5"), D(4000), D("4999.5"), D(1000))
    assert finding.kind == MARGIN_LOW and finding.key == "broker_margin_low:USDT"
    assert finding.severity == "critical" and finding.detail["free"] == "999.5"
    assert "below the band 1000" in finding.message


def test_a_breach_alerts_at_once_and_resolves_when_refilled() -> None:
    low = margin_findings("USDT", D(10), D(0), D(10), D(1000))
    first = track([], low, now=50.0, persist_runs=1)
    assert [t.finding.key for t in first.to_alert] == ["broker_margin_low:USDT"]
    still = track(first.open, low, now=110.0, persist_runs=1)
    assert still.to_alert == []
    refilled = track(still.open, margin_findings("USDT", D(9000), D(0), D(9000), D(1000)), 170.0, 1)
    (resolved,) = refilled.resolved
    assert (
        resolved.alerted
        and alert_key(resolved, resolved=True) == "validator:broker_margin_low:USDT:50:resolved"
    )
