"""Close settlement: what PartyB's allocation for a PartyA must hold for `fillCloseRequest` to pass.

protocol-core 0.8.4 refuses a close fill, before anything moves, when PartyB cannot pay PartyA's
realised profit (SYMMIO.md §2.2 `fillCloseRequest`, §2.5; `tests/contract/test_close_settlement.py`
shows both reverts on our devnet contract):

1. solvency after the close (`LibSolvency.isSolventAfterClosePosition`): PartyB's
   liquidation-available balance `allocated − (locked.cva + locked.lf) + upnlPartyB`, plus the
   cva + lf the fill releases, minus the gap PartyA gains between the fill price and the signed
   market price, must stay ≥ 0 — "LibSolvency: Available balance is lower than zero";
2. realising the PnL (`LibQuote.closeQuote`): when PartyA is in profit, PartyB's allocation for
   that PartyA must hold the profit — "LibQuote: PartyA should first exit its positions that are
   incurring losses" (an offsetting position keeps (1) true and still fails here).

PartyB fixes both with `allocateForPartyB(amount, partyA)` from its free deposited balance: the
top-up is the larger shortfall plus a margin, zero when the allocation already covers both.
When PartyB's free balance cannot pay a top-up, `settleUpnl` of PartyA's *losing* positions with
the same PartyB realises their losses into PartyB's allocation for that PartyA
(`quotes_to_settle`); it fixes only check 2, as settling leaves the available balance of check 1
unchanged. (A losing PartyA whose allocation cannot pay is the mirror case; only PartyA's side
can fix that, or `settleUpnl` of its profitable positions — not a top-up.)

The arithmetic mirrors the contract's on 18-decimal integers (every division rounds down), so
a shortfall of zero means the fill passes with exactly these inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.enums import PositionType
from domain.fixed import exact, from_wei18, to_wei18
from domain.quote import LockedValues

ZERO = Decimal(0)
WAD: int = 10**18


@dataclass(frozen=True, slots=True)
class CloseSettlementFacts:
    """One close fill and PartyB's margin against that PartyA, as the chain and Muon show them.

    `open_quantity`: quantity − closedAmount of the quote before the fill.
    `quote_locked`: the quote's own lockedValues (its cva + lf are released pro rata).
    `party_b_allocated` / `party_b_locked`: `balanceInfoOfPartyB(partyB, partyA)`.
    `upnl_party_b` / `market_price`: from the fill's own `PairUpnlAndPriceSig` (PartyB's uPnL
    over every position with this PartyA, at the signed price).
    """

    position_type: PositionType
    opened_price: Decimal
    open_quantity: Decimal
    quote_locked: LockedValues
    filled_amount: Decimal
    closed_price: Decimal
    market_price: Decimal
    party_b_allocated: Decimal
    party_b_locked: LockedValues
    upnl_party_b: Decimal


@dataclass(frozen=True, slots=True)
class CloseSettlement:
    """What the fill does to PartyB's margin; all amounts before any top-up.

    `party_a_pnl`: PartyA's realised PnL (profit > 0: PartyB pays it from its allocation).
    `available_after`: PartyB's liquidation-available balance after the close (check 1).
    `shortfall`: how much the allocation lacks for the fill to pass (0 when it passes).
    """

    party_a_pnl: Decimal
    available_after: Decimal
    shortfall: Decimal

    def top_up(self, margin: Decimal) -> Decimal:
        """The allocation to add before the fill: shortfall + `margin`, or 0 if none is needed."""
        if margin < 0:
            raise ValueError(f"margin must be >= 0, not {margin}")
        return self.shortfall + margin if self.shortfall > 0 else ZERO


def _pnl_wei(position_type: PositionType, opened: int, price: int, amount: int) -> int:
    """PartyA's signed result of closing `amount` at `price` (`LibQuote.getValueOfQuoteForPartyA`)."""
    is_long = position_type == PositionType.LONG
    if price > opened:
        value = (price - opened) * amount // WAD
        return value if is_long else -value
    value = (opened - price) * amount // WAD
    return -value if is_long else value


