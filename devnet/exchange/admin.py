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
    ) -> dict[str, Any]:
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

    async def step_prices(self, steps: int = 1) -> dict[str, str]:
        result: dict[str, str] = await self._post("/admin/price/step", {"steps": steps})
        return result

    async def freeze(self, frozen: bool = True) -> None:
        await self._post("/admin/freeze", {"frozen": frozen})

    async def credit(self, amount: Decimal | str) -> None:
        await self._post("/admin/balance/credit", {"amount": str(amount)})

    async def set_fill_delay(self, seconds: float) -> None:
        await self._post("/admin/fills/delay", {"seconds": seconds})

    async def set_event_delay(self, seconds: float) -> None:
        await self._post("/admin/events/delay", {"seconds": seconds})

    async def disconnect_websockets(self, refuse: int = 0) -> int:
        result = await self._post("/admin/ws/disconnect", {"refuse": refuse})
        return int(result["closed"])

    async def reset(self) -> None:
        await self._post("/admin/reset")

    async def state(self) -> dict[str, Any]:
        r = await self._http.get("/admin/state")
        r.raise_for_status()
        result: dict[str, Any] = r.json()
        return result
