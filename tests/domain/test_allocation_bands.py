"""The balance manager's allocation bands per PartyA (pure): below `low` allocate up to `target`
(bounded by the free balance), above `high` deallocate down to `target` (never below what
locked + pending + losses + margin need, and only after the deallocate cooldown), else nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.balance import (
    ALLOCATE,
    ALLOCATION_LOW,
    DEALLOCATE,
    NOTHING,
    AllocationBands,
    AllocationFacts,
    allocation_findings,
    available_for_quote,
    deallocatable,
    decide_allocation,
)
from domain.quote import LockedValues

D = Decimal
NONE = LockedValues(D(0), D(0), D(0), D(0))
BANDS = AllocationBands(low=D(400), target=D(1000), high=D(2000), margin=D(10))


def facts(allocated: str, locked: LockedValues = NONE, pending: LockedValues = NONE,
          upnl: str = "0", free: str = "100000", **kw: int) -> AllocationFacts:  # fmt: skip
    return AllocationFacts(D(allocated), locked, pending, D(upnl), D(free), **kw)


def test_headroom_is_the_contracts_available_for_quote() -> None:
    locked = LockedValues(cva=D(10), lf=D(5), party_a_mm=D(0), party_b_mm=D(20))
    pending = LockedValues(D(1), D(1), D(0), D(1))
    assert available_for_quote(D(100), locked, pending, D(7)) == D(100 + 7 - 35 - 3)
    # a loss counts for at least the locked partyBmm
    assert available_for_quote(D(100), locked, pending, D(-5)) == D(100 - 15 - 3 - 20)
    assert available_for_quote(D(100), locked, pending, D(-50)) == D(100 - 15 - 3 - 50)


def test_off_by_default_and_validated() -> None:
    assert not AllocationBands().enabled
    assert decide_allocation(facts("0"), AllocationBands()).action == NOTHING
    with pytest.raises(ValueError):
        AllocationBands(low=D(5), target=D(1), high=D(10))
    with pytest.raises(ValueError):
        AllocationBands(low=D(1), target=D(5), high=D(4))
    AllocationBands(low=D(1), target=D(5), high=D(0))  # never deallocate


def test_below_the_low_band_allocates_up_to_the_target() -> None:
    locked = LockedValues(D(100), D(50), D(0), D(50))
    decision = decide_allocation(facts("300", locked), BANDS)  # headroom 100
    assert (decision.action, decision.amount, decision.headroom) == (ALLOCATE, D(900), D(100))
    assert decision.short == 0
    assert decide_allocation(facts("400"), BANDS).action == NOTHING  # at the band: inside


def test_allocation_is_bounded_by_the_free_balance_and_reports_the_shortfall() -> None:
    decision = decide_allocation(facts("0", free="250"), BANDS)
    assert (decision.action, decision.amount, decision.short) == (ALLOCATE, D(250), D(150))
    (finding,) = allocation_findings("0xAbC", decision, BANDS)
    assert finding.kind == ALLOCATION_LOW and finding.key == "partyb_allocation_low:0xabc"
    assert finding.detail["short"] == "150"
    empty = decide_allocation(facts("0", free="0"), BANDS)
    assert (empty.action, empty.short) == (NOTHING, D(400))
    # enough free balance: inside after the action, no finding
    assert allocation_findings("0xabc", decide_allocation(facts("0"), BANDS), BANDS) == []


def test_above_the_high_band_deallocates_down_to_the_target() -> None:
    decision = decide_allocation(facts("5000"), BANDS)
    assert (decision.action, decision.amount) == (DEALLOCATE, D(4000))
    assert decide_allocation(facts("2000"), BANDS).action == NOTHING
    assert decide_allocation(facts("5000"), AllocationBands(D(1), D(2), D(0))).action == NOTHING


def test_a_deallocation_never_counts_profit_nor_goes_below_locked_pending_and_margin() -> None:
    locked = LockedValues(D(1000), D(500), D(0), D(500))  # 2000 for PartyB
    pending = LockedValues(D(100), D(50), D(0), D(50))  # 200
    # a profit of 5000 lifts the headroom, not what may be taken away
    f = facts("3000", locked, pending, upnl="5000")
    assert decide_allocation(f, BANDS).headroom == D(5800)
    assert deallocatable(f, D(10)) == D(3000 - 2200 - 10)
    decision = decide_allocation(f, BANDS)
    assert (decision.action, decision.amount) == (DEALLOCATE, D(790))
    after = facts(str(3000 - 790), locked, pending, upnl="0")
    assert available_for_quote(after.allocated, locked, pending, D(0)) == D(10)
    # a loss beyond partyBmm is kept too
    loss = facts("6000", locked, pending, upnl="-1000")
    assert deallocatable(loss, D(10)) == D(6000 - 1500 - 200 - 1000 - 10)
    # nothing left to take: nothing
    tight = decide_allocation(facts("2500", locked, pending, upnl="9000"), BANDS)
    assert tight.action == DEALLOCATE and tight.amount == D(290)
    assert decide_allocation(facts("2205", locked, pending, upnl="9000"), BANDS).action == NOTHING


def test_a_deallocation_waits_for_the_deallocate_cooldown() -> None:
    waiting = decide_allocation(
        facts("5000", now=1100, last_deallocate=1000, deallocate_cooldown=120), BANDS
    )
    assert waiting.action == NOTHING and "cooldown" in waiting.reason
    ready = facts("5000", now=1120, last_deallocate=1000, deallocate_cooldown=120)
    assert decide_allocation(ready, BANDS).action == DEALLOCATE
    never = facts("5000", now=5, last_deallocate=0, deallocate_cooldown=120)
    assert decide_allocation(never, BANDS).action == DEALLOCATE
    # allocating never waits
    assert (
        decide_allocation(
            facts("0", now=1001, last_deallocate=1000, deallocate_cooldown=120), BANDS
        ).action
        == ALLOCATE
    )


def test_one_decision_then_inside_the_band() -> None:
    """Applying a decision leaves the headroom inside the band: a second run does nothing."""
    for allocated in ("0", "100", "399", "2001", "5000", "100000"):
        first = decide_allocation(facts(allocated), BANDS)
        sign = 1 if first.action == ALLOCATE else -1
        after = D(allocated) + sign * first.amount
        assert decide_allocation(facts(str(after)), BANDS).action == NOTHING, allocated
