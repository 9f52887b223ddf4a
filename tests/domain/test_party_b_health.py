"""PartyB's liquidation buffer and the balance manager's health finding (pure)."""

from __future__ import annotations

from decimal import Decimal as D

from domain.balance import HEALTH_LOW, health_findings, liquidation_buffer


def test_the_buffer_is_the_contracts_liquidation_balance() -> None:
    # allocated - (cva + lf) + upnl (SYMMIO.md §2.5): below zero PartyB is liquidatable
    assert liquidation_buffer(D("200"), D("12"), D("-50")) == D("138")
    assert liquidation_buffer(D("200"), D("12"), D("-250")) == D("-62")


def test_a_buffer_below_the_floor_is_one_critical_finding_per_party_a() -> None:
    (finding,) = health_findings("0xabc", D("40"), D("-150"), D("100"))
    assert finding.kind == HEALTH_LOW and finding.key == f"{HEALTH_LOW}:0xabc"
    assert finding.severity == "critical" and "close to liquidation" in finding.message
    (gone,) = health_findings("0xabc", D("-1"), D("-300"), D("100"))
    assert "liquidatable now" in gone.message


def test_no_finding_at_or_above_the_floor_or_when_off() -> None:
    assert health_findings("0xabc", D("100"), D("0"), D("100")) == []
    assert health_findings("0xabc", D("-5"), D("-300"), D("0")) == []
