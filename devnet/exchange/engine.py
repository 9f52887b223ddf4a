"""In-memory matching engine and account of the exchange simulator (one account, one-way mode).

All money and size maths is Decimal; the JSON it produces uses Binance USD-M field names and
string-encoded numbers, because that is what ccxt parses.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Any

from devnet.exchange.config import ExchangeConfig, SymbolSpec
from devnet.exchange.prices import PricePath, load_csv_prices

ZERO = Decimal(0)
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
_CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


class ApiError(Exception):
    """A Binance-style error: HTTP status plus `{"code": ..., "msg": ...}`."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status


def now_ms() -> int:
    return int(time.time() * 1000)


def fmt(value: Decimal, places: int | None = None) -> str:
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    text = (
        format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    )
    return text


def _places(step: Decimal) -> int:
    return max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]


@dataclass
class Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: str  # BUY / SELL
    type: str  # MARKET / LIMIT
    time_in_force: str
    orig_qty: Decimal
    price: Decimal
    reduce_only: bool
    time: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    update_time: int = 0
    commission: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else ZERO

    def to_binance(self, price_places: int) -> dict[str, Any]:
        return {
            "orderId": self.order_id,
            "symbol": self.symbol,
            "status": self.status,
            "clientOrderId": self.client_order_id,
            "price": fmt(self.price),
            "avgPrice": fmt(self.avg_price.quantize(Decimal(1).scaleb(-max(price_places, 5)))),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty),
            "cumQty": fmt(self.executed_qty),
            "cumQuote": fmt(self.cum_quote),
            "timeInForce": self.time_in_force,
            "type": self.type,
            "reduceOnly": self.reduce_only,
            "closePosition": False,
            "side": self.side,
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": self.type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "goodTillDate": 0,
            "time": self.time,
            "updateTime": self.update_time or self.time,
        }


@dataclass
class Position:
    amount: Decimal = ZERO  # signed, base units
    entry_price: Decimal = ZERO
    realized: Decimal = ZERO
    update_time: int = 0


@dataclass
class Market:
    spec: SymbolSpec
    path: PricePath
    leverage: int
    position: Position = field(default_factory=Position)

    @property
    def price_places(self) -> int:
        return _places(self.spec.tick_size)

    @property
    def qty_places(self) -> int:
        return _places(self.spec.step_size)


