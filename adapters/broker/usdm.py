"""Binance USD-M market data without ccxt: the listed markets' rules and a market's mark price.

The workflow worker reads the broker only for this (`broker_market_snapshot`, a local
activity). ccxt's async package imports every exchange it ships on first use, about 100 MB of
the worker's memory for two public GETs; this reader makes those two GETs itself
(`/fapi/v1/exchangeInfo` once, `/fapi/v1/premiumIndex?symbol=` per read) and builds the markets
as ccxt would, so the same `SymbolMap` resolves the same unified symbol ("BTC/USDT:USDT") and the
same `MarketRules`. Orders, fills and balances stay on the broker worker's ccxt client.

Failures are classified as the ccxt path classifies them: transport → retryable network error,
timeout → retryable, HTTP 418/429 → rate limited (with the exchange's Retry-After), 5xx →
unavailable, Binance's -1121 → unknown symbol, any other refusal → rejected.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp

from adapters.broker.client import BrokerConfig
from adapters.broker.errors import (
    BROKER_REJECTED,
    NETWORK,
    RATE_LIMITED,
    TIMEOUT,
    UNAVAILABLE,
    UNKNOWN_SYMBOL,
    BrokerError,
)
from adapters.broker.symbols import MarketRules, SymbolEntry, SymbolMap

EXCHANGE_ID = "binanceusdm"
PRODUCTION_URL = "https://fapi.binance.com/fapi/v1"
DEMO_URL = "https://demo-fapi.binance.com/fapi/v1"
TESTNET_URL = "https://testnet.binancefuture.com/fapi/v1"
DEFAULT_SPACING_MS = 50  # ccxt's Binance default: one request of weight 1 per 50 ms per client

# ccxt's currency-code substitutions for Binance (its own table and the base exchange's).
_COMMON_CODES = {"XBT": "BTC", "BCHSV": "BSV", "BCC": "BCC", "YOYO": "YOYOW"}
# Binance's delivery date for a perpetual listed without a contract type.
_PERPETUAL_DELIVERY = 4133404800000
_INVALID_SYMBOL = "-1121"
_TOO_MANY_REQUESTS = "-1003"


def base_url(config: BrokerConfig) -> str:
    """The `/fapi/v1` base for `config`, as the ccxt client would use it."""
    if config.rest_url is not None:
        return config.rest_url.rstrip("/") + "/fapi/v1"
    if config.demo:
        return DEMO_URL
    if config.sandbox:
        return TESTNET_URL
    return PRODUCTION_URL


def _code(asset: Any) -> str | None:
    if asset is None:
        return None
    upper = str(asset).upper()
    return _COMMON_CODES.get(upper, upper)


def _yymmdd(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%y%m%d")


def _precision(digits: Any) -> str | None:
    """Binance's decimal-places count as a step ("3" → "0.001")."""
    if digits is None or digits == "":
        return None
    return format(Decimal(1).scaleb(-int(digits)), "f")


def _filters(raw: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(f.get("filterType")): f for f in raw.get("filters") or [] if isinstance(f, Mapping)}


