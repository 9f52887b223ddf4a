"""FastAPI app speaking the subset of Binance USD-M futures that ccxt's `binanceusdm` uses."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from devnet.exchange.config import ExchangeConfig
from devnet.exchange.engine import ApiError, Engine, Market, fmt, now_ms
from devnet.exchange.faults import FaultBook

log = logging.getLogger("devnet.exchange")


class Simulator:
    """Everything the app holds: the engine, the fault book, listen keys and open user streams."""

    def __init__(self, config: ExchangeConfig) -> None:
        self.config = config
        self.engine = Engine(config)
        self.faults = FaultBook(seed=config.seed)
        self.engine.fault_delay = self.fault_delay
        self.listen_key: str | None = None
        self.streams: set[WebSocket] = set()
        self.refuse_streams = 0  # refuse this many new user-stream connections
        self.ws_connects = 0

    def reset(self) -> None:
        self.engine.reset()
        self.faults.clear()
        self.refuse_streams = 0

    def fault_delay(self, kind: str) -> float:
        """Delay of an open fill_delay / event_delay window (one use counted), else 0."""
        fault = self.faults.active(kind, consume=True)
        return fault.delay if fault is not None else 0.0

    def refuse_stream(self) -> bool:
        """Whether a new user-stream connection is refused now (admin knob or ws_drop window)."""
        if self.refuse_streams > 0:
            self.refuse_streams -= 1
            return True
        return self.faults.active("ws_drop", consume=True) is not None

    async def disconnect_streams(self) -> int:
        closed = 0
        for ws in list(self.streams):
            with contextlib.suppress(Exception):
                await ws.close(code=1001)
                closed += 1
        self.streams.clear()
        return closed


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse({"code": exc.code, "msg": exc.msg}, status_code=exc.status)


def _dec(params: dict[str, str], name: str, required: bool = True) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise ApiError(
                -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
            )
        return None
    try:
        return Decimal(raw)
    except InvalidOperation as exc:
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'.") from exc


def _bool(params: dict[str, str], name: str) -> bool:
    return params.get(name, "false").lower() == "true"


async def _params(request: Request) -> tuple[dict[str, str], str]:
    """Merged query + form params, and the exact string that was signed (Binance: query then body)."""
    query = request.url.query
    body = (await request.body()).decode() if request.method in ("POST", "PUT") else ""
    total = query + body if query and body else (query or body)
    params = dict(parse_qsl(query, keep_blank_values=True))
    params.update(dict(parse_qsl(body, keep_blank_values=True)))
    return params, total


def create_app(config: ExchangeConfig | None = None) -> FastAPI:
    cfg = config or ExchangeConfig()
    sim = Simulator(cfg)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def ticker() -> None:
            while True:
                await asyncio.sleep(cfg.tick_interval)
                try:
                    sim.engine.tick()
                except Exception:  # keep ticking; a bug here must not freeze prices silently
                    log.exception("price tick failed")

        async def funding() -> None:
            while True:  # wake at each funding time; settle every epoch that came due, once
                # at most a second: an admin may shorten a symbol's interval meanwhile
                wait = (sim.engine.next_funding_ms - now_ms()) / 1000
                await asyncio.sleep(min(1.0, max(0.01, wait)))
                try:
                    sim.engine.settle_funding_due()
                except Exception:
                    log.exception("funding settlement failed")

        tasks = [asyncio.create_task(funding())]
        if cfg.tick_interval > 0:
            tasks.append(asyncio.create_task(ticker()))
        yield
        for task in tasks:
            task.cancel()
        await sim.disconnect_streams()

    app = FastAPI(title="devnet exchange (Binance USD-M compatible)", lifespan=lifespan)
    app.state.sim = sim
    eng = sim.engine

    # ------------------------------------------------------------ faults (HTTP)
    @app.middleware("http")
    async def inject_faults(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        if path.startswith("/admin"):
            return await call_next(request)
        method = request.method
        pre = sim.faults.take(
            method, path, ("latency", "http_error", "rate_limit", "timeout", "reject")
        )
        if pre is not None:
            if pre.kind == "latency":
                await asyncio.sleep(pre.delay)
            elif pre.kind == "http_error":
                status = pre.status or 503
                return PlainTextResponse(
                    f"<html><body><h1>{status} Service Unavailable</h1></body></html>",
                    status_code=status,
                    media_type="text/html",
                )
            elif pre.kind == "rate_limit":
                status = pre.status or 429
                return JSONResponse(
                    {
                        "code": -1003,
                        "msg": "Too many requests; current limit of IP is 2400 requests per minute.",
                    },
                    status_code=status,
                    headers={"Retry-After": str(pre.retry_after)},
                )
            elif pre.kind == "timeout":
                await asyncio.sleep(pre.delay or 30.0)
                return PlainTextResponse("gateway timeout", status_code=504)
            elif pre.kind == "reject":
                return JSONResponse(
                    {
                        "code": pre.code or -2010,
                        "msg": pre.msg or "Order would immediately trigger.",
                    },
                    status_code=pre.status or 400,
                )
        if method == "GET" and path.endswith("/order"):
            miss = sim.faults.take(method, path, ("lookup_miss",))
            if miss is not None:
                return JSONResponse(
                    {"code": -2013, "msg": "Order does not exist."}, status_code=400
                )
        post = sim.faults.take(method, path, ("ack_then_timeout",))
        response = await call_next(request)
        if post is not None:
            await asyncio.sleep(post.delay or 30.0)
        return response

    # ------------------------------------------------------------ auth
    def check_key(request: Request) -> None:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise ApiError(-2014, "API-key format invalid.", 401)
        if not hmac.compare_digest(key, cfg.api_key):
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)

    async def signed(request: Request) -> dict[str, str]:
        check_key(request)
        params, total = await _params(request)
        signature = params.pop("signature", None)
        if not signature:
            raise ApiError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        payload = "&".join(p for p in total.split("&") if not p.startswith("signature="))
        expected = hmac.new(cfg.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise ApiError(-1022, "Signature for this request is not valid.")
        ts_raw = params.get("timestamp")
        if not ts_raw or not ts_raw.isdigit():
            raise ApiError(
                -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            )
        recv_window = int(params.get("recvWindow", "5000"))
        if recv_window > cfg.max_recv_window:
            raise ApiError(-1131, f"recvWindow must be less than {cfg.max_recv_window}")
        ts, now = int(ts_raw), now_ms()
        if ts > now + 1000 or now - ts > recv_window:
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")
        return params

    def route(
        path: str, methods: list[str], private: bool = True
    ) -> Callable[[Callable[[dict[str, str]], Any]], Callable[[dict[str, str]], Any]]:
        def register(handler: Callable[[dict[str, str]], Any]) -> Callable[[dict[str, str]], Any]:
            async def endpoint(request: Request) -> Response:
                try:
                    if private:
                        params = await signed(request)
                    else:
                        params, _ = await _params(request)
                    result = handler(params)
                    if asyncio.iscoroutine(result):
                        result = await result
                    return JSONResponse(result)
                except ApiError as exc:
                    return _error(exc)

            app.add_api_route(path, endpoint, methods=methods, include_in_schema=False)
            return handler

        return register

    # ------------------------------------------------------------ public market data
    def market_json(m: Market) -> dict[str, Any]:
        s = m.spec
        return {
            "symbol": s.symbol,
            "pair": s.symbol,
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": s.base,
            "quoteAsset": s.quote,
            "marginAsset": s.quote,
            "pricePrecision": m.price_places,
            "quantityPrecision": m.qty_places,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "settlePlan": 0,
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": fmt(s.tick_size),
                    "maxPrice": "10000000",
                    "tickSize": fmt(s.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "stepSize": fmt(s.step_size),
                    "maxQty": fmt(s.max_qty),
                    "minQty": fmt(s.min_qty),
                },
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "stepSize": fmt(s.step_size),
                    "maxQty": fmt(s.max_qty),
                    "minQty": fmt(s.min_qty),
                },
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": fmt(s.min_notional)},
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": "1.0500",
                    "multiplierDown": "0.9500",
                    "multiplierDecimal": "4",
                },
            ],
            "orderTypes": [
                "LIMIT",
                "MARKET",
                "STOP",
                "STOP_MARKET",
                "TAKE_PROFIT",
                "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET",
            ],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
            "permissionSets": ["GRID", "COPY"],
        }

    @route("/fapi/v1/ping", ["GET"], private=False)
    def ping(params: dict[str, str]) -> dict[str, Any]:
        return {}

    @route("/fapi/v1/time", ["GET"], private=False)
    def server_time(params: dict[str, str]) -> dict[str, Any]:
        return {"serverTime": now_ms()}

    @route("/fapi/v1/exchangeInfo", ["GET"], private=False)
    def exchange_info(params: dict[str, str]) -> dict[str, Any]:
        quotes = sorted({m.spec.quote for m in eng.markets.values()})
        return {
            "timezone": "UTC",
            "serverTime": now_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 2400,
                },
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
            ],
            "exchangeFilters": [],
            "assets": [
                {"asset": q, "marginAvailable": True, "autoAssetExchange": "-10000"} for q in quotes
            ],
            "symbols": [market_json(m) for m in eng.markets.values()],
        }

    def ticker24(m: Market) -> dict[str, Any]:
        path, t = m.path, now_ms()
        change = path.mid - path.open
        return {
            "symbol": m.spec.symbol,
            "priceChange": fmt(change),
            "priceChangePercent": fmt((change / path.open * 100).quantize(Decimal("0.001"))),
            "weightedAvgPrice": fmt(path.mid),
            "lastPrice": fmt(path.mid),
            "lastQty": fmt(m.spec.min_qty),
            "openPrice": fmt(path.open),
            "highPrice": fmt(path.high),
            "lowPrice": fmt(path.low),
            "volume": "0",
            "quoteVolume": "0",
            "openTime": t - 86_400_000,
            "closeTime": t,
            "firstId": 0,
            "lastId": 0,
            "count": 0,
        }

    def many(params: dict[str, str], fn: Callable[[Market], dict[str, Any]]) -> Any:
        if params.get("symbol"):
            return fn(eng.market(params["symbol"]))
        return [fn(m) for m in eng.markets.values()]

    @route("/fapi/v1/ticker/24hr", ["GET"], private=False)
    def ticker_24hr(params: dict[str, str]) -> Any:
        return many(params, ticker24)

    def book_ticker(m: Market) -> dict[str, Any]:
        bid, ask = eng.bid_ask(m)
        bids, asks = eng.depth(m, 1)
        return {
            "symbol": m.spec.symbol,
            "bidPrice": fmt(bid),
            "bidQty": bids[0][1] if bids else "0",
            "askPrice": fmt(ask),
            "askQty": asks[0][1],
            "time": now_ms(),
            "lastUpdateId": now_ms(),
        }

    @route("/fapi/v1/ticker/bookTicker", ["GET"], private=False)
    def book_ticker_route(params: dict[str, str]) -> Any:
        return many(params, book_ticker)

    def price_ticker(m: Market) -> dict[str, Any]:
        return {"symbol": m.spec.symbol, "price": fmt(m.path.mid), "time": now_ms()}

    @route("/fapi/v1/ticker/price", ["GET"], private=False)
    def ticker_price(params: dict[str, str]) -> Any:
        return many(params, price_ticker)

    @route("/fapi/v2/ticker/price", ["GET"], private=False)
    def ticker_price_v2(params: dict[str, str]) -> Any:
        return many(params, price_ticker)

    @route("/fapi/v1/depth", ["GET"], private=False)
    def depth(params: dict[str, str]) -> dict[str, Any]:
        m = eng.market(params.get("symbol"))
        bids, asks = eng.depth(m, int(params.get("limit", "20")))
        t = now_ms()
        return {"lastUpdateId": t, "E": t, "T": t, "bids": bids, "asks": asks}

    def premium(m: Market) -> dict[str, Any]:
        t = now_ms()
        return {
            "symbol": m.spec.symbol,
            "markPrice": fmt(eng.mark(m)),
            "indexPrice": fmt(m.path.mid),
            "estimatedSettlePrice": fmt(m.path.mid),
            "lastFundingRate": fmt(eng.funding_rates[m.spec.symbol], 8),
            "interestRate": "0.00010000",
            "nextFundingTime": eng.next_funding[m.spec.symbol],
            "time": t,
        }

    @route("/fapi/v1/premiumIndex", ["GET"], private=False)
    def premium_index(params: dict[str, str]) -> Any:
        return many(params, premium)

    def _window(
        rows: list[dict[str, Any]], params: dict[str, str], key: str, default_limit: int
    ) -> list[dict[str, Any]]:
        """Binance's startTime/endTime/limit paging: oldest first; without a start, the newest."""
        limit = min(int(params.get("limit", default_limit)), 1000)
        if params.get("startTime"):
            rows = [r for r in rows if r[key] >= int(params["startTime"])]
        if params.get("endTime"):
            rows = [r for r in rows if r[key] <= int(params["endTime"])]
        return rows[:limit] if params.get("startTime") else rows[-limit:]

    @route("/fapi/v1/fundingInfo", ["GET"], private=False)
    def funding_info(params: dict[str, str]) -> list[dict[str, Any]]:
        """As Binance: only the symbols whose funding interval was set apart from the default
        (the rest pay every `funding_interval`, 8 h)."""
        return [
            {
                "symbol": symbol,
                "adjustedFundingRateCap": "0.03000000",
                "adjustedFundingRateFloor": "-0.03000000",
                "fundingIntervalHours": int(seconds // 3600),
                "disclaimer": False,
            }
            for symbol, seconds in sorted(eng.funding_intervals.items())
        ]

    @route("/fapi/v1/fundingRate", ["GET"], private=False)
    def funding_rate_history(params: dict[str, str]) -> list[dict[str, Any]]:
        rows = eng.funding_history
        if params.get("symbol"):
            sym = eng.market(params["symbol"]).spec.symbol
            rows = [r for r in rows if r["symbol"] == sym]
        return _window(rows, params, "fundingTime", 100)

    @route("/fapi/v1/income", ["GET"])
    def income(params: dict[str, str]) -> list[dict[str, Any]]:
        rows = eng.income
        if params.get("symbol"):
            sym = eng.market(params["symbol"]).spec.symbol
            rows = [r for r in rows if r["symbol"] == sym]
        if params.get("incomeType"):
            rows = [r for r in rows if r["incomeType"] == params["incomeType"]]
        return _window(rows, params, "time", 100)

    # ------------------------------------------------------------ account
    @route("/fapi/v1/leverage", ["POST"])
    def leverage(params: dict[str, str]) -> dict[str, Any]:
        lev = params.get("leverage", "")
        if not lev.isdigit():
            raise ApiError(
                -1102, "Mandatory parameter 'leverage' was not sent, was empty/null, or malformed."
            )
        m = eng.set_leverage(params.get("symbol", ""), int(lev))
        return {"leverage": m.leverage, "maxNotionalValue": "1000000000", "symbol": m.spec.symbol}

    @route("/fapi/v1/leverageBracket", ["GET"])
    def leverage_bracket(params: dict[str, str]) -> Any:
        def one(m: Market) -> dict[str, Any]:
            return {
                "symbol": m.spec.symbol,
                "notionalCoef": 1.0,
                "brackets": [
                    {
                        "bracket": 1,
                        "initialLeverage": m.spec.max_leverage,
                        "notionalCap": 10_000_000,
                        "notionalFloor": 0,
                        "maintMarginRatio": 0.004,
                        "cum": 0.0,
                    }
                ],
            }

        if params.get("symbol"):
            return [one(eng.market(params["symbol"]))]
        return [one(m) for m in eng.markets.values()]

    @route("/fapi/v1/positionSide/dual", ["GET"])
    def position_mode(params: dict[str, str]) -> dict[str, Any]:
        return {"dualSidePosition": False}

    @route("/fapi/v1/multiAssetsMargin", ["GET"])
    def multi_assets(params: dict[str, str]) -> dict[str, Any]:
        return {"multiAssetsMargin": False}

    def position_json(m: Market, with_leverage: bool) -> dict[str, Any]:
        p = m.position
        mark = eng.mark(m)
        notional = p.amount * mark
        data: dict[str, Any] = {
            "symbol": m.spec.symbol,
            "positionSide": "BOTH",
            "positionAmt": fmt(p.amount),
            "entryPrice": fmt(p.entry_price),
            "breakEvenPrice": fmt(p.entry_price),
            "markPrice": fmt(mark),
            "unRealizedProfit": fmt(eng.unrealized(m)),
            "liquidationPrice": "0",
            "isolatedMargin": "0",
            "notional": fmt(notional),
            "marginAsset": m.spec.quote,
            "isolatedWallet": "0",
            "initialMargin": fmt(eng.position_margin(m) + eng.open_order_margin(m)),
            "maintMargin": fmt(abs(notional) * Decimal("0.004")),
            "positionInitialMargin": fmt(eng.position_margin(m)),
            "openOrderInitialMargin": fmt(eng.open_order_margin(m)),
            "adl": 0,
            "bidNotional": "0",
            "askNotional": "0",
            "updateTime": p.update_time,
        }
        if with_leverage:
            data.update(
                {
                    "leverage": str(m.leverage),
                    "marginType": "cross",
                    "isAutoAddMargin": "false",
                    "maxNotionalValue": "1000000000",
                }
            )
        return data

    def wanted(params: dict[str, str]) -> list[Market]:
        if params.get("symbol"):
            return [eng.market(params["symbol"])]
        return list(eng.markets.values())

    @route("/fapi/v3/positionRisk", ["GET"])
    def position_risk_v3(params: dict[str, str]) -> Any:
        return [
            position_json(m, False)
            for m in wanted(params)
            if m.position.amount != 0 or eng.open_order_margin(m) != 0
        ]

    @route("/fapi/v2/positionRisk", ["GET"])
    def position_risk_v2(params: dict[str, str]) -> Any:
        return [position_json(m, True) for m in wanted(params)]

    def account(version: int) -> dict[str, Any]:
        t = eng.totals()
        im = t["pim"] + t["oim"]
        asset = {
            "asset": "USDT",
            "walletBalance": fmt(t["wallet"]),
            "unrealizedProfit": fmt(t["upnl"]),
            "marginBalance": fmt(t["margin_balance"]),
            "maintMargin": fmt(t["maint"]),
            "initialMargin": fmt(im),
            "positionInitialMargin": fmt(t["pim"]),
            "openOrderInitialMargin": fmt(t["oim"]),
            "crossWalletBalance": fmt(t["wallet"]),
            "crossUnPnl": fmt(t["upnl"]),
            "availableBalance": fmt(t["available"]),
            "maxWithdrawAmount": fmt(max(t["available"], Decimal(0))),
            "marginAvailable": True,
            "updateTime": eng.update_time,
        }
        positions = [
            {
                "symbol": m.spec.symbol,
                "positionSide": "BOTH",
                "positionAmt": fmt(m.position.amount),
                "unrealizedProfit": fmt(eng.unrealized(m)),
                "isolatedMargin": "0",
                "notional": fmt(m.position.amount * eng.mark(m)),
                "isolatedWallet": "0",
                "initialMargin": fmt(eng.position_margin(m)),
                "maintMargin": "0",
                "updateTime": m.position.update_time,
            }
            | (
                {
                    "leverage": str(m.leverage),
                    "entryPrice": fmt(m.position.entry_price),
                    "isolated": False,
                }
                if version == 2
                else {}
            )
            for m in eng.markets.values()
            if version == 2 or m.position.amount != 0
        ]
        return {
            "feeTier": 0,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
            "totalInitialMargin": fmt(im),
            "totalMaintMargin": fmt(t["maint"]),
            "totalWalletBalance": fmt(t["wallet"]),
            "totalUnrealizedProfit": fmt(t["upnl"]),
            "totalMarginBalance": fmt(t["margin_balance"]),
            "totalPositionInitialMargin": fmt(t["pim"]),
            "totalOpenOrderInitialMargin": fmt(t["oim"]),
            "totalCrossWalletBalance": fmt(t["wallet"]),
            "totalCrossUnPnl": fmt(t["upnl"]),
            "availableBalance": fmt(t["available"]),
            "maxWithdrawAmount": fmt(max(t["available"], Decimal(0))),
            "assets": [asset],
            "positions": positions,
        }

    @route("/fapi/v3/account", ["GET"])
    def account_v3(params: dict[str, str]) -> dict[str, Any]:
        return account(3)

    @route("/fapi/v2/account", ["GET"])
    def account_v2(params: dict[str, str]) -> dict[str, Any]:
        return account(2)

    @route("/fapi/v2/balance", ["GET"])
    @route("/fapi/v3/balance", ["GET"])
    def balance(params: dict[str, str]) -> list[dict[str, Any]]:
        a = account(3)["assets"][0]
        return [
            {
                "accountAlias": "devnet",
                "asset": "USDT",
                "balance": a["walletBalance"],
                "crossWalletBalance": a["crossWalletBalance"],
                "crossUnPnl": a["crossUnPnl"],
                "availableBalance": a["availableBalance"],
                "maxWithdrawAmount": a["maxWithdrawAmount"],
                "marginAvailable": True,
                "updateTime": eng.update_time,
            }
        ]

    # ------------------------------------------------------------ orders
    def order_json(o: Any) -> dict[str, Any]:
        data: dict[str, Any] = o.to_binance(eng.markets[o.symbol].price_places)
        return data

    @route("/fapi/v1/order", ["POST"])
    def new_order(params: dict[str, str]) -> dict[str, Any]:
        qty = _dec(params, "quantity")
        assert qty is not None
        o = eng.place(
            params.get("symbol", ""),
            params.get("side", "").upper(),
            params.get("type", "").upper(),
            qty,
            _dec(params, "price", required=False),
            params.get("timeInForce"),
            _bool(params, "reduceOnly"),
            params.get("newClientOrderId"),
        )
        return order_json(o)

    @route("/fapi/v1/order", ["GET"])
    def get_order(params: dict[str, str]) -> dict[str, Any]:
        return order_json(
            eng.find(
                params.get("symbol", ""), params.get("orderId"), params.get("origClientOrderId")
            )
        )

    @route("/fapi/v1/order", ["DELETE"])
    def delete_order(params: dict[str, str]) -> dict[str, Any]:
        return order_json(
            eng.cancel(
                params.get("symbol", ""), params.get("orderId"), params.get("origClientOrderId")
            )
        )

    @route("/fapi/v1/openOrders", ["GET"])
    def open_orders(params: dict[str, str]) -> list[dict[str, Any]]:
        sym = params.get("symbol")
        if sym:
            eng.market(sym)
        return [
            order_json(o) for o in eng.orders.values() if o.is_open and (not sym or o.symbol == sym)
        ]

    @route("/fapi/v1/allOrders", ["GET"])
    def all_orders(params: dict[str, str]) -> list[dict[str, Any]]:
        sym = eng.market(params.get("symbol")).spec.symbol
        limit = int(params.get("limit", "500"))
        found = [order_json(o) for o in eng.orders.values() if o.symbol == sym]
        return found[-limit:]

    @route("/fapi/v1/allOpenOrders", ["DELETE"])
    def cancel_all(params: dict[str, str]) -> dict[str, Any]:
        sym = eng.market(params.get("symbol")).spec.symbol
        for o in list(eng.orders.values()):
            if o.symbol == sym and o.is_open:
                eng.cancel(sym, str(o.order_id), None)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    @route("/fapi/v1/userTrades", ["GET"])
    def user_trades(params: dict[str, str]) -> list[dict[str, Any]]:
        sym = eng.market(params.get("symbol")).spec.symbol
        trades = [t for t in eng.trades if t["symbol"] == sym]
        if params.get("orderId"):
            trades = [t for t in trades if str(t["orderId"]) == params["orderId"]]
        if params.get("startTime"):
            trades = [t for t in trades if t["time"] >= int(params["startTime"])]
        if params.get("endTime"):
            trades = [t for t in trades if t["time"] <= int(params["endTime"])]
        if params.get("fromId"):
            trades = [t for t in trades if t["id"] >= int(params["fromId"])]
        # Binance's userTrades rows carry no client order id (the audit trail keeps it)
        return [
            {k: v for k, v in t.items() if k != "clientOrderId"}
            for t in trades[: int(params.get("limit", "500"))]
        ]

    # ------------------------------------------------------------ user data stream
    async def listen_key(request: Request) -> Response:
        try:
            check_key(request)
        except ApiError as exc:
            return _error(exc)
        if request.method == "POST":
            if sim.listen_key is None:
                sim.listen_key = secrets.token_urlsafe(48)
            return JSONResponse({"listenKey": sim.listen_key})
        if request.method == "DELETE":
            sim.listen_key = None
            await sim.disconnect_streams()
            return JSONResponse({})
        if sim.listen_key is None:
            return _error(ApiError(-1125, "This listenKey does not exist."))
        return JSONResponse({"listenKey": sim.listen_key})

    app.add_api_route(
        "/fapi/v1/listenKey", listen_key, methods=["POST", "PUT", "DELETE"], include_in_schema=False
    )

    @app.websocket("/private/ws")
    @app.websocket("/ws/{key}")
    async def user_stream(websocket: WebSocket, key: str | None = None) -> None:
        listen = key or websocket.query_params.get("listenKey")
        if not listen or listen != sim.listen_key or sim.refuse_stream():
            await websocket.close(code=1008)
            return
        await websocket.accept()
        sim.ws_connects += 1
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        eng.subscribe(queue.put_nowait)
        sim.streams.add(websocket)

        async def pump() -> None:
            while True:
                event = await queue.get()
                await websocket.send_json(event)

        sender = asyncio.create_task(pump())
        try:
            while True:
                await websocket.receive_text()
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            sender.cancel()
            eng.unsubscribe(queue.put_nowait)
            sim.streams.discard(websocket)

    # ------------------------------------------------------------ admin
    from devnet.exchange.admin_routes import add_admin_routes

    add_admin_routes(app, sim)
    return app
