"""`/admin/...`: switch faults, move prices, credit the account, reset — at run time."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Body, FastAPI, HTTPException

from devnet.exchange.engine import fmt

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

    @app.post("/admin/fills/delay")
    async def fill_delay(body: Annotated[dict[str, Any], Body()]) -> dict[str, float]:
        eng.fill_delay = float(body.get("seconds", 0))
        return {"seconds": eng.fill_delay}

    @app.post("/admin/events/delay")
    async def event_delay(body: Annotated[dict[str, Any], Body()]) -> dict[str, float]:
        eng.event_delay = float(body.get("seconds", 0))
        return {"seconds": eng.event_delay}

    @app.post("/admin/ws/disconnect")
    async def ws_disconnect(
        body: Annotated[dict[str, Any] | None, Body()] = None,
    ) -> dict[str, int]:
        sim.refuse_streams = int((body or {}).get("refuse", 0))
        closed = await sim.disconnect_streams()
        return {"closed": closed, "refuse": sim.refuse_streams}

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
            "ws_connections": len(sim.streams),
            "ws_connects": sim.ws_connects,
            "listen_key": sim.listen_key,
        }
