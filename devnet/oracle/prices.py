"""Where the oracle's prices come from: a Binance-USD-M-compatible REST API, or fixed prices."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Protocol

import httpx

WAD = 10**18
DEFAULT_FIXED_PRICES: dict[str, Decimal] = {
    "BTCUSDT": Decimal("60000"),
    "ETHUSDT": Decimal("3000"),
    "BCHUSDT": Decimal("400"),
    "XRPUSDT": Decimal("0.5"),
    "EOSUSDT": Decimal("0.8"),
}


class PriceUnavailable(RuntimeError):
    """No price for a symbol (unknown symbol, or the price source failed)."""


def to_wad(price: Decimal) -> int:
    """A decimal price as the contract's 18-decimal fixed point (exact for ≤ 18 decimals)."""
    return int((price * WAD).to_integral_value(ROUND_HALF_EVEN))


class PriceSource(Protocol):
    def mark_price(self, symbol: str) -> Decimal: ...


class StaticPriceSource:
    """Fixed prices per symbol (the fallback when no exchange is configured); settable at runtime."""

    def __init__(self, prices: Mapping[str, Decimal] | None = None) -> None:
        self._prices = dict(DEFAULT_FIXED_PRICES if prices is None else prices)
        self._lock = threading.Lock()

    def mark_price(self, symbol: str) -> Decimal:
        with self._lock:
            if symbol not in self._prices:
                raise PriceUnavailable(f"no price for {symbol}")
            return self._prices[symbol]

    def set_price(self, symbol: str, price: Decimal) -> None:
        if price <= 0:
            raise ValueError("price must be positive")
        with self._lock:
            self._prices[symbol] = price


class BinancePriceSource:
    """`GET {base_url}/fapi/v1/premiumIndex?symbol=X` → `markPrice` (Binance USD-M shape)."""

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout)

    def mark_price(self, symbol: str) -> Decimal:
        try:
            response = self._client.get(
                f"{self.base_url}/fapi/v1/premiumIndex", params={"symbol": symbol}
            )
        except httpx.HTTPError as exc:
            raise PriceUnavailable(f"price source unreachable: {exc}") from exc
        if response.status_code != 200:
            raise PriceUnavailable(
                f"price source answered {response.status_code} for {symbol}: {response.text[:200]}"
            )
        try:
            body = response.json()
            if isinstance(body, list):  # without `symbol` Binance returns every market
                body = next(item for item in body if item.get("symbol") == symbol)
            price = Decimal(str(body["markPrice"]))
        except (ValueError, KeyError, StopIteration, InvalidOperation, TypeError) as exc:
            raise PriceUnavailable(f"bad premiumIndex answer for {symbol}: {exc}") from exc
        if price <= 0:
            raise PriceUnavailable(f"non-positive mark price for {symbol}: {price}")
        return price

    def close(self) -> None:
        self._client.close()
