"""The open and close policies (DESIGN §4 step 1, §5) as pure functions.

`decide_open(quote, ctx)` answers "do we race to lock this quote?"; `decide_close(quote, ctx)`
answers "do we work this close request?". Both return `Accept…` or `Reject`; a `Reject` carries a
stable solver error code (`domain.errors`) and a human message, which the workflow records and
the front-end API reports. Checks run in a fixed order, cheapest and most fundamental first, and
the first failure wins, so the same inputs always give the same code.

Decisions the design left open:
* Notional for caps and leverage is `quantity × requestedOpenPrice` (what the contract uses for
  leverage; for a MARKET quote the requested price is the slippage-bounded price, i.e. the
  conservative side for a LONG).
* The quantity must be a multiple of the broker step for both order types: a MARKET quote must
  be reported whole, and a LIMIT remainder that the broker cannot trade would be stranded.
* A MARKET quote is rejected (4104) when the broker mark already violates the contract's price
  check; a LIMIT quote only needs its price inside the band around the mark.
* Hedger solvency: the allocation for this PartyA plus what we could still allocate
  (`allocatable_balance`) must cover `totalForPartyB`; `AcceptOpen.allocate_before_lock` says
  how much to `allocateForPartyB` first.
* Closes are never refused because of the trading state: they reduce risk (see
  `domain.trading_state`). They are refused (we simply do not work them) only when the chain
  would revert or the broker cannot trade the size.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.enums import OrderType, QuoteStatus, TradingState
from domain.errors import SolverErrorCode, message_for
from domain.fixed import exact, is_multiple_of_step
from domain.pricing import (
    BrokerSide,
    broker_side_for_close,
    broker_side_for_open,
    marketable_now,
    within_band,
)
from domain.quote import Quote
from domain.sizing import broker_quantity
from domain.trading_state import allows_new_opens

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class LockedParams:
    """The hedger's published `/get_locked_params` percentages for a symbol.

    The front-end computes `x = notional × pct_x / (100 × leverage)` for cva, lf, partyAmm and
    `partyBmm = notional × pct / 100`; so each of cva, lf must be at least its share
    `pct_x / (cva+lf+partyAmm)` of totalForPartyA, and partyBmm at most `notional × pct / 100`.
    """

    cva_pct: Decimal
    lf_pct: Decimal
    party_a_mm_pct: Decimal
    party_b_mm_pct: Decimal


@dataclass(frozen=True, slots=True)
class SymbolConfig:
    symbol_id: int
    name: str  # SYMMIO symbol name, e.g. "BTCUSDT"
    supported: bool
    broker_market: str | None  # ccxt market, e.g. "BTC/USDT:USDT"
    step_size: Decimal
    min_notional: Decimal
    max_leverage: Decimal
    notional_cap: Decimal
    notional_used: Decimal
    price_band_pct: Decimal
    tick_size: Decimal = Decimal("1e-8")
    accept_market: bool = True
    accept_limit: bool = True
    max_quantity: Decimal | None = None
    locked_params: LockedParams | None = None


@dataclass(frozen=True, slots=True)
class OpenContext:
    our_address: str
    symbol: SymbolConfig | None  # None: symbol unknown to the hedger
    open_interest_cap: Decimal
    open_interest_used: Decimal
    mark_price: Decimal | None  # broker mark; None when stale/unavailable
    now: int  # chain time (seconds)
    min_seconds_to_hedge: int
    available_allocation: Decimal  # partyBAvailableForQuote for this PartyA
    trading_state: TradingState
    allocatable_balance: Decimal = ZERO  # deposited, unallocated PartyB balance
    # Allocate this much more than the quote needs when topping up, so the price moving against
    # us between lock and open (the open's solvency check uses the signed uPnL) cannot make
    # openPosition revert with "PartyB will be liquidatable". 1 = allocate twice what is needed.
    allocation_headroom: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class AcceptOpen:
    broker_market: str
    broker_side: BrokerSide
    broker_quantity: Decimal
    notional: Decimal
    required_allocation: Decimal  # totalForPartyB
    allocate_before_lock: Decimal  # 0 when the current allocation suffices


@dataclass(frozen=True, slots=True)
class Reject:
    code: SolverErrorCode
    message: str

    @classmethod
    def of(cls, code: SolverErrorCode, detail: str) -> Reject:
        return cls(code, f"{message_for(code)} {detail}".strip())


@dataclass(frozen=True, slots=True)
class CloseContext:
    our_address: str
    symbol: SymbolConfig | None
    mark_price: Decimal | None
    now: int
    min_seconds_to_close: int
    trading_state: TradingState


@dataclass(frozen=True, slots=True)
class AcceptClose:
    broker_market: str
    broker_side: BrokerSide
    broker_quantity: Decimal
    reduce_only: bool = True


def order_type_acceptable(order_type: OrderType, symbol: SymbolConfig) -> bool:
    """Whether the hedger takes this order type for the symbol (MARKET vs LIMIT opens)."""
    return symbol.accept_market if order_type == OrderType.MARKET else symbol.accept_limit


@exact
def decide_open(quote: Quote, ctx: OpenContext) -> AcceptOpen | Reject:
    """The open policy (DESIGN §4 step 1). First failing check wins (order is part of the API)."""
    sym = ctx.symbol
    # 1. our own switches and the quote's shape
    if not allows_new_opens(ctx.trading_state):
        return Reject.of(SolverErrorCode.TRADING_NOT_ACTIVE, f"Trading state {ctx.trading_state}.")
    if quote.status != QuoteStatus.PENDING:
        return Reject.of(SolverErrorCode.INVALID_QUOTE_STATE, f"Quote is {quote.status.name}.")
    if not quote.party_b_may_lock(ctx.our_address):
        return Reject.of(SolverErrorCode.NOT_WHITELISTED, "")
    if sym is None or not sym.supported or sym.broker_market is None:
        return Reject.of(SolverErrorCode.SYMBOL_NOT_SUPPORTED, f"Symbol id {quote.symbol_id}.")
    if sym.symbol_id != quote.symbol_id:
        raise ValueError("context symbol does not match the quote")
    if not order_type_acceptable(quote.order_type, sym):
        return Reject.of(SolverErrorCode.ORDER_TYPE_NOT_ACCEPTED, f"{quote.order_type.name}.")
    # 2. time
    if quote.seconds_left(ctx.now) < ctx.min_seconds_to_hedge:
        return Reject.of(
            SolverErrorCode.DEADLINE_TOO_CLOSE,
            f"{quote.seconds_left(ctx.now)}s left, need {ctx.min_seconds_to_hedge}s.",
        )
    # 3. size
    notional = quote.notional_at_request
    if (
        quote.quantity <= 0
        or not is_multiple_of_step(quote.quantity, sym.step_size)
        or notional < sym.min_notional
        or (sym.max_quantity is not None and quote.quantity > sym.max_quantity)
    ):
        return Reject.of(
            SolverErrorCode.INVALID_QUANTITY,
            f"quantity {quote.quantity}, step {sym.step_size}, notional {notional}, "
            f"min notional {sym.min_notional}.",
        )
    # 4. locked values and leverage
    locked = quote.locked_values
    if locked.total_for_party_a <= 0:
        return Reject.of(SolverErrorCode.LOCKED_VALUES_OUT_OF_BOUNDS, "No locked values.")
    if quote.leverage > sym.max_leverage:
        return Reject.of(
            SolverErrorCode.LEVERAGE_TOO_HIGH, f"{quote.leverage:.4f}x > {sym.max_leverage}x."
        )
    if sym.locked_params is not None and not _locked_values_within(quote, sym.locked_params):
        return Reject.of(SolverErrorCode.LOCKED_VALUES_OUT_OF_BOUNDS, "")
    # 5. price
    if ctx.mark_price is None or ctx.mark_price <= 0:
        return Reject.of(SolverErrorCode.NO_MARK_PRICE, "")
    if not within_band(quote.requested_open_price, ctx.mark_price, sym.price_band_pct):
        return Reject.of(
            SolverErrorCode.MARKET_MOVEMENT,
            f"Price {quote.requested_open_price} outside ±{sym.price_band_pct}% of {ctx.mark_price}.",
        )
    if quote.order_type == OrderType.MARKET and not marketable_now(
        quote.position_type, quote.requested_open_price, ctx.mark_price, closing=False
    ):
        return Reject.of(
            SolverErrorCode.MARKET_MOVEMENT,
            f"Mark {ctx.mark_price} is past the requested {quote.requested_open_price}.",
        )
    # 6. capacity
    if sym.notional_used + notional > sym.notional_cap:
        return Reject.of(
            SolverErrorCode.OVER_MAX_CAPACITY,
            f"Symbol cap {sym.notional_cap}, used {sym.notional_used}, quote {notional}.",
        )
    if ctx.open_interest_used + notional > ctx.open_interest_cap:
        return Reject.of(
            SolverErrorCode.PARTY_B_SOLVENCY_OR_MAX_OPEN_INTEREST,
            f"Open interest cap {ctx.open_interest_cap}, used {ctx.open_interest_used}.",
        )
    # 7. hedger solvency for this PartyA
    needed = locked.total_for_party_b
    shortfall = max(ZERO, needed - ctx.available_allocation)
    wanted = max(ZERO, needed * (1 + ctx.allocation_headroom) - ctx.available_allocation)
    if shortfall > ctx.allocatable_balance:
        return Reject.of(
            SolverErrorCode.PARTY_B_SOLVENCY_QUOTE_LEFT,
            f"Need {needed}, available {ctx.available_allocation} "
            f"+ allocatable {ctx.allocatable_balance}.",
        )
    return AcceptOpen(
        broker_market=sym.broker_market,
        broker_side=broker_side_for_open(quote.position_type),
        broker_quantity=broker_quantity(quote.quantity, sym.step_size),
        notional=notional,
        required_allocation=needed,
        allocate_before_lock=min(wanted, ctx.allocatable_balance),
    )


@exact
def _locked_values_within(quote: Quote, p: LockedParams) -> bool:
    lv = quote.locked_values
    total_a = lv.total_for_party_a
    pct_sum = p.cva_pct + p.lf_pct + p.party_a_mm_pct
    if pct_sum <= 0:
        return True
    # cva / totalA >= cva_pct / pct_sum  ⇔  cva × pct_sum >= cva_pct × totalA (no division)
    if lv.cva * pct_sum < p.cva_pct * total_a:
        return False
    if lv.lf * pct_sum < p.lf_pct * total_a:
        return False
    return lv.party_b_mm * HUNDRED <= quote.notional_at_request * p.party_b_mm_pct


@exact
def decide_close(quote: Quote, ctx: CloseContext) -> AcceptClose | Reject:
    """Whether to work a close request (DESIGN §5). Allowed in every trading state."""
    sym = ctx.symbol
    if quote.status != QuoteStatus.CLOSE_PENDING:
        return Reject.of(SolverErrorCode.INVALID_QUOTE_STATE, f"Quote is {quote.status.name}.")
    if not quote.is_locked_by(ctx.our_address):
        return Reject.of(SolverErrorCode.INVALID_QUOTE_STATE, "Not our position.")
    open_qty = quote.quantity - quote.closed_amount
    if not 0 < quote.quantity_to_close <= open_qty:
        return Reject.of(
            SolverErrorCode.INVALID_QUANTITY,
            f"quantityToClose {quote.quantity_to_close}, open {open_qty}.",
        )
    if quote.seconds_left(ctx.now) < ctx.min_seconds_to_close:
        return Reject.of(
            SolverErrorCode.DEADLINE_TOO_CLOSE, f"{quote.seconds_left(ctx.now)}s left."
        )
    if sym is None or sym.broker_market is None:
        return Reject.of(SolverErrorCode.SYMBOL_NOT_SUPPORTED, f"Symbol id {quote.symbol_id}.")
    qty = broker_quantity(quote.quantity_to_close, sym.step_size)
    if qty <= 0 or (quote.order_type == OrderType.MARKET and qty != quote.quantity_to_close):
        return Reject.of(
            SolverErrorCode.INVALID_QUANTITY,
            f"quantityToClose {quote.quantity_to_close} vs step {sym.step_size}.",
        )
    if quote.order_type == OrderType.MARKET:
        if ctx.mark_price is None or ctx.mark_price <= 0:
            return Reject.of(SolverErrorCode.NO_MARK_PRICE, "")
        if not marketable_now(
            quote.position_type, quote.requested_close_price, ctx.mark_price, closing=True
        ):
            return Reject.of(
                SolverErrorCode.MARKET_MOVEMENT,
                f"Mark {ctx.mark_price} is past the requested {quote.requested_close_price}.",
            )
    return AcceptClose(
        broker_market=sym.broker_market,
        broker_side=broker_side_for_close(quote.position_type),
        broker_quantity=qty,
    )
