"""Side-aware prices: contract price checks, broker sides, broker limit prices, bands, uPnL.

Sides — the reasoning the whole hedger rests on
-----------------------------------------------
On chain, PartyB (us) is the counterparty of PartyA: when the trader opens LONG, the hedger is
SHORT the same quantity on chain. To be flat overall the hedger must hold the *opposite* of its
chain side on the broker, i.e. the **same side as the trader**:

    trader LONG  → hedger SHORT on chain → hedger BUYs  on the broker to open (LONG there)
    trader SHORT → hedger LONG  on chain → hedger SELLs on the broker to open (SHORT there)

Closing reverses the broker trade (reduce-only): closing a trader LONG → broker SELL; closing a
trader SHORT → broker BUY. Price moves then cancel out: if the price rises by Δ, a trader LONG
of size q gains qΔ on chain — paid by us — and our broker LONG gains the same qΔ.

Price checks (protocol-core 0.8.4, SYMMIO.md §2.2), always from the trader's point of view:
    openPosition:     LONG ⇒ openedPrice <= requestedOpenPrice;  SHORT ⇒ >=
    fillCloseRequest: LONG ⇒ closedPrice >= requestedClosePrice; SHORT ⇒ <=
Our broker trade is on the same side as the trader's trade at each step (open LONG = broker
BUY, close LONG = broker SELL), so the broker limit price is the trader's requested price,
rounded to the broker tick in the direction that keeps the check satisfied.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from domain.enums import PositionType
from domain.fixed import exact, round_down_to_step, round_up_to_step

ONE = Decimal(1)
HUNDRED = Decimal(100)


class BrokerSide(StrEnum):
    BUY = "buy"  # ccxt side strings
    SELL = "sell"

    @property
    def opposite(self) -> BrokerSide:
        return BrokerSide.SELL if self is BrokerSide.BUY else BrokerSide.BUY


def hedger_chain_side(trader_side: PositionType) -> PositionType:
    """PartyB's side on chain: the opposite of PartyA's."""
    return PositionType.SHORT if trader_side == PositionType.LONG else PositionType.LONG


def broker_side_for_open(trader_side: PositionType) -> BrokerSide:
    """Broker side to hedge the opening of a trader's position: the trader's own side."""
    return BrokerSide.BUY if trader_side == PositionType.LONG else BrokerSide.SELL


def broker_side_for_close(trader_side: PositionType) -> BrokerSide:
    """Broker side (reduce-only) when the trader's position closes: undoes the opening trade."""
    return broker_side_for_open(trader_side).opposite


def broker_position_sign(trader_side: PositionType) -> int:
    """Sign of the broker position that hedges a trader position: +1 long, -1 short."""
    return 1 if trader_side == PositionType.LONG else -1


# ----------------------------------------------------------------------------- contract checks


def open_price_ok(trader_side: PositionType, opened_price: Decimal, requested: Decimal) -> bool:
    """The contract's openPosition price check."""
    if trader_side == PositionType.LONG:
        return opened_price <= requested
    return opened_price >= requested


def close_price_ok(trader_side: PositionType, closed_price: Decimal, requested: Decimal) -> bool:
    """The contract's fillCloseRequest price check."""
    if trader_side == PositionType.LONG:
        return closed_price >= requested
    return closed_price <= requested


def better_open_price(trader_side: PositionType, a: Decimal, b: Decimal) -> Decimal:
    """Of two open prices, the one that is better for the trader (lower for LONG)."""
    return min(a, b) if trader_side == PositionType.LONG else max(a, b)


def clamp_open_price(trader_side: PositionType, price: Decimal, requested: Decimal) -> Decimal:
    """Bound `price` by the requested open price so `open_price_ok` holds."""
    return min(price, requested) if trader_side == PositionType.LONG else max(price, requested)


def clamp_close_price(trader_side: PositionType, price: Decimal, requested: Decimal) -> Decimal:
    """Bound `price` by the requested close price so `close_price_ok` holds."""
    return max(price, requested) if trader_side == PositionType.LONG else min(price, requested)


# ----------------------------------------------------------------------------- broker prices


