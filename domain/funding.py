"""Funding charged back on chain (`chargeFundingRate`, SYMMIO.md §2.5): pure rules, no I/O.

The chain's sign convention is the market's: a positive rate makes longs pay and shorts receive
(a LONG quote's openedPrice rises, a SHORT's falls). The hedger holds the trader's side on the
broker (a trader LONG is hedged by a broker long), so charging the broker's rate unchanged
passes on what the broker charged; a `spread` keeps a margin on both sides. Each rate is capped
at the quote's `maxFundingRate`; a charge is accepted only inside the window around an epoch
boundary, once per boundary per quote (`lastFundingPaymentTimestamp`).

Used by `workflows.funding.FundingWorkflow` and the chain activity `chain_charge_funding_rate`.
"""

from __future__ import annotations

from decimal import Decimal

from domain.enums import PositionType
from domain.fixed import exact


def funding_boundary(now: int, epoch_duration: int, window: int, last_paid: int = 0) -> int | None:
    """The epoch boundary a charge at `now` pays for — the latest one while within `window`
    after it, else the next one while within `window` before it — or None when `now` is outside
    every window or that boundary is already paid (the contract's rule)."""
    if epoch_duration <= 0 or window < 0:
        raise ValueError("epoch duration must be > 0 and window >= 0")
    latest = now // epoch_duration * epoch_duration
    if now <= latest + window:
        boundary = latest
    else:
        boundary = latest + epoch_duration
        if now < boundary - window:
            return None
    return boundary if boundary > last_paid else None


@exact
def side_rates(broker_rate: Decimal, spread: Decimal = Decimal(0)) -> tuple[Decimal, Decimal]:
    """(long rate, short rate) for one epoch from the broker's rate: a LONG quote pays
    `broker_rate + spread`, a SHORT quote receives `broker_rate − spread` (negative: pays)."""
    if spread < 0:
        raise ValueError("spread must be >= 0")
    return broker_rate + spread, broker_rate - spread


@exact
def quote_rate(
    position_type: PositionType, long_rate: Decimal, short_rate: Decimal, max_funding_rate: Decimal
) -> Decimal:
    """The signed rate to charge one quote, capped at ±`max_funding_rate`."""
    rate = long_rate if position_type == PositionType.LONG else short_rate
    cap = abs(max_funding_rate)
    return max(-cap, min(cap, rate))