class Engine:
    def __init__(self, config: ExchangeConfig) -> None:
        self.config = config
        self.reset()

    # ----------------------------------------------------------------- state
    def reset(self) -> None:
        cfg = self.config
        self.markets: dict[str, Market] = {}
        for i, spec in enumerate(cfg.symbols):
            replay = load_csv_prices(spec.csv_path) if spec.csv_path else None
            path = PricePath(
                spec.initial_price, spec.tick_size, spec.volatility, cfg.seed * 1000 + i, replay
            )
            self.markets[spec.symbol] = Market(spec, path, cfg.default_leverage)
        self.wallet: Decimal = cfg.initial_balance
        self.orders: dict[int, Order] = {}
        # client order id -> the newest order placed under it (what a query by id answers)
        self.by_client_id: dict[str, int] = {}
        # every order ever placed under each client order id, oldest first (the audit trail)
        self.client_id_orders: dict[str, list[int]] = {}
        self.trades: list[dict[str, Any]] = []
        # every POST /fapi/v1/order that reached the matching engine: accepted or refused (audit)
        self.placements: list[dict[str, Any]] = []
        # funding: the rate each symbol pays at its next funding time, and what was paid
        self.funding_rates: dict[str, Decimal] = {s: cfg.funding_rate for s in self.markets}
        # seconds between a symbol's funding times (Binance: 8 h, 4 h or 1 h for some symbols);
        # a symbol set apart from the default is listed by GET /fapi/v1/fundingInfo
        self.funding_intervals: dict[str, float] = {}
        self.funding_history: list[dict[str, Any]] = []
        self.income: list[dict[str, Any]] = []
        self._next_tran_id = 9_000_000_000 + cfg.seed * 1_000_000
        start = now_ms()
        self.next_funding: dict[str, int] = {
            s: self.funding_time_after(start, s) for s in self.markets
        }
        self._next_order_id = 4_000_000_000 + cfg.seed * 1_000_000
        self._next_trade_id = 1_000_000 + cfg.seed * 1_000
        self.fill_delay: float = 0.0  # seconds: fault "delayed fills"
        self.event_delay: float = 0.0  # seconds: user-stream events arrive late
        # extra delays from open fault windows (set by the app: kinds fill_delay / event_delay)
        self.fault_delay: Callable[[str], float] = getattr(self, "fault_delay", lambda _k: 0.0)
        self._listeners: list[Callable[[dict[str, Any]], None]] = getattr(self, "_listeners", [])
        self.update_time = now_ms()

    def subscribe(self, listener: Callable[[dict[str, Any]], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[dict[str, Any]], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def effective_fill_delay(self) -> float:
        return max(self.fill_delay, self.fault_delay("fill_delay"))

    def effective_event_delay(self) -> float:
        return max(self.event_delay, self.fault_delay("event_delay"))

    def _emit(self, event: dict[str, Any]) -> None:
        delay = self.effective_event_delay()
        for listener in list(self._listeners):
            if delay > 0:
                asyncio.get_running_loop().call_later(delay, listener, event)
            else:
                listener(event)

    def market(self, symbol: str | None) -> Market:
        if not symbol or symbol not in self.markets:
            raise ApiError(-1121, "Invalid symbol.")
        return self.markets[symbol]

    # ----------------------------------------------------------------- prices
    def bid_ask(self, m: Market) -> tuple[Decimal, Decimal]:
        half = m.path.mid * self.config.spread / 2
        tick = m.spec.tick_size
        bid = ((m.path.mid - half) / tick).to_integral_value(ROUND_FLOOR) * tick
        ask = ((m.path.mid + half) / tick).to_integral_value(ROUND_CEILING) * tick
        if ask <= bid:
            ask = bid + tick
        return bid, ask

    def depth(self, m: Market, limit: int) -> tuple[list[list[str]], list[list[str]]]:
        bid, ask = self.bid_ask(m)
        levels = min(limit, self.config.book_levels)
        step = max(
            m.spec.tick_size,
            (m.path.mid * Decimal("0.0001") / m.spec.tick_size).to_integral_value()
            * m.spec.tick_size,
        )
        bids, asks = [], []
        for i in range(levels):
            bp, ap = bid - step * i, ask + step * i
            qty = (self.config.level_notional / m.path.mid / m.spec.step_size).to_integral_value(
                ROUND_DOWN
            ) * m.spec.step_size
            if bp > 0:
                bids.append([fmt(bp), fmt(qty)])
            asks.append([fmt(ap), fmt(qty)])
        return bids, asks

    def mark(self, m: Market) -> Decimal:
        return m.path.mid

    def market_fill_price(self, m: Market, side: str, qty: Decimal) -> Decimal:
        bid, ask = self.bid_ask(m)
        notional = qty * m.path.mid
        slip = self.config.impact * notional
        tick = m.spec.tick_size
        if side == "BUY":
            return ((ask * (1 + slip)) / tick).to_integral_value(ROUND_CEILING) * tick
        return max(tick, ((bid * (1 - slip)) / tick).to_integral_value(ROUND_FLOOR) * tick)

    def tick(self) -> None:
        for m in self.markets.values():
            m.path.step()
        self.match_resting()

    def set_price(self, symbol: str, price: Decimal, freeze: bool = True) -> None:
        self.market(symbol).path.set(price, freeze)
        self.match_resting()

    def touch_price(self, symbol: str, price: Decimal) -> None:
        """The market trades at `price` for one match, then is back where it was: a crossed
        LIMIT order fills one chunk, however long the caller would take between two
        `set_price` calls (each tick while crossed fills another)."""
        path = self.market(symbol).path
        before, frozen = path.mid, path.frozen
        path.set(price, True)
        self.match_resting()
        path.set(before, frozen)

    # ----------------------------------------------------------------- account
    def unrealized(self, m: Market) -> Decimal:
        p = m.position
        return (self.mark(m) - p.entry_price) * p.amount if p.amount else ZERO

    def position_margin(self, m: Market) -> Decimal:
        return abs(m.position.amount) * self.mark(m) / m.leverage

    def open_order_margin(self, m: Market) -> Decimal:
        total = ZERO
        for o in self.orders.values():
            if o.symbol == m.spec.symbol and o.is_open and not o.reduce_only:
                total += o.remaining * (o.price or self.mark(m)) / m.leverage
        return total

    def totals(self) -> dict[str, Decimal]:
        upnl = sum((self.unrealized(m) for m in self.markets.values()), ZERO)
        pim = sum((self.position_margin(m) for m in self.markets.values()), ZERO)
        oim = sum((self.open_order_margin(m) for m in self.markets.values()), ZERO)
        maint = sum(
            (
                abs(m.position.amount) * self.mark(m) * Decimal("0.004")
                for m in self.markets.values()
            ),
            ZERO,
        )
        margin_balance = self.wallet + upnl
        available = margin_balance - pim - oim
        return {
            "wallet": self.wallet,
            "upnl": upnl,
            "pim": pim,
            "oim": oim,
            "maint": maint,
            "margin_balance": margin_balance,
            "available": available,
        }

    def credit(self, amount: Decimal) -> None:
        self.wallet += amount
        self.update_time = now_ms()
        self._emit_account_update("DEPOSIT", None)

    def set_leverage(self, symbol: str, leverage: int) -> Market:
        m = self.market(symbol)
        if leverage < 1 or leverage > m.spec.max_leverage:
            raise ApiError(-4028, f"Leverage {leverage} is not valid")
        m.leverage = leverage
        return m

    # ----------------------------------------------------------------- orders
    def find(self, symbol: str, order_id: str | None, client_id: str | None) -> Order:
        if order_id is None and client_id is None:
            raise ApiError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        o: Order | None = None
        if order_id is not None:
            try:
                o = self.orders.get(int(order_id))
            except ValueError as exc:
                raise ApiError(
                    -1100,
                    "Illegal characters found in parameter 'orderId'; legal range is '^[0-9]{1,20}$'.",
                ) from exc
        elif client_id is not None and client_id in self.by_client_id:
            o = self.orders[self.by_client_id[client_id]]
        if o is None or o.symbol != symbol:
            raise ApiError(-2013, "Order does not exist.")
        return o

    def validate_client_id(self, client_id: str) -> None:
        """Binance USD-M: a client order id is unique among *open* orders only; the id of a
        filled, cancelled or expired order may be placed again (a new order). With
        `client_ids_unique_forever` every id ever seen is refused (stricter than Binance)."""
        if not _CLIENT_ID_RE.match(client_id):
            raise ApiError(-4015, "Client order id is not valid.")
        newest = self.by_client_id.get(client_id)
        if newest is not None and (
            self.config.client_ids_unique_forever or self.orders[newest].is_open
        ):
            code = self.config.duplicate_client_id_code
            msg = (
                "ClientOrderId is duplicated." if code == -4116 else "Client order id is not valid."
            )
            raise ApiError(code, msg)

    def _check_qty_price(
        self, m: Market, qty: Decimal, price: Decimal | None, reduce_only: bool
    ) -> None:
        spec = m.spec
        if qty <= 0:
            raise ApiError(-4003, "Quantity less than or equal to zero.")
        if qty % spec.step_size != 0:
            raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
        if qty < spec.min_qty:
            raise (
                ApiError(-4003, "Quantity less than or equal to zero.")
                if qty <= 0
                else ApiError(-1013, "Filter failure: LOT_SIZE")
            )
        if qty > spec.max_qty:
            raise ApiError(-4005, "Quantity greater than max quantity.")
        if price is not None:
            if price <= 0:
                raise ApiError(-4001, "Price less than 0.")
            if price % spec.tick_size != 0:
                raise ApiError(-4014, "Price not increased by tick size.")
        notional = qty * (price if price is not None else self.mark(m))
        if not reduce_only and notional < spec.min_notional:
            raise ApiError(
                -4164,
                f"Order's notional must be no smaller than {fmt(spec.min_notional)} (unless you choose reduce only).",
            )

    def place(
        self,
        symbol: str,
        side: str,
        type_: str,
        qty: Decimal,
        price: Decimal | None,
        time_in_force: str | None,
        reduce_only: bool,
        client_id: str | None,
    ) -> Order:
        """Place one order; every attempt, accepted or refused, lands in `placements`."""
        record: dict[str, Any] = {
            "time": now_ms(),
            "clientOrderId": client_id,
            "symbol": symbol,
            "side": side,
            "type": type_,
            "quantity": fmt(qty),
            "price": fmt(price) if price is not None else None,
            "reduceOnly": reduce_only,
        }
        try:
            order = self._place(
                symbol, side, type_, qty, price, time_in_force, reduce_only, client_id
            )
        except ApiError as exc:
            self.placements.append(record | {"accepted": False, "code": exc.code, "msg": exc.msg})
            raise
        self.placements.append(
            record
            | {"accepted": True, "orderId": order.order_id, "clientOrderId": order.client_order_id}
        )
        return order

    def _place(
        self,
        symbol: str,
        side: str,
        type_: str,
        qty: Decimal,
        price: Decimal | None,
        time_in_force: str | None,
        reduce_only: bool,
        client_id: str | None,
    ) -> Order:
        m = self.market(symbol)
        if side not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        if type_ not in ("MARKET", "LIMIT"):
            raise ApiError(-1116, "Invalid orderType.")
        if type_ == "LIMIT" and price is None:
            raise ApiError(
                -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed."
            )
        if type_ == "LIMIT" and not time_in_force:
            raise ApiError(
                -1102,
                "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.",
            )
        self._check_qty_price(m, qty, price if type_ == "LIMIT" else None, reduce_only)
        if client_id is not None:
            self.validate_client_id(client_id)
        signed = qty if side == "BUY" else -qty
        pos = m.position.amount
        if reduce_only and (pos == 0 or (pos > 0) == (signed > 0)):
            raise ApiError(-2022, "ReduceOnly Order is rejected.")
        if not reduce_only:
            est = price if (type_ == "LIMIT" and price is not None) else self.mark(m)
            increase = max(ZERO, abs(pos + signed) - abs(pos))
            if increase * est / m.leverage > self.totals()["available"]:
                raise ApiError(-2019, "Margin is insufficient.")
        t = now_ms()
        self._next_order_id += 1
        order = Order(
            self._next_order_id,
            client_id or f"sim{self._next_order_id}",
            symbol,
            side,
            type_,
            "GTC" if type_ == "MARKET" else (time_in_force or "GTC"),
            qty,
            price if (type_ == "LIMIT" and price is not None) else ZERO,
            reduce_only,
            t,
            update_time=t,
        )
        self.orders[order.order_id] = order
        self.by_client_id[order.client_order_id] = order.order_id
        self.client_id_orders.setdefault(order.client_order_id, []).append(order.order_id)
        self._emit_order(order, "NEW")
        fill_delay = self.effective_fill_delay() if self._marketable(m, order) else 0.0
        if fill_delay > 0:
            asyncio.get_running_loop().call_later(fill_delay, self._try_fill_new, order.order_id)
        else:
            self._try_fill_new(order.order_id)
        return order

    def _marketable(self, m: Market, o: Order) -> bool:
        if o.type == "MARKET":
            return True
        bid, ask = self.bid_ask(m)
        return o.price >= ask if o.side == "BUY" else o.price <= bid

    def _try_fill_new(self, order_id: int) -> None:
        o = self.orders[order_id]
        if not o.is_open:
            return
        m = self.markets[o.symbol]
        if o.type == "MARKET":
            self._fill(
                m,
                o,
                self._reduce_cap(m, o, o.remaining),
                self.market_fill_price(m, o.side, o.remaining),
                maker=False,
            )
            if o.is_open:  # reduce-only capped
                self._finish(o, "EXPIRED")
            return
        marketable = self._marketable(m, o)
        if o.time_in_force == "GTX" and marketable:
            self._finish(o, "EXPIRED")
            return
        if marketable:
            # A taker limit sweeps the book up to its price: all of it when the size-dependent
            # slippage stays within the limit, else only the top chunk (the rest rests or expires).
            qty = self._reduce_cap(m, o, o.remaining)
            price = self.market_fill_price(m, o.side, qty)
            if qty > 0 and (price <= o.price if o.side == "BUY" else price >= o.price):
                self._fill(m, o, qty, price, maker=False)
            else:
                bid, ask = self.bid_ask(m)
                self._fill(
                    m, o, self._limit_chunk(m, o), ask if o.side == "BUY" else bid, maker=False
                )
        if o.is_open and o.time_in_force in ("IOC", "FOK"):
            self._finish(o, "EXPIRED")

    def _reduce_cap(self, m: Market, o: Order, qty: Decimal) -> Decimal:
        return min(qty, abs(m.position.amount)) if o.reduce_only else qty

    def _limit_chunk(self, m: Market, o: Order) -> Decimal:
        qty = self._reduce_cap(m, o, o.remaining)
        chunk = (self.config.partial_fill_notional / o.price / m.spec.step_size).to_integral_value(
            ROUND_DOWN
        ) * m.spec.step_size
        return min(qty, max(chunk, m.spec.step_size))

    def match_resting(self) -> None:
        for o in list(self.orders.values()):
            if not o.is_open or o.type != "LIMIT":
                continue
            m = self.markets[o.symbol]
            mid = m.path.mid
            crossed = mid <= o.price if o.side == "BUY" else mid >= o.price
            if not crossed:
                continue
            if o.reduce_only and m.position.amount == 0:
                self._finish(o, "EXPIRED")
                continue
            qty = self._limit_chunk(m, o)
            if qty > 0:
                self._fill(m, o, qty, o.price, maker=True)

    def cancel(self, symbol: str, order_id: str | None, client_id: str | None) -> Order:
        try:
            o = self.find(symbol, order_id, client_id)
        except ApiError as exc:
            if exc.code == -2013:
                raise ApiError(-2011, "Unknown order sent.") from exc
            raise
        if not o.is_open:
            raise ApiError(-2011, "Unknown order sent.")
        self._finish(o, "CANCELED")
        return o

    def _finish(self, o: Order, status: str) -> None:
        o.status = status
        o.update_time = now_ms()
        self._emit_order(o, "CANCELED" if status == "CANCELED" else "EXPIRED")

    def _fill(self, m: Market, o: Order, qty: Decimal, price: Decimal, maker: bool) -> None:
        if qty <= 0:
            return
        t = now_ms()
        signed = qty if o.side == "BUY" else -qty
        p = m.position
        realized = ZERO
        if p.amount == 0 or (p.amount > 0) == (signed > 0):
            total = abs(p.amount) + qty
            p.entry_price = (abs(p.amount) * p.entry_price + qty * price) / total
            p.amount += signed
        else:
            closing = min(qty, abs(p.amount))
            realized = closing * (price - p.entry_price) * (1 if p.amount > 0 else -1)
            p.amount += signed
            if p.amount == 0:
                p.entry_price = ZERO
            elif qty > closing:
                p.entry_price = price
        p.realized += realized
        p.update_time = t
        fee_rate = self.config.maker_fee if maker else self.config.taker_fee
        fee = (qty * price * fee_rate).quantize(Decimal("0.00000001"))
        self.wallet += realized - fee
        self.update_time = t
        o.executed_qty += qty
        o.cum_quote += qty * price
        o.commission += fee
        o.update_time = t
        o.status = "FILLED" if o.remaining == 0 else "PARTIALLY_FILLED"
        self._next_trade_id += 1
        trade = {
            "buyer": o.side == "BUY",
            "commission": fmt(fee),
            "commissionAsset": m.spec.quote,
            "id": self._next_trade_id,
            "maker": maker,
            "orderId": o.order_id,
            "price": fmt(price),
            "qty": fmt(qty),
            "quoteQty": fmt(qty * price),
            "realizedPnl": fmt(realized),
            "side": o.side,
            "positionSide": "BOTH",
            "symbol": o.symbol,
            "time": t,
        }
        self.trades.append(trade | {"clientOrderId": o.client_order_id})
        if realized != 0:
            self._record_income(o.symbol, "REALIZED_PNL", realized, t, self._next_trade_id)
        if fee != 0:
            self._record_income(o.symbol, "COMMISSION", -fee, t, self._next_trade_id)
        self._emit_order(
            o,
            "TRADE",
            last_qty=qty,
            last_price=price,
            fee=fee,
            trade_id=self._next_trade_id,
            maker=maker,
            realized=realized,
        )
        self._emit_account_update("ORDER", m)

    # ----------------------------------------------------------------- funding
    def funding_interval_of(self, symbol: str) -> float:
        """Seconds between `symbol`'s funding times."""
        return self.funding_intervals.get(symbol, self.config.funding_interval)

    def funding_interval_ms_of(self, symbol: str) -> int:
        return max(1, int(self.funding_interval_of(symbol) * 1000))

    @property
    def funding_interval_ms(self) -> int:
        return max(1, int(self.config.funding_interval * 1000))

    @property
    def next_funding_ms(self) -> int:
        """The earliest next funding time over every symbol."""
        return min(self.next_funding.values())

    def funding_time_after(self, t_ms: int, symbol: str | None = None) -> int:
        """The first funding time after `t_ms` (epochs aligned to the Unix epoch, as 00/08/16 UTC)."""
        interval = (
            self.funding_interval_ms if symbol is None else self.funding_interval_ms_of(symbol)
        )
        return (t_ms // interval + 1) * interval

    def set_funding_rate(self, symbol: str, rate: Decimal) -> None:
        self.market(symbol)
        self.funding_rates[symbol] = rate

    def set_funding_interval(self, symbol: str, seconds: float) -> None:
        """`symbol` pays funding every `seconds` from its next aligned funding time on."""
        self.market(symbol)
        if seconds <= 0:
            raise ValueError("a funding interval must be > 0")
        self.funding_intervals[symbol] = seconds
        self.next_funding[symbol] = self.funding_time_after(now_ms(), symbol)

    def settle_funding_due(self, t_ms: int | None = None) -> int:
        """Apply every funding epoch that has come due, each exactly once; how many were applied."""
        t = now_ms() if t_ms is None else t_ms
        applied = 0
        while t >= self.next_funding_ms:
            due = min(self.next_funding.values())
            symbols = sorted(s for s, at in self.next_funding.items() if at == due)
            self.settle_funding(due, symbols)
            for s in symbols:
                self.next_funding[s] += self.funding_interval_ms_of(s)
            applied += 1
        return applied

    def settle_funding(self, at_ms: int, symbols: list[str] | None = None) -> list[dict[str, Any]]:
        """One funding event for `symbols` (default: all): each open position pays (or receives)
        amount x mark x rate; the FUNDING_FEE income rows it wrote.

        A positive rate makes longs pay shorts, as on Binance; the payment lands in the wallet
        and in the income history as FUNDING_FEE."""
        paid: list[dict[str, Any]] = []
        for symbol in symbols if symbols is not None else list(self.markets):
            m = self.markets[symbol]
            rate = self.funding_rates[symbol]
            mark = self.mark(m)
            self.funding_history.append(
                {
                    "symbol": symbol,
                    "fundingRate": fmt(rate, 8),
                    "fundingTime": at_ms,
                    "markPrice": fmt(mark, 8),
                }
            )
            if m.position.amount == 0:
                continue
            payment = -(m.position.amount * mark * rate).quantize(Decimal("0.00000001"))
            self.wallet += payment
            self.update_time = at_ms
            self._record_income(symbol, "FUNDING_FEE", payment, at_ms, None)
            paid.append(self.income[-1])
            self._emit_account_update("FUNDING_FEE", m)
        return paid

    def _record_income(
        self, symbol: str, kind: str, amount: Decimal, t_ms: int, trade_id: int | None
    ) -> None:
        self._next_tran_id += 1
        self.income.append(
            {
                "symbol": symbol,
                "incomeType": kind,
                "income": fmt(amount.quantize(Decimal("0.00000001"))),
                "asset": "USDT",
                "info": kind,
                "time": t_ms,
                "tranId": self._next_tran_id,
                "tradeId": "" if trade_id is None else str(trade_id),
            }
        )

    # ----------------------------------------------------------------- events
    def _emit_order(
        self,
        o: Order,
        execution: str,
        last_qty: Decimal = ZERO,
        last_price: Decimal = ZERO,
        fee: Decimal = ZERO,
        trade_id: int = 0,
        maker: bool = False,
        realized: Decimal = ZERO,
    ) -> None:
        t = now_ms()
        self._emit(
            {
                "e": "ORDER_TRADE_UPDATE",
                "E": t,
                "T": t,
                "o": {
                    "s": o.symbol,
                    "c": o.client_order_id,
                    "S": o.side,
                    "o": o.type,
                    "f": o.time_in_force,
                    "q": fmt(o.orig_qty),
                    "p": fmt(o.price),
                    "ap": fmt(o.avg_price),
                    "sp": "0",
                    "x": execution,
                    "X": o.status,
                    "i": o.order_id,
                    "l": fmt(last_qty),
                    "z": fmt(o.executed_qty),
                    "L": fmt(last_price),
                    "N": "USDT",
                    "n": fmt(fee),
                    "T": t,
                    "t": trade_id,
                    "b": "0",
                    "a": "0",
                    "m": maker,
                    "R": o.reduce_only,
                    "wt": "CONTRACT_PRICE",
                    "ot": o.type,
                    "ps": "BOTH",
                    "cp": False,
                    "rp": fmt(realized),
                    "pP": False,
                    "si": 0,
                    "ss": 0,
                    "V": "EXPIRE_MAKER",
                    "pm": "NONE",
                    "gtd": 0,
                },
            }
        )

    def _emit_account_update(self, reason: str, m: Market | None) -> None:
        t = now_ms()
        positions = []
        if m is not None:
            p = m.position
            positions.append(
                {
                    "s": m.spec.symbol,
                    "pa": fmt(p.amount),
                    "ep": fmt(p.entry_price),
                    "bep": fmt(p.entry_price),
                    "cr": fmt(p.realized),
                    "up": fmt(self.unrealized(m)),
                    "mt": "cross",
                    "iw": "0",
                    "ps": "BOTH",
                }
            )
        self._emit(
            {
                "e": "ACCOUNT_UPDATE",
                "E": t,
                "T": t,
                "a": {
                    "m": reason,
                    "B": [{"a": "USDT", "wb": fmt(self.wallet), "cw": fmt(self.wallet), "bc": "0"}],
                    "P": positions,
                },
            }
        )
