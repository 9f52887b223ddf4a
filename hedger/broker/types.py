"""Plain data passed between the broker adapter, activities, the order monitor and workflows.

Decimals travel as strings so that every Temporal payload converter carries them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
