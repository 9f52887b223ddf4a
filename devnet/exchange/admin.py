"""A small Python client for the simulator's `/admin` endpoints (tests and the local stack)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx


class ExchangeAdmin:
    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        r = await self._http.post(path, json=body or {})
        r.raise_for_status()
        return r.json()

    async def add_fault(
        self,
        kind: str,
        *,
        path: str = ".*",
        method: str | None = None,
        count: int | None = 1,
        skip: int = 0,
        probability: float = 1.0,
        delay: float = 0.0,
        status: int | None = None,
        retry_after: int = 1,
        code: int | None = None,
        msg: str | None = None,
        duration: float | None = None,
    ) -> dict[str, Any]:
        """Open a fault window: `count` matching requests (None = any number) and/or for
        `duration` seconds."""
        result: dict[str, Any] = await self._post(
            "/admin/faults",
            {
                "kind": kind,
                "path": path,
                "method": method,
                "count": count,
                "skip": skip,
                "probability": probability,
                "delay": delay,
                "status": status,
                "retry_after": retry_after,
                "code": code,
                "msg": msg,
                "duration": duration,
            },
        )
        return result

    async def faults(self) -> list[dict[str, Any]]:
        r = await self._http.get("/admin/faults")
        r.raise_for_status()
        result: list[dict[str, Any]] = r.json()
        return result

    async def clear_faults(self) -> None:
        r = await self._http.delete("/admin/faults")
        r.raise_for_status()

    async def set_price(self, symbol: str, price: Decimal | str, freeze: bool = True) -> None:
        await self._post("/admin/price", {"symbol": symbol, "price": str(price), "freeze": freeze})

    async def touch_price(self, symbol: str, price: Decimal | str) -> None:
        """Trade at `price` for one match, then back (one chunk of a crossed LIMIT order)."""
        await self._post("/admin/price/touch", {"symbol": symbol, "price": str(price)})

    async def step_prices(self, steps: int = 1) -> dict[str, str]:
        result: dict[str, str] = await self._post("/admin/price/step", {"steps": steps})
        return result

    async def freeze(self, frozen: bool = True) -> None:
        await self._post("/admin/freeze", {"frozen": frozen})

    async def credit(self, amount: Decimal | str) -> None:
        await self._post("/admin/balance/credit", {"amount": str(amount)})

    async def set_fill_delay(self, seconds: float, duration: float | None = None) -> None:
        await self._post("/admin/fills/delay", {"seconds": seconds, "duration": duration})

    async def set_event_delay(self, seconds: float, duration: float | None = None) -> None:
        await self._post("/admin/events/delay", {"seconds": seconds, "duration": duration})

    async def disconnect_websockets(self, refuse: int = 0, duration: float | None = None) -> int:
        result = await self._post("/admin/ws/disconnect", {"refuse": refuse, "duration": duration})
        return int(result["closed"])

    async def _get(self, path: str, **params: Any) -> Any:
        r = await self._http.get(path, params={k: v for k, v in params.items() if v is not None})
        r.raise_for_status()
        return r.json()

    async def orders(
        self, *, client_order_id: str | None = None, prefix: str | None = None,
        quote: int | None = None, symbol: str | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Every order the simulator accepted (oldest first), optionally filtered."""
        result: list[dict[str, Any]] = await self._get(
            "/admin/orders",
            clientOrderId=client_order_id,
            prefix=prefix,
            quote=quote,
            symbol=symbol,
        )
        return result

    async def trades(
        self, *, client_order_id: str | None = None, prefix: str | None = None,
        quote: int | None = None, symbol: str | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Every fill, with the client order id of its order."""
        result: list[dict[str, Any]] = await self._get(
            "/admin/trades",
            clientOrderId=client_order_id,
            prefix=prefix,
            quote=quote,
            symbol=symbol,
        )
        return result

    async def placements(
        self, *, client_order_id: str | None = None, prefix: str | None = None,
        quote: int | None = None, symbol: str | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Every placement attempt that reached the engine, accepted or refused."""
        result: list[dict[str, Any]] = await self._get(
            "/admin/placements",
            clientOrderId=client_order_id,
            prefix=prefix,
            quote=quote,
            symbol=symbol,
        )
        return result

    async def audit(
        self, *, prefix: str | None = None, quote: int | None = None, symbol: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._get(
            "/admin/audit", prefix=prefix, quote=quote, symbol=symbol
        )
        return result

    async def set_funding_rate(
        self, symbol: str, rate: Decimal | str, interval_hours: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"symbol": symbol, "rate": str(rate)}
        if interval_hours is not None:
            body["interval_hours"] = interval_hours
        result: dict[str, Any] = await self._post("/admin/funding", body)
        return result

    async def settle_funding(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """One funding event now (for `symbol`, or every symbol); the FUNDING_FEE rows written."""
        result: list[dict[str, Any]] = await self._post(
            "/admin/funding/settle", {} if symbol is None else {"symbol": symbol}
        )
        return result

    async def funding(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._get("/admin/funding")
        return result

    async def reset(self) -> None:
        await self._post("/admin/reset")

    async def state(self) -> dict[str, Any]:
        r = await self._http.get("/admin/state")
        r.raise_for_status()
        result: dict[str, Any] = r.json()
        return result
