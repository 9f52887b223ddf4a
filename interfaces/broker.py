"""The broker activities' contract (task queue `hedger-broker`) and the plain data passed between
the broker adapter, activities, the order monitor and workflows.

`BrokerApi` declares every broker activity with its Temporal name and types; the implementation
(`activities.broker.BrokerActivities`) subclasses it. Decimals travel as strings so that every
Temporal payload converter carries them exactly. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import activity

FINAL_STATUSES = frozenset({"closed", "canceled", "expired", "rejected", "not_found"})


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    symbol: str  # SYMMIO name, broker id or unified symbol (resolved by SymbolMap)
    side: str  # "buy" | "sell"
    type: str  # "market" | "limit"
    amount: str  # Decimal as string, base units
    price: str | None = None  # limit price; for market orders only used for the min-notional check
    reduce_only: bool = False
    time_in_force: str | None = None  # limit orders: "GTC" (default), "IOC", "FOK", "GTX"


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    client_order_id: str
    exchange_order_id: str | None
    symbol: str
    status: str  # ccxt unified: open / closed / canceled / expired / rejected, or "not_found"
    side: str = ""
    type: str = ""
    amount: str = "0"
    filled: str = "0"
    remaining: str = "0"
    average_price: str | None = None
    price: str | None = None
    fee: str | None = None  # total fee in fee_currency, when known
    fee_currency: str | None = None
    reduce_only: bool = False
    timestamp: int | None = None  # ms, last update
    source: str = "rest"  # "rest" | "ws"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: str
    client_order_id: str
    exchange_order_id: str
    symbol: str
    side: str
    price: str
    amount: str
    fee: str
    fee_currency: str | None
    maker: bool
    timestamp: int | None


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    symbol: str
    amount: str  # signed, base units (positive long, negative short)
    entry_price: str | None
    mark_price: str | None
    unrealized_pnl: str | None
    leverage: str | None = None


@dataclass(frozen=True, slots=True)
class BalanceSnapshot:
    asset: str
    free: str
    used: str
    total: str


@dataclass(frozen=True, slots=True)
class FillPollResult:
    order: OrderSnapshot
    fills: list[Fill] = field(default_factory=list)
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class OrderRef:
    symbol: str
    client_order_id: str


@dataclass(frozen=True, slots=True)
class PollFillsInput:
    symbol: str
    client_order_id: str
    timeout_seconds: float = 60.0  # give up (timed_out=True) after this long, across retries
    interval_seconds: float = 0.5
    cancel_on_timeout: bool = False  # cancel the order when the wait times out


@dataclass(frozen=True, slots=True)
class PositionsInput:
    symbols: list[str] | None = None


@dataclass(frozen=True, slots=True)
class BalanceInput:
    asset: str = "USDT"


@dataclass(frozen=True, slots=True)
class MarkPriceInput:
    symbol: str


@dataclass(frozen=True)
class SymbolRef:
    name: str  # SYMMIO symbol name, e.g. "BTCUSDT"


@dataclass(frozen=True)
class MarketRulesView:
    symbol: str  # broker market, e.g. "BTC/USDT:USDT"
    step_size: str
    tick_size: str
    min_notional: str
    max_quantity: str | None


@dataclass(frozen=True)
class MarketSnapshot:
    """`market_rules` + `fetch_mark_price` in one round trip (`broker_market_snapshot`).
    `rules` and `mark_price` are None, and `unlisted` says why, when the broker does not list a
    market for the symbol."""

    rules: MarketRulesView | None
    mark_price: str | None
    unlisted: str | None = None


class BrokerApi:
    """Every broker activity: orders by client order id, fills, positions, balance, market data."""

    @activity.defn(name="broker_place_order")
    async def place_order(self, inp: OrderRequest) -> OrderSnapshot:
        raise NotImplementedError

    @activity.defn(name="broker_cancel_order")
    async def cancel_order(self, inp: OrderRef) -> OrderSnapshot:
        raise NotImplementedError

    @activity.defn(name="broker_fetch_order")
    async def fetch_order(self, inp: OrderRef) -> OrderSnapshot:
        raise NotImplementedError

    @activity.defn(name="broker_fetch_fills")
    async def fetch_fills(self, inp: OrderRef) -> list[Fill]:
        raise NotImplementedError

    @activity.defn(name="broker_poll_fills")
    async def poll_fills(self, inp: PollFillsInput) -> FillPollResult:
        raise NotImplementedError

    @activity.defn(name="broker_fetch_positions")
    async def fetch_positions(self, inp: PositionsInput) -> list[PositionSnapshot]:
        raise NotImplementedError

    @activity.defn(name="broker_fetch_balance")
    async def fetch_balance(self, inp: BalanceInput) -> BalanceSnapshot:
        raise NotImplementedError

    @activity.defn(name="broker_fetch_mark_price")
    async def fetch_mark_price(self, inp: MarkPriceInput) -> str:
        raise NotImplementedError

    @activity.defn(name="broker_market_snapshot")
    async def market_snapshot(self, ref: SymbolRef) -> MarketSnapshot:
        raise NotImplementedError

    @activity.defn(name="broker_market_rules")
    async def market_rules(self, ref: SymbolRef) -> MarketRulesView:
        raise NotImplementedError
