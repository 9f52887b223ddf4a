"""`/admin/...`: switch faults, move prices, credit the account, reset — at run time; and the
simulator's own records (orders, trades, placement attempts, funding) for an auditor."""

from __future__ import annotations

import re
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Body, FastAPI, HTTPException, Query

from devnet.exchange.engine import ZERO, fmt, now_ms

# the hedger's client order ids: h<quoteId>o<n> (open) and h<quoteId>c<closeId>n<n> (close)
HEDGER_CLIENT_ID = re.compile(r"^h(?P<quote>\d+)(?:o(?P<n>\d+)|c(?P<close>\d+)n(?P<cn>\d+))$")


def quote_of(client_order_id: str | None) -> int | None:
    """The quote id a hedger client order id belongs to (None for anything else)."""
    m = HEDGER_CLIENT_ID.match(client_order_id or "")
    return int(m["quote"]) if m else None


def _select(
    rows: list[dict[str, Any]],
    client_order_id: str | None,
    prefix: str | None,
    quote: int | None,
    symbol: str | None,
) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        cid = str(row.get("clientOrderId") or "")
        if client_order_id is not None and cid != client_order_id:
            continue
        if prefix is not None and not cid.startswith(prefix):
            continue
        if quote is not None and quote_of(cid) != quote:
            continue
        if symbol is not None and row.get("symbol") != symbol:
            continue
        out.append(row)
    return out


if TYPE_CHECKING:
    from devnet.exchange.app import Simulator


