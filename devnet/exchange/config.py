"""Configuration of the local Binance-USD-M-compatible exchange simulator.

The default API key and secret below are **public test credentials**: they only open the local
simulator (bound to 127.0.0.1) and are deliberately published so that the local stack, the tests
and a person with `curl` can all sign requests. Never use them anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

DEFAULT_API_KEY = "devnet-api-key"  # same as config.settings.Settings.broker_api_key default
DEFAULT_API_SECRET = "devnet-api-secret"  # same as Settings.broker_api_secret default
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8547  # same as Settings.broker_rest_url / broker_ws_url defaults


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One USD-M perpetual market as the simulator lists it in `exchangeInfo`."""

    symbol: str  # exchange id, e.g. "BTCUSDT"
    base: str
    quote: str = "USDT"
    initial_price: Decimal = Decimal("50000")
    tick_size: Decimal = Decimal("0.10")
    step_size: Decimal = Decimal("0.001")
    min_qty: Decimal = Decimal("0.001")
    max_qty: Decimal = Decimal("1000")
    min_notional: Decimal = Decimal("5")
    volatility: Decimal = Decimal("0.0005")  # std-dev of one random-walk step, relative
    csv_path: Path | None = None  # replay these prices (one per line, or a "price" column)
    max_leverage: int = 125


DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec(
        "BTCUSDT",
        "BTC",
        initial_price=Decimal("50000"),
        tick_size=Decimal("0.10"),
        step_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        min_notional=Decimal("100"),
    ),
    SymbolSpec(
        "ETHUSDT",
        "ETH",
        initial_price=Decimal("3000"),
        tick_size=Decimal("0.01"),
        step_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        min_notional=Decimal("20"),
    ),
    SymbolSpec(
        "SOLUSDT",
        "SOL",
        initial_price=Decimal("150"),
        tick_size=Decimal("0.0100"),
        step_size=Decimal("1"),
        min_qty=Decimal("1"),
        min_notional=Decimal("5"),
    ),
    SymbolSpec(
        "XRPUSDT",
        "XRP",
        initial_price=Decimal("0.6"),
        tick_size=Decimal("0.0001"),
        step_size=Decimal("0.1"),
        min_qty=Decimal("0.1"),
        min_notional=Decimal("5"),
    ),
)


@dataclass(slots=True)
class ExchangeConfig:
    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    seed: int = 1
    symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS
    initial_balance: Decimal = Decimal("100000")  # USDT wallet balance
    default_leverage: int = 20
    tick_interval: float = 0.25  # seconds between price-path steps; 0 freezes prices
    spread: Decimal = Decimal("0.0002")  # relative, full bid/ask spread
    impact: Decimal = Decimal(
        "0.000000001"
    )  # relative slippage per 1 USDT of MARKET notional (1M -> 0.1%)
    book_levels: int = 20
    level_notional: Decimal = Decimal("200000")  # notional offered at each book level
    # A LIMIT order larger than this notional fills in chunks of this notional, one per tick.
    partial_fill_notional: Decimal = Decimal("500000")
    taker_fee: Decimal = Decimal("0.0004")
    maker_fee: Decimal = Decimal("0.0002")
    max_recv_window: int = 60000
    duplicate_client_id_code: int = -4116  # Binance USD-M: "ClientOrderId is duplicated."
    # Binance USD-M refuses a client order id only while an order under it is open; True refuses
    # every id ever seen (stricter than Binance: it hides a hedger that would place twice).
    client_ids_unique_forever: bool = False
    funding_interval: float = 8 * 3600.0  # seconds between funding events (Binance: 8 h)
    funding_rate: Decimal = Decimal("0.0001")  # every symbol's rate until an admin sets one
    extra: dict[str, str] = field(default_factory=dict)
