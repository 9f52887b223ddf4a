"""The balance manager's checks (pure): is the broker account's free collateral inside its band,
and what keeps PartyB's allocation per PartyA inside its bands (`decide_allocation`)?

A breach is a `domain.reconcile.Finding` of kind `broker_margin_low`, tracked across runs like
the validator's findings (`domain.reconcile.track`): it alerts on the first run that sees it and
sends a resolve message on the first run that no longer does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.quote import LockedValues
from domain.reconcile import Finding

MARGIN_LOW = "broker_margin_low"


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def margin_findings(
    asset: str, free: Decimal, used: Decimal, total: Decimal, min_free: Decimal
) -> list[Finding]:
    """One finding when the broker's free collateral is below `min_free` (0 disables)."""
    if min_free <= 0 or free >= min_free:
        return []
    detail = {
        "asset": asset, "free": _fmt(free), "used": _fmt(used), "total": _fmt(total),
        "min_free": _fmt(min_free),
    }  # fmt: skip
    message = (
        f"broker free collateral {detail['free']} {asset} is below the band "
        f"{detail['min_free']} (used {detail['used']}, total {detail['total']})"
    )
    return [Finding(MARGIN_LOW, f"{MARGIN_LOW}:{asset}", "critical", message, detail=detail)]


# ------------------------------------------------------------------ allocation bands
#
# PartyB's margin is isolated per PartyA (SYMMIO.md §2.5). What a lock needs is PartyB's
# available balance for quotes towards that PartyA, `partyBAvailableForQuote(upnl)`: the
# *headroom*. The bands keep that headroom between `low` and `high`: below `low`, allocate up to
# `target` (bounded by PartyB's free, deposited balance); above `high`, deallocate down to
# `target` — never below what the locked and pending values, the losses and `margin` need.

ALLOCATION_LOW = "partyb_allocation_low"
HEALTH_LOW = "partyb_health_low"
BALANCE_KINDS = frozenset({MARGIN_LOW, ALLOCATION_LOW, HEALTH_LOW})


def liquidation_buffer(allocated: Decimal, locked_cva_lf: Decimal, upnl: Decimal) -> Decimal:
    """`partyBAvailableBalanceForLiquidation` (SYMMIO.md §2.5): below zero, PartyB is
    liquidatable towards that PartyA."""
    return allocated - locked_cva_lf + upnl


def health_findings(
    party_a: str, buffer: Decimal, upnl: Decimal, min_buffer: Decimal
) -> list[Finding]:
    """A critical finding while PartyB's liquidation buffer towards `party_a` is below
    `min_buffer` (0 disables): the alert comes while there is still time to allocate."""
    if min_buffer <= 0 or buffer >= min_buffer:
        return []
    detail = {"party_a": party_a, "buffer": _fmt(buffer), "upnl": _fmt(upnl),
              "min_buffer": _fmt(min_buffer)}  # fmt: skip
    state = "liquidatable now" if buffer < 0 else "close to liquidation"
    message = (
        f"PartyB is {state} towards PartyA {party_a}: buffer {detail['buffer']} "
        f"(uPnL {detail['upnl']}) is below {detail['min_buffer']}"
    )
    return [Finding(HEALTH_LOW, f"{HEALTH_LOW}:{party_a}", "critical", message, detail=detail)]


ALLOCATE = "allocate"
DEALLOCATE = "deallocate"
NOTHING = "none"


@dataclass(frozen=True)
class AllocationBands:
    """Headroom bands per PartyA. `target` 0 switches the bands off; `high` 0: never deallocate.
    `margin`: what a deallocation leaves above locked + pending (+ losses)."""

    low: Decimal = Decimal(0)
    target: Decimal = Decimal(0)
    high: Decimal = Decimal(0)
    margin: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if min(self.low, self.target, self.high, self.margin) < 0:
            raise ValueError("allocation bands must be >= 0")
        if self.enabled and self.low > self.target:
            raise ValueError(f"allocation band low {self.low} > target {self.target}")
        if self.enabled and self.high and self.high < self.target:
            raise ValueError(f"allocation band high {self.high} < target {self.target}")

    @property
    def enabled(self) -> bool:
        return self.target > 0


@dataclass(frozen=True)
class AllocationFacts:
    """PartyB towards one PartyA, read at one moment (`balanceInfoOfPartyB`, the oracle's
    `SingleUpnlSig`, `balanceOf(partyB)`, the chain's time and deallocate cooldown)."""

    allocated: Decimal
    locked: LockedValues
    pending: LockedValues
    upnl: Decimal  # PartyB's uPnL against this PartyA
    free: Decimal  # PartyB's deposited, unallocated balance
    now: int = 0  # chain time
    last_deallocate: int = 0  # `withdrawCooldownOf(partyB)`: when PartyB last deallocated
    deallocate_cooldown: int = 0  # the protocol's `deallocateCooldown`


