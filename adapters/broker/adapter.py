"""One adapter over ccxt for everything the hedger does on the broker.

Exactly-once (DESIGN §3): an order's identity is its client order id. `create_order` looks the id
up before sending and after any uncertain outcome; a duplicate-id rejection means "already
placed" and resolves to the existing order; `cancel_order` treats an already-final order as the
answer, not as an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from adapters.broker.ccxt_lean import errors as ccxt_errors
from adapters.broker.client import BrokerConfig, make_exchange
from adapters.broker.errors import BrokerError, classify, is_duplicate_client_id
from adapters.broker.symbols import MarketRules, SymbolEntry, SymbolMap
from interfaces.broker import BalanceSnapshot, Fill, OrderRequest, OrderSnapshot, PositionSnapshot

log = logging.getLogger(__name__)
T = TypeVar("T")

# Look-ups (spaced lookup_delay × 1, 2, ... : about 5.6 s in all) before an id that may have
# been sent already is sent again: one miss is read lag, not proof.
SETTLED_LOOKUPS = 8
SENT_IDS_KEPT = 10_000


def _s(value: Any) -> str | None:
    """A ccxt number as an exact-enough decimal string (ccxt hands out floats)."""
    if value is None:
        return None
    return format(Decimal(str(value)).normalize(), "f")


def _status(order: Mapping[str, Any]) -> str:
    raw = str((order.get("info") or {}).get("status") or "").upper()
    if raw == "REJECTED":
        return "rejected"
    if raw == "EXPIRED":
        return "expired"
    return str(order.get("status") or "open")


def snapshot_from_ccxt(
    order: Mapping[str, Any],
    source: str = "rest",
    fee: str | None = None,
    fee_currency: str | None = None,
) -> OrderSnapshot:
    info = order.get("info") or {}
    if fee is None and order.get("fee") and order["fee"].get("cost") is not None:
        fee, fee_currency = _s(order["fee"]["cost"]), order["fee"].get("currency")
    filled = _s(order.get("filled")) or "0"
    amount = _s(order.get("amount")) or "0"
    remaining = _s(order.get("remaining"))
    if remaining is None:
        remaining = format(Decimal(amount) - Decimal(filled), "f")
    average = order.get("average")
    return OrderSnapshot(
        client_order_id=str(
            order.get("clientOrderId") or info.get("clientOrderId") or info.get("c") or ""
        ),
        exchange_order_id=str(order["id"]) if order.get("id") is not None else None,
        symbol=str(order.get("symbol") or ""),
        status=_status(order),
        side=str(order.get("side") or ""),
        type=str(order.get("type") or ""),
        amount=amount,
        filled=filled,
        remaining=remaining,
        average_price=_s(average) if average else None,
        price=_s(order.get("price")) if order.get("price") else None,
        fee=fee,
        fee_currency=fee_currency,
        reduce_only=bool(order.get("reduceOnly")),
        timestamp=order.get("lastUpdateTimestamp") or order.get("timestamp"),
        source=source,
    )


class BrokerAdapter:
    """Owns one ccxt client (REST + websocket) for one broker account."""

    def __init__(
        self,
        exchange: Any,
        entries: Iterable[SymbolEntry] = (),
        lookup_retries: int = 3,
        lookup_delay: float = 0.2,
    ) -> None:
        self.exchange = exchange
        self._entries = tuple(entries)
        self._symbols: SymbolMap | None = None
        self._load_lock = asyncio.Lock()
        self.lookup_retries = lookup_retries
        self.lookup_delay = lookup_delay
        self._sent: dict[str, None] = {}  # client ids sent by this process (oldest first)

    def _remember_sent(self, client_order_id: str) -> None:
        self._sent[client_order_id] = None
        while len(self._sent) > SENT_IDS_KEPT:
            del self._sent[next(iter(self._sent))]

    @classmethod
    def from_config(
        cls, config: BrokerConfig, entries: Iterable[SymbolEntry] = ()
    ) -> BrokerAdapter:
        return cls(make_exchange(config), entries)

    async def close(self) -> None:
        await self.exchange.close()

    # ------------------------------------------------------------------ plumbing
    def _retry_after(self) -> float | None:
        headers = getattr(self.exchange, "last_response_headers", None) or {}
        value = headers.get("Retry-After") or headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        try:
            return await fn(*args, **kwargs)
        except BrokerError:
            raise
        except (ccxt_errors().BaseError, TimeoutError, OSError) as exc:
            raise classify(exc, self._retry_after()) from exc

    async def symbols(self) -> SymbolMap:
        if self._symbols is None:
            async with self._load_lock:
                if self._symbols is None:
                    markets = await self._call(self.exchange.load_markets)
                    self._symbols = SymbolMap(markets, self._entries)
        return self._symbols

    async def rules(self, symbol: str | int) -> MarketRules:
        return (await self.symbols()).resolve(symbol)

    # ------------------------------------------------------------------ market data
    async def fetch_mark_price(self, symbol: str | int) -> Decimal:
        rules = await self.rules(symbol)
        ticker = await self._call(self.exchange.fetch_mark_price, rules.symbol)
        price = ticker.get("markPrice") or (ticker.get("info") or {}).get("markPrice")
        if price is None:
            raise BrokerError("BrokerBadResponse", f"no mark price for {rules.symbol}", True)
        return Decimal(str((ticker.get("info") or {}).get("markPrice") or price))

    async def fetch_ticker(self, symbol: str | int) -> dict[str, Any]:
        rules = await self.rules(symbol)
        result: dict[str, Any] = await self._call(self.exchange.fetch_ticker, rules.symbol)
        return result

    async def reload_markets(self) -> dict[str, Any]:
        """The broker's markets loaded again (listings change), also refreshing `symbols()`."""
        markets: dict[str, Any] = await self._call(self.exchange.load_markets, True)
        self._symbols = SymbolMap(markets, self._entries)
        return markets

    async def fetch_tickers(self, symbols: list[str]) -> dict[str, Any]:
        """24 h tickers of several unified symbols in one request."""
        result: dict[str, Any] = await self._call(self.exchange.fetch_tickers, symbols)
        return result

    async def fetch_funding_rates(self, symbols: list[str]) -> dict[str, Any]:
        """Mark price, current funding rate and next funding time of several unified symbols."""
        result: dict[str, Any] = await self._call(self.exchange.fetch_funding_rates, symbols)
        return result

    async def fetch_funding_intervals(self, symbols: list[str]) -> dict[str, Any]:
        """Funding interval ("4h", ...) of those unified symbols the broker lists apart (Binance's
        `fundingInfo`: only symbols off the default 8 h); {} when the broker has no such call."""
        if not self.exchange.has.get("fetchFundingIntervals"):
            return {}
        result: dict[str, Any] = await self._call(self.exchange.fetch_funding_intervals, symbols)
        return result

    async def fetch_order_book(self, symbol: str | int, limit: int = 20) -> dict[str, Any]:
        rules = await self.rules(symbol)
        result: dict[str, Any] = await self._call(
            self.exchange.fetch_order_book, rules.symbol, limit
        )
        return result

    async def set_leverage(self, symbol: str | int, leverage: int) -> None:
        rules = await self.rules(symbol)
        await self._call(self.exchange.set_leverage, leverage, rules.symbol)

    # ------------------------------------------------------------------ orders
    async def fetch_order(
        self, symbol: str | int, client_order_id: str, with_fees: bool = False
    ) -> OrderSnapshot | None:
        """The order with this client id, or None if the exchange has never seen it."""
        rules = await self.rules(symbol)
        try:
            order = await self._call(
                self.exchange.fetch_order, None, rules.symbol, {"clientOrderId": client_order_id}
            )
        except BrokerError as exc:
            if exc.kind == "OrderNotFound":
                return None
            raise
        snap = snapshot_from_ccxt(order)
        if with_fees and Decimal(snap.filled) > 0 and snap.exchange_order_id:
            fills = await self._fills_for(rules, snap)
            fee = sum((Decimal(f.fee) for f in fills), Decimal(0))
            currency = next((f.fee_currency for f in fills if f.fee_currency), None)
            snap = snapshot_from_ccxt(order, fee=format(fee, "f"), fee_currency=currency)
        return snap

    async def _lookup_settled(
        self, rules: MarketRules, client_order_id: str, attempts: int
    ) -> OrderSnapshot | None:
        for i in range(attempts):
            found = await self.fetch_order(rules.symbol, client_order_id)
            if found is not None:
                return found
            if i + 1 < attempts:
                await asyncio.sleep(self.lookup_delay * (i + 1))
        return None

    async def create_order(self, req: OrderRequest, lookups: int = 1) -> OrderSnapshot:
        """Place `req` once: safe to call again with the same client order id after any failure.

        The broker enforces client-id uniqueness only among open orders (Binance: a filled or
        cancelled order's id can be placed again), so the look-up before sending is what makes
        this idempotent, and one look-up miss is not proof (read lag): a caller that may have
        sent this id before passes `lookups` > 1, spaced out, before it sends again."""
        rules = await self.rules(req.symbol)
        side = req.side.lower()
        order_type = req.type.lower()
        if side not in ("buy", "sell"):
            raise BrokerError("InvalidOrder", f"side must be buy or sell, not {req.side!r}", False)
        if order_type not in ("market", "limit"):
            raise BrokerError(
                "InvalidOrder", f"type must be market or limit, not {req.type!r}", False
            )
        amount = rules.round_amount(Decimal(req.amount))
        price: Decimal | None = None
        if order_type == "limit":
            if req.price is None:
                raise BrokerError("InvalidOrder", "a limit order needs a price", False)
            price = rules.round_price(Decimal(req.price), side)
        reference = (
            price
            if price is not None
            else (Decimal(req.price) if req.price else await self.fetch_mark_price(rules.symbol))
        )
        rules.check(amount, reference, req.reduce_only)

        if req.client_order_id in self._sent:  # this process sent it before: its answer was lost
            lookups = max(lookups, SETTLED_LOOKUPS)
        existing = await self._lookup_settled(rules, req.client_order_id, max(1, lookups))
        if existing is not None:
            log.info(
                "order %s already on the broker (%s); not placing it again",
                req.client_order_id,
                existing.status,
            )
            return existing

        params: dict[str, Any] = {"clientOrderId": req.client_order_id}
        self._remember_sent(req.client_order_id)
        if req.reduce_only:
            params["reduceOnly"] = True
        if order_type == "limit":
            params["timeInForce"] = req.time_in_force or "GTC"
        try:
            order = await self._call(
                self.exchange.create_order,
                rules.symbol,
                order_type,
                side,
                format(amount, "f"),
                format(price, "f") if price is not None else None,
                params,
            )
        except BrokerError as exc:
            cause = exc.__cause__
            if cause is not None and is_duplicate_client_id(cause):
                found = await self._lookup_settled(
                    rules, req.client_order_id, self.lookup_retries + 2
                )
                if found is not None:
                    return found
                if exc.code == "-4015":  # "not valid" and not ours after all: a real rejection
                    raise
                raise BrokerError(
                    "BrokerUnavailable",
                    f"{req.client_order_id}: duplicate id reported but the order "
                    "is not visible yet",
                    True,
                ) from exc
            if exc.retryable:
                # The request may have reached the exchange (response lost): find out now.
                try:
                    found = await self._lookup_settled(rules, req.client_order_id, 1)
                except BrokerError:
                    found = None
                if found is not None:
                    return found
            raise
        snap = snapshot_from_ccxt(order)
        if not snap.client_order_id:
            snap = OrderSnapshot(**{**_asdict(snap), "client_order_id": req.client_order_id})
        return snap

    async def cancel_order(self, symbol: str | int, client_order_id: str) -> OrderSnapshot:
        """Cancel; an order that is already final (or was never placed) is a result, not an error."""
        rules = await self.rules(symbol)
        try:
            order = await self._call(
                self.exchange.cancel_order, None, rules.symbol, {"clientOrderId": client_order_id}
            )
            return snapshot_from_ccxt(order)
        except BrokerError as exc:
            if exc.kind not in ("OrderNotFound", "InvalidOrder"):
                if not exc.retryable:
                    raise
                found = await self._lookup_settled(rules, client_order_id, 1)
                if found is None or not found.is_final:
                    raise
                return found
        found = await self._lookup_settled(rules, client_order_id, 1)
        if found is not None:
            return found
        return OrderSnapshot(
            client_order_id=client_order_id,
            exchange_order_id=None,
            symbol=rules.symbol,
            status="not_found",
        )

    async def fetch_open_orders(self, symbol: str | int | None = None) -> list[OrderSnapshot]:
        target = (await self.rules(symbol)).symbol if symbol is not None else None
        orders = await self._call(self.exchange.fetch_open_orders, target)
        return [snapshot_from_ccxt(o) for o in orders]

    async def _fills_for(self, rules: MarketRules, snap: OrderSnapshot) -> list[Fill]:
        trades = await self._call(
            self.exchange.fetch_my_trades,
            rules.symbol,
            None,
            None,
            {"orderId": snap.exchange_order_id},
        )
        fills = []
        for t in trades:
            if str(t.get("order")) != snap.exchange_order_id:
                continue
            fee = t.get("fee") or {}
            fills.append(
                Fill(
                    trade_id=str(t.get("id")),
                    client_order_id=snap.client_order_id,
                    exchange_order_id=str(t.get("order")),
                    symbol=rules.symbol,
                    side=str(t.get("side") or ""),
                    price=str((t.get("info") or {}).get("price") or _s(t.get("price"))),
                    amount=str((t.get("info") or {}).get("qty") or _s(t.get("amount"))),
                    fee=str((t.get("info") or {}).get("commission") or _s(fee.get("cost")) or "0"),
                    fee_currency=fee.get("currency"),
                    maker=t.get("takerOrMaker") == "maker",
                    timestamp=t.get("timestamp"),
                )
            )
        return fills

    async def fetch_fills(self, symbol: str | int, client_order_id: str) -> list[Fill]:
        rules = await self.rules(symbol)
        snap = await self.fetch_order(rules.symbol, client_order_id)
        if snap is None or Decimal(snap.filled) == 0:
            return []
        return await self._fills_for(rules, snap)

    # ------------------------------------------------------------------ account
    async def fetch_positions(
        self, symbols: Iterable[str | int] | None = None
    ) -> list[PositionSnapshot]:
        unified = [(await self.rules(s)).symbol for s in symbols] if symbols is not None else None
        positions = await self._call(self.exchange.fetch_positions, unified)
        result = []
        for p in positions:
            info = p.get("info") or {}
            amount = info.get("positionAmt")
            if amount is None:
                contracts = Decimal(str(p.get("contracts") or 0))
                amount = format(-contracts if p.get("side") == "short" else contracts, "f")
            if Decimal(str(amount)) == 0:
                continue
            result.append(
                PositionSnapshot(
                    symbol=str(p.get("symbol")),
                    amount=format(Decimal(str(amount)).normalize(), "f"),
                    entry_price=info.get("entryPrice") or _s(p.get("entryPrice")),
                    mark_price=info.get("markPrice") or _s(p.get("markPrice")),
                    unrealized_pnl=info.get("unRealizedProfit") or _s(p.get("unrealizedPnl")),
                    leverage=_s(p.get("leverage")),
                )
            )
        return result

    async def fetch_balance(self, asset: str = "USDT") -> BalanceSnapshot:
        balance = await self._call(self.exchange.fetch_balance)
        entry = balance.get(asset) or {}
        return BalanceSnapshot(
            asset=asset,
            free=_s(entry.get("free")) or "0",
            used=_s(entry.get("used")) or "0",
            total=_s(entry.get("total")) or "0",
        )


def _asdict(snap: OrderSnapshot) -> dict[str, Any]:
    return {name: getattr(snap, name) for name in OrderSnapshot.__dataclass_fields__}
