"""SYMMIO symbol ⇄ broker market, and the market's size/price rules (all Decimal)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from adapters.broker.errors import INVALID_ORDER, UNKNOWN_SYMBOL, BrokerError


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


@dataclass(frozen=True, slots=True)
class MarketRules:
    symbol: str  # broker (ccxt unified) symbol, e.g. "BTC/USDT:USDT"
    market_id: str  # broker's own id, e.g. "BTCUSDT"
    step_size: Decimal
    tick_size: Decimal
    min_qty: Decimal
    max_qty: Decimal | None
    min_notional: Decimal
    settle: str

    @classmethod
    def from_ccxt_market(cls, market: Mapping[str, Any]) -> MarketRules:
        info = market.get("info") or {}
        filters = {f.get("filterType"): f for f in info.get("filters", []) if isinstance(f, dict)}
        lot, price_filter, notional = (
            filters.get("LOT_SIZE", {}),
            filters.get("PRICE_FILTER", {}),
            filters.get("MIN_NOTIONAL", {}),
        )
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}
        step = _dec(lot.get("stepSize")) or _dec(precision.get("amount")) or Decimal("1")
        tick = (
            _dec(price_filter.get("tickSize"))
            or _dec(precision.get("price"))
            or Decimal("0.00000001")
        )
        min_qty = _dec(lot.get("minQty")) or _dec((limits.get("amount") or {}).get("min")) or step
        max_qty = _dec(lot.get("maxQty")) or _dec((limits.get("amount") or {}).get("max"))
        min_notional = (
            _dec(notional.get("notional"))
            or _dec(notional.get("minNotional"))
            or _dec((limits.get("cost") or {}).get("min"))
            or Decimal(0)
        )
        return cls(
            str(market["symbol"]),
            str(market["id"]),
            step.normalize(),
            tick.normalize(),
            min_qty,
            max_qty,
            min_notional,
            str(market.get("settle") or market.get("quote") or ""),
        )

    def round_amount(self, amount: Decimal) -> Decimal:
        """Down to a whole number of steps (never send more than asked)."""
        return (amount / self.step_size).to_integral_value(ROUND_FLOOR) * self.step_size

    def round_price(self, price: Decimal, side: str) -> Decimal:
        """To the tick, never worse for us: a buy rounds down, a sell rounds up."""
        rounding = ROUND_FLOOR if side.lower() == "buy" else ROUND_CEILING
        return (price / self.tick_size).to_integral_value(rounding) * self.tick_size

    def check(self, amount: Decimal, price: Decimal, reduce_only: bool = False) -> None:
        """Raise a terminal InvalidOrder if the exchange would refuse this size before it is sent."""
        if amount <= 0 or amount < self.min_qty:
            raise BrokerError(
                INVALID_ORDER,
                f"{self.symbol}: amount {amount} is below the minimum {self.min_qty}",
                False,
            )
        if self.max_qty is not None and amount > self.max_qty:
            raise BrokerError(
                INVALID_ORDER,
                f"{self.symbol}: amount {amount} is above the maximum {self.max_qty}",
                False,
            )
        if not reduce_only and amount * price < self.min_notional:
            raise BrokerError(
                INVALID_ORDER,
                f"{self.symbol}: notional {amount * price} is below the minimum "
                f"{self.min_notional}",
                False,
            )


@dataclass(frozen=True, slots=True)
class SymbolEntry:
    """One configured SYMMIO symbol and the broker market that hedges it."""

    symmio_id: int
    symmio_name: str  # e.g. "BTCUSDT"
    broker_symbol: str | None = (
        None  # unified ("BTC/USDT:USDT") or broker id ("BTCUSDT"); None = same name
    )


class SymbolMap:
    """Resolves a SYMMIO symbol id, a SYMMIO name, a broker id or a unified symbol to MarketRules."""

    def __init__(
        self, markets: Mapping[str, Mapping[str, Any]], entries: Iterable[SymbolEntry] = ()
    ) -> None:
        self._rules: dict[str, MarketRules] = {}
        self._by_id: dict[str, str] = {}
        for symbol, market in markets.items():
            if not market.get("contract") or not market.get("linear"):
                continue
            rules = MarketRules.from_ccxt_market(market)
            self._rules[symbol] = rules
            self._by_id.setdefault(rules.market_id, symbol)
        self._symmio_ids: dict[int, str] = {}
        self._symmio_names: dict[str, str] = {}
        for e in entries:
            target = self._lookup(e.broker_symbol or e.symmio_name)
            if target is not None:
                self._symmio_ids[e.symmio_id] = target
                self._symmio_names[e.symmio_name.upper()] = target

    def _lookup(self, name: str) -> str | None:
        if name in self._rules:
            return name
        return self._by_id.get(name.upper().replace("/", "").replace("-", ""))

    def resolve(self, symbol: str | int) -> MarketRules:
        target: str | None
        if isinstance(symbol, int):
            target = self._symmio_ids.get(symbol)
        else:
            target = self._symmio_names.get(symbol.upper()) or self._lookup(symbol)
        if target is None:
            raise BrokerError(UNKNOWN_SYMBOL, f"no broker market for symbol {symbol!r}", False)
        return self._rules[target]

    def symmio_symbols(self) -> dict[int, str]:
        return dict(self._symmio_ids)

    def __contains__(self, symbol: object) -> bool:
        try:
            self.resolve(symbol)  # type: ignore[arg-type]
        except BrokerError:
            return False
        return True