@exact
def realised_pnl_for_party_a(
    position_type: PositionType, opened_price: Decimal, closed_price: Decimal, amount: Decimal
) -> Decimal:
    """PartyA's realised PnL for closing `amount` at `closed_price` (profit > 0), rounded like
    the contract (toward zero)."""
    return from_wei18(
        _pnl_wei(position_type, to_wei18(opened_price), to_wei18(closed_price), to_wei18(amount))
    )


@exact
def close_settlement(facts: CloseSettlementFacts) -> CloseSettlement:
    """PartyB's side of a close fill: PartyA's PnL, PartyB's balance after it, and the shortfall."""
    f = facts
    filled, open_qty = to_wei18(f.filled_amount), to_wei18(f.open_quantity)
    if not 0 < filled <= open_qty:
        raise ValueError(f"filled amount {f.filled_amount} outside (0, {f.open_quantity}]")
    closed, market = to_wei18(f.closed_price), to_wei18(f.market_price)
    allocated = to_wei18(f.party_b_allocated)
    locked = f.party_b_locked
    pnl = _pnl_wei(f.position_type, to_wei18(f.opened_price), closed, filled)
    # 1. LibSolvency.isSolventAfterClosePosition, PartyB's side
    available = (
        allocated
        - to_wei18(locked.cva)
        - to_wei18(locked.lf)
        + to_wei18(f.upnl_party_b, signed=True)
    )
    available += filled * (to_wei18(f.quote_locked.cva) + to_wei18(f.quote_locked.lf)) // open_qty
    above = closed >= market
    gap = filled * (closed - market if above else market - closed) // WAD
    a_gains = above if f.position_type == PositionType.LONG else not above
    available += -gap if a_gains else gap
    # 2. LibQuote.closeQuote: PartyB's allocation pays PartyA's profit
    short_for_profit = pnl - allocated if pnl > 0 else 0
    shortfall = max(0, -available, short_for_profit)
    return CloseSettlement(from_wei18(pnl), from_wei18(available), from_wei18(shortfall))


def close_top_up(facts: CloseSettlementFacts, margin: Decimal) -> Decimal:
    """`allocateForPartyB` amount that lets this close fill pass (shortfall + margin; 0 when the
    allocation already covers it)."""
    return close_settlement(facts).top_up(margin)


@dataclass(frozen=True, slots=True)
class SettleCandidate:
    """One other open quote of the pair, at the price Muon signs for settling it."""

    quote_id: int
    position_type: PositionType
    opened_price: Decimal
    open_quantity: Decimal
    current_price: Decimal


def needed_from_settlement(settlement: CloseSettlement, allocated: Decimal) -> Decimal | None:
    """What `settleUpnl` must move into PartyB's allocation for the fill to pass, or None when
    settling cannot help: it realises uPnL into the allocation, leaving PartyB's available
    balance (check 1) unchanged, so it fixes only the realised-profit check (2)."""
    if settlement.available_after < 0:
        return None
    return max(ZERO, settlement.party_a_pnl - allocated)


@exact
def quotes_to_settle(candidates: list[SettleCandidate], needed: Decimal) -> list[int] | None:
    """The quotes whose settlement (fully, at `current_price`) moves at least `needed` of
    PartyA's losses into PartyB's allocation for it: the largest losses first, as few as that
    takes; [] when nothing is needed; None when PartyA's losing quotes together fall short."""
    if needed <= 0:
        return []
    losses = sorted(
        (
            (
                -realised_pnl_for_party_a(
                    c.position_type, c.opened_price, c.current_price, c.open_quantity
                ),
                c.quote_id,
            )  # fmt: skip
            for c in candidates
        ),
        key=lambda t: (-t[0], t[1]),
    )
    chosen: list[int] = []
    covered = ZERO
    for loss, quote_id in losses:
        if loss <= 0:
            break
        chosen.append(quote_id)
        covered += loss
        if covered >= needed:
            return sorted(chosen)
    return None