def round_price_for_side(price: Decimal, side: BrokerSide, tick: Decimal) -> Decimal:
    """Round to the broker tick in the direction that is never worse for the trader's check:
    a BUY limit rounds down (we may pay at most the price), a SELL limit rounds up."""
    if side is BrokerSide.BUY:
        return round_down_to_step(price, tick)
    return round_up_to_step(price, tick)


def open_limit_price(
    trader_side: PositionType, requested_open_price: Decimal, tick: Decimal
) -> Decimal:
    """Broker limit price for hedging an open: the quote's price, or better, on the tick grid.
    A fill at this price (or better) always passes `open_price_ok`."""
    return round_price_for_side(requested_open_price, broker_side_for_open(trader_side), tick)


def close_limit_price(
    trader_side: PositionType, requested_close_price: Decimal, tick: Decimal
) -> Decimal:
    """Broker limit price for hedging a close; a fill at it passes `close_price_ok`."""
    return round_price_for_side(requested_close_price, broker_side_for_close(trader_side), tick)


@exact
def limit_close_reached(
    trader_side: PositionType, requested_close_price: Decimal, mark: Decimal, tick: Decimal
) -> bool:
    """Has the broker's mark reached a LIMIT close's price (the broker limit it is hedged at)?
    Then the protocol lets anyone force-close the request after its cooldowns."""
    limit = close_limit_price(trader_side, requested_close_price, tick)
    if broker_side_for_close(trader_side) is BrokerSide.SELL:
        return mark >= limit
    return mark <= limit


@exact
def slippage_price(side: BrokerSide, reference: Decimal, slippage: Decimal) -> Decimal:
    """Worst acceptable price for an aggressive order: BUY ref*(1+s), SELL ref*(1-s).
    `slippage` is a fraction (0.01 = 1%)."""
    if slippage < 0:
        raise ValueError("slippage must be >= 0")
    return reference * (ONE + slippage) if side is BrokerSide.BUY else reference * (ONE - slippage)


def protected_market_price(
    side: BrokerSide, mark: Decimal, slippage: Decimal, bound: Decimal, tick: Decimal
) -> Decimal:
    """Limit price for a MARKET hedge sent as an IOC limit order.

    The slippage price, rounded to the tick in the *aggressive* direction (a BUY up, a SELL
    down) so the order can fill — but never past the trader's bound (the requested price), so
    every fill passes the contract check: if the aggressive rounding crosses the bound, the
    bound itself rounded to the safe side is used.
    """
    worst = slippage_price(side, mark, slippage)
    if side is BrokerSide.BUY:
        candidate = round_up_to_step(worst, tick)
        return candidate if candidate <= bound else round_down_to_step(bound, tick)
    candidate = round_down_to_step(worst, tick)
    return candidate if candidate >= bound else round_up_to_step(bound, tick)


@exact
def price_band(reference: Decimal, band_pct: Decimal) -> tuple[Decimal, Decimal]:
    """(low, high) = reference × (1 ∓ band_pct/100). Serves `/price-range/{symbol}` too."""
    if band_pct < 0:
        raise ValueError("band_pct must be >= 0")
    f = band_pct / HUNDRED
    return reference * (ONE - f), reference * (ONE + f)


@exact
def within_band(price: Decimal, reference: Decimal, band_pct: Decimal) -> bool:
    low, high = price_band(reference, band_pct)
    return low <= price <= high


def marketable_now(
    trader_side: PositionType, requested: Decimal, mark: Decimal, *, closing: bool
) -> bool:
    """Could a market hedge at `mark` satisfy the contract check right now?"""
    if closing:
        return close_price_ok(trader_side, mark, requested)
    return open_price_ok(trader_side, mark, requested)


# ----------------------------------------------------------------------------- PnL


@exact
def upnl_party_a(
    trader_side: PositionType, quantity: Decimal, opened_price: Decimal, price: Decimal
) -> Decimal:
    """Trader's unrealised PnL of `quantity` opened at `opened_price`, valued at `price`."""
    diff = price - opened_price
    return quantity * diff if trader_side == PositionType.LONG else -quantity * diff


@exact
def upnl_party_b(
    trader_side: PositionType, quantity: Decimal, opened_price: Decimal, price: Decimal
) -> Decimal:
    """Hedger's chain-side unrealised PnL: the negative of the trader's."""
    return -upnl_party_a(trader_side, quantity, opened_price, price)
