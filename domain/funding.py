"""Funding charged back on chain (`chargeFundingRate`, SYMMIO.md §2.5): pure rules, no I/O.

The chain's sign convention is per quote, not the market's: a positive rate makes **PartyA
pay, whatever its side** (protocol-core's `FundingRateFacetImpl`: a LONG quote's openedPrice
rises, a SHORT's falls, and PartyA's available balance drops by openAmount x priceDiff either
way). The market's convention is a positive rate making longs pay and shorts receive. The hedger
holds the trader's side on the broker (a trader LONG is hedged by a broker long), so passing on
what the broker charged is `+rate` for a LONG quote and `−rate` for a SHORT one
(`chain_rate`); a `spread` keeps a margin on both sides. Each rate is capped at the quote's
`maxFundingRate`; a charge is accepted only inside the window around an epoch boundary, once per
boundary per quote (`lastFundingPaymentTimestamp`).

The broker quotes its rate per its own funding interval (Binance: 8 h, 4 h or 1 h for some
symbols, `fundingInfo`); the chain charges once per `fundingRateEpochDuration`.
`rate_per_epoch` scales one to the other (`interval_seconds` reads ccxt's "4h").

Used by `workflows.funding.FundingWorkflow` and the chain activity `chain_charge_funding_rate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any

from domain.enums import PositionType
from domain.fixed import exact

WEI_STEP = Decimal("1e-18")  # the chain's rates are 18-decimal fixed point


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
def rate_per_epoch(broker_rate: Decimal, broker_interval: int, epoch_duration: int) -> Decimal:
    """The broker's `broker_rate` (paid every `broker_interval` seconds) as the rate for one chain
    epoch of `epoch_duration` seconds: what the broker charges over that epoch, as a simple sum
    (funding is paid on the notional, not compounded). An 8-h rate on an 8-h epoch is unchanged,
    a 4-h or 1-h one counts 2 or 8 times, an 8-h rate on a 1-h epoch an eighth of it. Rounded
    toward zero to the chain's 18 decimals (never more than the broker charged)."""
    if broker_interval <= 0 or epoch_duration <= 0:
        raise ValueError("the broker's funding interval and the chain epoch must be > 0 seconds")
    if not broker_rate.is_finite():
        raise ValueError(f"a funding rate must be finite, not {broker_rate}")
    scaled = broker_rate * Decimal(epoch_duration) / Decimal(broker_interval)
    return scaled.quantize(WEI_STEP, rounding=ROUND_DOWN)


def interval_seconds(interval: str | int | None, default: int) -> int:
    """A broker funding interval as seconds: ccxt's "8h" / "4h" / "1h" (or "30m", "1d"), a number
    of seconds, or `default` when the broker does not say (Binance lists only adjusted symbols)."""
    if interval is None or interval == "":
        return default
    if isinstance(interval, int) and not isinstance(interval, bool):
        value = interval
    else:
        text = str(interval).strip().lower()
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        unit = units.get(text[-1:]) if text else None
        number = text[:-1] if unit is not None else text
        if not number.isdigit():
            raise ValueError(f"unreadable funding interval {interval!r}")
        value = int(number) * (unit or 1)
    if value <= 0:
        raise ValueError(f"a funding interval must be > 0, not {interval!r}")
    return value


def listed_interval(entry: Mapping[str, Any] | None, default: int) -> int:
    """One market's funding interval in seconds from ccxt's `fetchFundingIntervals` entry
    (`interval` "4h", or Binance's raw `fundingIntervalHours`); `default` when unlisted."""
    entry = entry or {}
    hours = (entry.get("info") or {}).get("fundingIntervalHours")
    raw = entry.get("interval") or (f"{hours}h" if hours is not None else None)
    return interval_seconds(raw, default)


def next_epoch_boundary(now: int, epoch_duration: int) -> int:
    """The first chain epoch boundary after `now` (seconds): when the next charge is due."""
    if epoch_duration <= 0:
        raise ValueError("epoch duration must be > 0")
    return (now // epoch_duration + 1) * epoch_duration


@exact
def chain_rate(
    position_type: PositionType, long_rate: Decimal, short_rate: Decimal, max_funding_rate: Decimal
) -> Decimal:
    """The signed rate to send for one quote in the chain's convention (positive: PartyA pays),
    capped at ±`max_funding_rate`: a LONG quote `long_rate`, a SHORT quote `−short_rate` (a
    positive market rate pays shorts, so a SHORT PartyA receives it)."""
    rate = long_rate if position_type == PositionType.LONG else -short_rate
    cap = abs(max_funding_rate)
    return max(-cap, min(cap, rate))


@exact
def quote_rate(
    position_type: PositionType, long_rate: Decimal, short_rate: Decimal, max_funding_rate: Decimal
) -> Decimal:
    """The signed rate to charge one quote, capped at ±`max_funding_rate`, in the market's
    convention: what `FundingWorkflow` sent before the `funding-party-a-pays` patch, which
    charged a SHORT PartyA a positive market rate instead of paying it (use `chain_rate`)."""
    rate = long_rate if position_type == PositionType.LONG else short_rate
    cap = abs(max_funding_rate)
    return max(-cap, min(cap, rate))
