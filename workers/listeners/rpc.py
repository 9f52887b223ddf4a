"""JSON-RPC over HTTP with fallback across several endpoints (the listeners' read path).

`HttpRpc.call` tries the endpoint that last worked first, then the others in order; transport
errors, HTTP errors, malformed replies and JSON-RPC errors all move on to the next URL. Only
when every URL failed does it raise `RpcError` (carrying the last error). Each failure is
counted per URL in `hedger_listener_rpc_errors_total`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import Any

import httpx
from prometheus_client import Counter

log = logging.getLogger(__name__)

RPC_ERRORS = Counter(
    "hedger_listener_rpc_errors_total",
    "JSON-RPC calls by the chain listeners that failed, by endpoint and method",
    ["url", "method"],
)


class RpcError(RuntimeError):
    """Every endpoint failed (or the node answered with a JSON-RPC error)."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class RpcMethods:
    """The few Ethereum JSON-RPC methods the listeners use, over any transport's `call`."""

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        raise NotImplementedError

    async def block_number(self) -> int:
        return int(await self.call("eth_blockNumber"), 16)

    async def get_logs(
        self, address: str, topics0: Sequence[str], from_block: int, to_block: int
    ) -> list[dict[str, Any]]:
        result = await self.call(
            "eth_getLogs",
            [
                {
                    "address": address,
                    "topics": [list(topics0)],
                    "fromBlock": hex(from_block),
                    "toBlock": hex(to_block),
                }
            ],
        )
        if not isinstance(result, list):
            raise RpcError(f"eth_getLogs returned {type(result).__name__}, not a list")
        return result

    async def has_code(self, address: str, block: int) -> bool:
        code = await self.call("eth_getCode", [address, hex(block)])
        return isinstance(code, str) and code not in ("0x", "0x0", "")


def redact_url(url: str) -> str:
    """Endpoint URLs often embed an API key in the path or query: keep scheme and host only."""
    try:
        parsed = httpx.URL(url)
    except Exception:  # noqa: BLE001 - a label must never fail
        return "?"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


class HttpRpc(RpcMethods):
    def __init__(self, urls: Sequence[str], *, timeout: float = 10.0) -> None:
        if not urls:
            raise ValueError("HttpRpc needs at least one URL")
        self.urls = list(urls)
        self._preferred = 0
        self._ids = itertools.count(1)
        self._client = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpRpc:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        last = "no endpoint"
        code: int | None = None
        order = [*range(self._preferred, len(self.urls)), *range(self._preferred)]
        for index in order:
            url = self.urls[index]
            try:
                result = await self._call_one(url, method, params or [])
            except (httpx.HTTPError, ValueError, RpcError) as exc:
                safe = redact_url(url)
                RPC_ERRORS.labels(safe, method).inc()
                last = f"{safe}: {str(exc).replace(url, safe)}"  # never log a key in a URL
                log.warning("rpc %s failed at %s", method, last)
                code = exc.code if isinstance(exc, RpcError) else None
                continue
            self._preferred = index
            return result
        raise RpcError(f"{method} failed on every endpoint: {last}", code=code)

    async def _call_one(self, url: str, method: str, params: list[Any]) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        response = await self._client.post(url, json=body)
        response.raise_for_status()
        reply = response.json()
        if not isinstance(reply, dict):
            raise ValueError(f"malformed JSON-RPC reply: {str(reply)[:200]}")
        if reply.get("error") is not None:
            error = reply["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            err_code = error.get("code") if isinstance(error, dict) else None
            raise RpcError(f"{method}: {message}", code=err_code)
        if "result" not in reply:
            raise ValueError(f"JSON-RPC reply without result: {str(reply)[:200]}")
        return reply["result"]


async def find_deployment_block(rpc: RpcMethods, address: str, head: int) -> int | None:
    """The first block at which `address` has code (binary search over `eth_getCode`).

    Needs historical state (an archive node, or anvil); returns None when the node cannot
    answer or the address has no code at `head`."""
    try:
        if not await rpc.has_code(address, head):
            return None
        low, high = 0, head
        while low < high:
            middle = (low + high) // 2
            if await rpc.has_code(address, middle):
                high = middle
            else:
                low = middle + 1
        return low
    except RpcError as exc:
        log.warning("cannot find the deployment block of %s: %s", address, exc)
        return None