@dataclass(frozen=True)
class AllocationDecision:
    action: str  # ALLOCATE | DEALLOCATE | NOTHING
    amount: Decimal
    headroom: Decimal  # partyBAvailableForQuote(upnl) before the action
    reason: str
    short: Decimal = Decimal(0)  # still below `low` after the action (free balance ran out)


def available_for_quote(
    allocated: Decimal, locked: LockedValues, pending: LockedValues, upnl: Decimal
) -> Decimal:
    """`LibAccount.partyBAvailableForQuote(upnl)` (SYMMIO.md §2.5)."""
    if upnl >= 0:
        return allocated + upnl - (locked.total_for_party_b + pending.total_for_party_b)
    mm = max(-upnl, locked.party_b_mm)
    return allocated - (locked.cva + locked.lf + pending.total_for_party_b) - mm


def deallocatable(facts: AllocationFacts, margin: Decimal) -> Decimal:
    """The most a deallocation may take: the contract's `partyBAvailableForQuote(upnl) >=
    amount`, counting no profit (an unrealised profit can vanish) and keeping `margin`; never
    more than the allocation."""
    worst = available_for_quote(
        facts.allocated, facts.locked, facts.pending, min(facts.upnl, Decimal(0))
    )
    return max(Decimal(0), min(worst - margin, facts.allocated))


def decide_allocation(facts: AllocationFacts, bands: AllocationBands) -> AllocationDecision:
    """Allocate, deallocate or leave PartyB's allocation for one PartyA (pure)."""
    zero = Decimal(0)
    headroom = available_for_quote(facts.allocated, facts.locked, facts.pending, facts.upnl)
    if not bands.enabled:
        return AllocationDecision(NOTHING, zero, headroom, "bands off")
    if headroom < bands.low:
        wanted = bands.target - headroom
        amount = max(zero, min(wanted, facts.free))
        short = max(zero, bands.low - headroom - amount)
        if amount <= 0:
            return AllocationDecision(NOTHING, zero, headroom,
                                      f"headroom {_fmt(headroom)} below {_fmt(bands.low)}, "
                                      "no free balance", short)  # fmt: skip
        why = f"headroom {_fmt(headroom)} below {_fmt(bands.low)}: up to {_fmt(bands.target)}"
        if amount < wanted:
            why += f" (free balance {_fmt(facts.free)} short)"
        return AllocationDecision(ALLOCATE, amount, headroom, why, short)
    if bands.high and headroom > bands.high:
        ready = facts.last_deallocate + facts.deallocate_cooldown
        if facts.last_deallocate and facts.now < ready:
            return AllocationDecision(
                NOTHING, zero, headroom,
                f"surplus above {_fmt(bands.high)}, waiting for the deallocate cooldown "
                f"(until {ready}, now {facts.now})",
            )  # fmt: skip
        amount = min(headroom - bands.target, deallocatable(facts, bands.margin))
        if amount <= 0:
            return AllocationDecision(NOTHING, zero, headroom,
                                      f"surplus above {_fmt(bands.high)}, but locked + pending "
                                      "+ margin need it")  # fmt: skip
        return AllocationDecision(
            DEALLOCATE, amount, headroom,
            f"headroom {_fmt(headroom)} above {_fmt(bands.high)}: down to {_fmt(bands.target)}",
        )  # fmt: skip
    return AllocationDecision(NOTHING, zero, headroom, "inside the band")


def allocation_findings(
    party_a: str, decision: AllocationDecision, bands: AllocationBands
) -> list[Finding]:
    """One finding while PartyB's headroom towards `party_a` stays below `low` after what the
    manager could allocate (PartyB's free balance ran out)."""
    if not bands.enabled or decision.short <= 0:
        return []
    detail = {
        "party_a": party_a, "headroom": _fmt(decision.headroom), "low": _fmt(bands.low),
        "allocated_now": _fmt(decision.amount), "short": _fmt(decision.short),
    }  # fmt: skip
    message = (
        f"PartyB's headroom towards {party_a} is {detail['headroom']}, below the band "
        f"{detail['low']} by {detail['short']} after allocating {detail['allocated_now']}: "
        "PartyB's free balance is short (deposit more)"
    )
    key = f"{ALLOCATION_LOW}:{party_a.lower()}"
    return [Finding(ALLOCATION_LOW, key, "critical", message, detail=detail)]