def add_admin_routes(app: FastAPI, sim: Simulator) -> None:
    eng = sim.engine

    @app.post("/admin/faults")
    async def add_fault(spec: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        try:
            fault = sim.faults.add(spec)
        except (ValueError, TypeError) as exc:
            raise HTTPException(400, str(exc)) from exc
        if fault.kind == "ws_drop":  # the drop itself; the window then refuses reconnects
            await sim.disconnect_streams()
        return asdict(fault)

    @app.get("/admin/faults")
    async def list_faults() -> list[dict[str, Any]]:
        return sim.faults.describe()

    @app.delete("/admin/faults")
    async def clear_faults() -> dict[str, Any]:
        sim.faults.clear()
        eng.fill_delay = 0.0
        eng.event_delay = 0.0
        sim.refuse_streams = 0
        return {"cleared": True}

    @app.post("/admin/price")
    async def set_price(body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        symbol = str(body["symbol"])
        if symbol not in eng.markets:
            raise HTTPException(404, f"unknown symbol {symbol}")
        eng.set_price(symbol, Decimal(str(body["price"])), bool(body.get("freeze", True)))
        return {"symbol": symbol, "price": fmt(eng.markets[symbol].path.mid)}

    @app.post("/admin/price/touch")
    async def touch_price(body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        symbol = str(body["symbol"])
        if symbol not in eng.markets:
            raise HTTPException(404, f"unknown symbol {symbol}")
        eng.touch_price(symbol, Decimal(str(body["price"])))
        return {"symbol": symbol, "price": fmt(eng.markets[symbol].path.mid)}

    @app.post("/admin/price/step")
    async def step_price(body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, str]:
        for _ in range(int((body or {}).get("steps", 1))):
            eng.tick()
        return {s: fmt(m.path.mid) for s, m in eng.markets.items()}

    @app.post("/admin/freeze")
    async def freeze(body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
        frozen = bool((body or {}).get("frozen", True))
        for m in eng.markets.values():
            m.path.frozen = frozen
        return {"frozen": frozen}

    @app.post("/admin/balance/credit")
    async def credit(body: Annotated[dict[str, Any], Body()]) -> dict[str, str]:
        eng.credit(Decimal(str(body["amount"])))
        return {"wallet": fmt(eng.wallet)}

    def _window(kind: str, delay: float, duration: Any) -> None:
        sim.faults.add({"kind": kind, "delay": delay, "count": None, "duration": float(duration)})

    @app.post("/admin/fills/delay")
    async def fill_delay(body: Annotated[dict[str, Any], Body()]) -> dict[str, float]:
        """{seconds}: from now on; {seconds, duration}: only for `duration` seconds (a window)."""
        seconds = float(body.get("seconds", 0))
        if body.get("duration") is not None:
            _window("fill_delay", seconds, body["duration"])
        else:
            eng.fill_delay = seconds
        return {"seconds": seconds}

    @app.post("/admin/events/delay")
    async def event_delay(body: Annotated[dict[str, Any], Body()]) -> dict[str, float]:
        seconds = float(body.get("seconds", 0))
        if body.get("duration") is not None:
            _window("event_delay", seconds, body["duration"])
        else:
            eng.event_delay = seconds
        return {"seconds": seconds}

    @app.post("/admin/ws/disconnect")
    async def ws_disconnect(
        body: Annotated[dict[str, Any] | None, Body()] = None,
    ) -> dict[str, Any]:
        """Close every user stream; then refuse the next `refuse` connections and/or every
        connection for `duration` seconds."""
        body = body or {}
        sim.refuse_streams = int(body.get("refuse", 0))
        if body.get("duration") is not None:
            sim.faults.add({"kind": "ws_drop", "count": None, "duration": float(body["duration"])})
        closed = await sim.disconnect_streams()
        return {"closed": closed, "refuse": sim.refuse_streams}

    # ------------------------------------------------------------ funding
    @app.get("/admin/funding")
    async def funding_state() -> dict[str, Any]:
        return {
            "rates": {s: fmt(r, 8) for s, r in eng.funding_rates.items()},
            "interval_seconds": eng.config.funding_interval,
            "intervals": {s: eng.funding_interval_of(s) for s in eng.markets},
            "next_funding_time": eng.next_funding_ms,
            "next_funding_times": dict(eng.next_funding),
            "events": len(eng.funding_history),
        }

    @app.post("/admin/funding")
    async def set_funding(body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """{symbol, rate, interval_hours?}: the rate that symbol pays at its next funding time
        (and after); `interval_hours` (whole hours, as Binance's 4 h / 1 h symbols) moves it to
        its own funding interval, listed by GET /fapi/v1/fundingInfo."""
        symbol = str(body.get("symbol", ""))
        if symbol not in eng.markets:
            raise HTTPException(404, f"unknown symbol {symbol}")
        try:
            rate = Decimal(str(body["rate"]))
        except (KeyError, InvalidOperation) as exc:
            raise HTTPException(400, "rate: a decimal, e.g. 0.0001") from exc
        hours = body.get("interval_hours")
        if hours is not None:
            if not isinstance(hours, int) or isinstance(hours, bool) or hours <= 0:
                raise HTTPException(400, "interval_hours: a whole number of hours > 0")
            eng.set_funding_interval(symbol, hours * 3600.0)
        eng.set_funding_rate(symbol, rate)
        return {"symbol": symbol, "rate": fmt(rate, 8),
                "interval_seconds": eng.funding_interval_of(symbol),
                "next_funding_time": eng.next_funding[symbol]}  # fmt: skip

    @app.post("/admin/funding/settle")
    async def settle_funding_now(
        body: Annotated[dict[str, Any] | None, Body()] = None,
    ) -> list[dict[str, Any]]:
        """{symbol?}: one funding event now for that symbol (default: every symbol), at its
        current rate and mark, as if a funding time had come — what a test uses instead of
        waiting for one; the scheduled funding times are unchanged. Answers the FUNDING_FEE
        rows it wrote."""
        symbol = (body or {}).get("symbol")
        if symbol is not None and symbol not in eng.markets:
            raise HTTPException(404, f"unknown symbol {symbol}")
        return eng.settle_funding(now_ms(), None if symbol is None else [str(symbol)])

    # ------------------------------------------------------------ the audit trail
    @app.get("/admin/orders")
    async def orders(
        client_order_id: Annotated[str | None, Query(alias="clientOrderId")] = None,
        prefix: str | None = None,
        quote: int | None = None,
        symbol: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every order the engine accepted, oldest first (an id placed twice shows twice)."""
        rows = [
            o.to_binance(eng.markets[o.symbol].price_places)
            | {"commission": fmt(o.commission), "reduceOnly": o.reduce_only}
            for o in eng.orders.values()
        ]
        return _select(rows, client_order_id, prefix, quote, symbol)

    @app.get("/admin/trades")
    async def trades(
        client_order_id: Annotated[str | None, Query(alias="clientOrderId")] = None,
        prefix: str | None = None,
        quote: int | None = None,
        symbol: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every fill (qty, side, price, maker, fee) with the client order id of its order."""
        return _select(list(eng.trades), client_order_id, prefix, quote, symbol)

    @app.get("/admin/placements")
    async def placements(
        client_order_id: Annotated[str | None, Query(alias="clientOrderId")] = None,
        prefix: str | None = None,
        quote: int | None = None,
        symbol: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every order placement that reached the engine, accepted or refused (with the code)."""
        return _select(list(eng.placements), client_order_id, prefix, quote, symbol)

    @app.get("/admin/audit")
    async def audit(
        prefix: str | None = None, quote: int | None = None, symbol: str | None = None
    ) -> dict[str, Any]:
        """Per client order id: orders placed under it, refused placements, quantity bought and
        sold (from the trades), net signed quantity; and the same summed per hedger quote id."""
        per_id: dict[str, dict[str, Any]] = {}

        def entry(cid: str, sym: str) -> dict[str, Any]:
            return per_id.setdefault(
                cid,
                {"symbol": sym, "orders": 0, "refused": 0, "trades": 0,
                 "bought": ZERO, "sold": ZERO, "notional": ZERO},
            )  # fmt: skip

        for o in _select(list(eng.placements), None, prefix, quote, symbol):
            e = entry(str(o["clientOrderId"]), str(o["symbol"]))
            e["orders" if o["accepted"] else "refused"] += 1
        for t in _select(list(eng.trades), None, prefix, quote, symbol):
            e = entry(str(t["clientOrderId"]), str(t["symbol"]))
            e["trades"] += 1
            qty = Decimal(t["qty"])
            e["bought" if t["side"] == "BUY" else "sold"] += qty
            e["notional"] += qty * Decimal(t["price"])
        per_quote: dict[str, dict[str, Any]] = {}
        for cid, e in per_id.items():
            q = quote_of(cid)
            if q is None:
                continue
            agg = per_quote.setdefault(
                str(q), {"client_ids": [], "orders": 0, "bought": ZERO, "sold": ZERO}
            )
            agg["client_ids"].append(cid)
            agg["orders"] += e["orders"]
            agg["bought"] += e["bought"]
            agg["sold"] += e["sold"]

        def show(d: dict[str, Any]) -> dict[str, Any]:
            out = {k: fmt(v) if isinstance(v, Decimal) else v for k, v in d.items()}
            out["net"] = fmt(d["bought"] - d["sold"])
            return out

        return {
            "client_ids": {cid: show(e) for cid, e in per_id.items()},
            "quotes": {q: show(e) for q, e in per_quote.items()},
        }

    @app.post("/admin/reset")
    async def reset() -> dict[str, bool]:
        sim.reset()  # account, orders, prices, faults; open user streams stay subscribed
        return {"reset": True}

    @app.get("/admin/state")
    async def state() -> dict[str, Any]:
        totals = eng.totals()
        return {
            "wallet": fmt(eng.wallet),
            "available": fmt(totals["available"]),
            "prices": {s: fmt(m.path.mid) for s, m in eng.markets.items()},
            "positions": {
                s: {"amount": fmt(m.position.amount), "entry_price": fmt(m.position.entry_price)}
                for s, m in eng.markets.items()
                if m.position.amount != 0
            },
            "orders": [
                o.to_binance(eng.markets[o.symbol].price_places) for o in eng.orders.values()
            ],
            "funding_rates": {s: fmt(r, 8) for s, r in eng.funding_rates.items()},
            "next_funding_time": eng.next_funding_ms,
            "ws_connections": len(sim.streams),
            "ws_connects": sim.ws_connects,
            "listen_key": sim.listen_key,
        }