def parse_market(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """One `exchangeInfo` symbol as a ccxt-shaped market (the fields `SymbolMap` reads), or None
    where ccxt would not list it (no base or quote asset)."""
    market_id = raw.get("symbol")
    base, quote = _code(raw.get("baseAsset")), _code(raw.get("quoteAsset"))
    if market_id is None or base is None or quote is None:
        return None
    contract = "contractType" in raw
    settle = _code(raw.get("marginAsset"))
    delivery = raw.get("deliveryDate")
    expiry = int(delivery) if delivery is not None else None
    symbol = f"{base}/{quote}"
    swap = raw.get("contractType") == "PERPETUAL" or expiry == _PERPETUAL_DELIVERY
    if contract:
        if swap:
            symbol += f":{settle}"
        elif expiry is not None:
            symbol += f":{settle}-{_yymmdd(expiry)}"
    filters = _filters(raw)
    lot, price_filter = filters.get("LOT_SIZE", {}), filters.get("PRICE_FILTER", {})
    notional = filters.get("MIN_NOTIONAL", {})
    return {
        "id": str(market_id),
        "symbol": symbol,
        "quote": quote,
        "settle": settle,
        "contract": contract,
        "linear": (settle == quote) if contract else None,
        "precision": {
            "amount": lot.get("stepSize") or _precision(raw.get("quantityPrecision")),
            "price": price_filter.get("tickSize") or _precision(raw.get("pricePrecision")),
        },
        "limits": {
            "amount": {"min": lot.get("minQty"), "max": lot.get("maxQty")},
            "cost": {"min": notional.get("notional") or notional.get("minNotional")},
        },
        "info": raw,
    }


def parse_markets(exchange_info: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`exchangeInfo` as ccxt's `markets` (unified symbol → market)."""
    markets: dict[str, dict[str, Any]] = {}
    for raw in exchange_info.get("symbols") or []:
        if isinstance(raw, Mapping) and (market := parse_market(raw)) is not None:
            markets[market["symbol"]] = market
    return markets


class _Spacing:
    """ccxt's client-side throttle for weight-1 requests: one request per `ms`."""

    def __init__(self, ms: float) -> None:
        self._interval = ms / 1000
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        at = max(now, self._next)
        self._next = at + self._interval
        if at > now:
            await asyncio.sleep(at - now)


def _refusal(status: int, body: str, retry_after: str | None) -> BrokerError:
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    code = str(answer.get("code")) if isinstance(answer, dict) and "code" in answer else None
    message = f"HTTP {status}: {body[:300]}"
    if status in (418, 429) or code == _TOO_MANY_REQUESTS:
        try:
            delay = float(retry_after) if retry_after is not None else None
        except ValueError:
            delay = None
        return BrokerError(RATE_LIMITED, message, True, delay, code)
    if code == _INVALID_SYMBOL:
        return BrokerError(UNKNOWN_SYMBOL, message, False, code=code)
    if status >= 500:
        return BrokerError(UNAVAILABLE, message, True, code=code)
    return BrokerError(BROKER_REJECTED, message, False, code=code)


class UsdmMarketData:
    """Public market data of one Binance USD-M endpoint (`close()` when done)."""

    def __init__(self, config: BrokerConfig, entries: Iterable[SymbolEntry] = ()) -> None:
        self.url = base_url(config)
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_ms / 1000)
        self._spacing = _Spacing(config.rate_limit_ms or DEFAULT_SPACING_MS)
        self._entries = tuple(entries)
        self._session: aiohttp.ClientSession | None = None
        self._symbols: SymbolMap | None = None
        self._load_lock = asyncio.Lock()

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        await self._spacing.wait()
        try:
            async with self._session.get(self.url + path, params=params) as response:
                body = await response.text()
                if response.status != 200:
                    raise _refusal(response.status, body, response.headers.get("Retry-After"))
        except TimeoutError as exc:
            raise BrokerError(TIMEOUT, f"GET {path}: timed out", True) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise BrokerError(NETWORK, f"GET {path}: {type(exc).__name__}: {exc}", True) from exc
        try:
            return json.loads(body)
        except ValueError as exc:
            raise BrokerError(NETWORK, f"GET {path}: not JSON: {body[:200]!r}", True) from exc

    async def symbols(self) -> SymbolMap:
        """The listed markets, read once (as the ccxt client's `load_markets`)."""
        if self._symbols is None:
            async with self._load_lock:
                if self._symbols is None:
                    info = await self._get("/exchangeInfo")
                    if not isinstance(info, Mapping):
                        raise BrokerError(NETWORK, "exchangeInfo: not an object", True)
                    self._symbols = SymbolMap(parse_markets(info), self._entries)
        return self._symbols

    async def rules(self, symbol: str | int) -> MarketRules:
        return (await self.symbols()).resolve(symbol)

    async def fetch_mark_price(self, symbol: str | int) -> Decimal:
        rules = await self.rules(symbol)
        answer = await self._get("/premiumIndex", {"symbol": rules.market_id})
        if isinstance(answer, list):
            answer = answer[0] if answer else None
        price = answer.get("markPrice") if isinstance(answer, Mapping) else None
        if not price:
            raise BrokerError("BrokerBadResponse", f"no mark price for {rules.symbol}", True)
        return Decimal(str(price))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
