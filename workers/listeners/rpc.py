"""JSON-RPC over HTTP with fallback across several endpoints (the listeners' read path).

`HttpRpc.call` asks the endpoints in the order of their health score (`adapters.chain.health`:
healthy ones in the configured order, then slow, lagging and resting ones); transport errors,
HTTP errors, malformed replies and JSON-RPC errors all move on to the next URL and make the
failed one rest (doubling per consecutive failure). Only when every URL failed does it raise
`RpcError` (carrying the last error). Each failure is counted per URL in
`hedger_listener_rpc_errors_total`. Every head an endpoint reports is noted; every
`probe_seconds` all endpoints are asked for theirs, so one that lags is ranked down, and
`get_logs` never asks an endpoint whose known head is below the range's last block (a lagging
node answers such a range with fewer logs, which would be a silent gap).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client import Counter

from adapters.chain.health import HealthBook, HealthPolicy

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


@dataclass(frozen=True, slots=True)
class BlockHeader:
    number: int
    hash: str  # 0x-prefixed lowercase
    parent_hash: str
    timestamp: int

    @classmethod
    def from_json(cls, raw: Any) -> BlockHeader:
        if not isinstance(raw, dict):
            raise RpcError(f"block header is {type(raw).__name__}, not an object")
        try:
            return cls(
                number=int(str(raw["number"]), 16),
                hash=str(raw["hash"]).lower(),
                parent_hash=str(raw["parentHash"]).lower(),
                timestamp=int(str(raw["timestamp"]), 16),
            )
        except (KeyError, ValueError) as exc:
            raise RpcError(f"malformed block header: {exc}") from exc


class RpcMethods:
    """The few Ethereum JSON-RPC methods the listeners use, over any transport's `call`."""

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        raise NotImplementedError

    async def block_number(self) -> int:
        return int(await self.call("eth_blockNumber"), 16)

    async def header(self, block: int | str = "latest") -> BlockHeader | None:
        """The block's header (None when the node has no such block)."""
        tag = hex(block) if isinstance(block, int) else block
        raw = await self.call("eth_getBlockByNumber", [tag, False])
        return None if raw is None else BlockHeader.from_json(raw)

    async def block_hash(self, number: int) -> str | None:
        header = await self.header(number)
        return None if header is None else header.hash

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
    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: float = 10.0,
        client: str = "listener",
        max_lag_blocks: int = 5,
        rest_seconds: float = 2.0,
        probe_seconds: float = 15.0,
    ) -> None:
        if not urls:
            raise ValueError("HttpRpc needs at least one URL")
        self.urls = list(urls)
        self.health = HealthBook(
            self.urls,
            client=client,
            policy=HealthPolicy(rest_seconds=rest_seconds, max_lag_blocks=max_lag_blocks),
        )
        self.probe_seconds = probe_seconds
        self._last_probe = time.monotonic()
        self._ids = itertools.count(1)
        self._client = httpx.AsyncClient(timeout=timeout)

    @property
    def _preferred(self) -> int:
        """The endpoint the next call goes to first."""
        return self.health.order()[0]

    async def close(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpRpc:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        await self._maybe_probe()
        return await self._call(method, params or [], self.health.order())

    async def _call(self, method: str, params: list[Any], order: list[int]) -> Any:
        last = "no endpoint"
        code: int | None = None
        for index in order:
            url = self.urls[index]
            started = time.monotonic()
            try:
                result = await self._call_one(url, method, params)
            except (httpx.HTTPError, ValueError, RpcError) as exc:
                safe = redact_url(url)
                RPC_ERRORS.labels(safe, method).inc()
                last = f"{safe}: {str(exc).replace(url, safe)}"  # never log a key in a URL
                log.warning("rpc %s failed at %s", method, last)
                code = exc.code if isinstance(exc, RpcError) else None
                if not isinstance(exc, RpcError):  # the node answered an error: it is up
                    self.health.failure(index, last)
                continue
            self.health.success(index, time.monotonic() - started)
            self.health.answered(index, order[0])
            self._note_head(index, method, result)
            return result
        raise RpcError(f"{method} failed on every endpoint: {last}", code=code)

    def _note_head(self, index: int, method: str, result: Any) -> None:
        try:
            if method == "eth_blockNumber":
                self.health.saw_head(index, int(str(result), 16))
            elif method == "eth_getBlockByNumber" and isinstance(result, dict):
                number = int(str(result["number"]), 16)
                best = self.health.entries[index].head
                if best is None or number >= best:
                    self.health.saw_head(index, number)
        except (KeyError, ValueError):
            pass

    async def _maybe_probe(self) -> None:
        if len(self.urls) < 2 or self.probe_seconds <= 0:
            return
        now = time.monotonic()
        if now - self._last_probe < self.probe_seconds:
            return
        self._last_probe = now
        await self.probe()

    async def probe(self) -> None:
        """Ask every endpoint for its head (a failure makes it rest, a lag ranks it down)."""
        for index in range(len(self.urls)):
            try:
                await self._call("eth_blockNumber", [], [index])
            except RpcError:
                pass

    def _reaching(self, block: int) -> list[int]:
        """Endpoints (best first) whose known head reaches `block` (all when none does)."""
        order = self.health.order()
        reach = [i for i in order if (h := self.health.entries[i].head) is None or h >= block]
        return reach or order

    async def header(self, block: int | str = "latest") -> BlockHeader | None:
        """A header; a numbered block is asked of endpoints that have it (a lagging node
        answering "no such block" would look like a reorg)."""
        if isinstance(block, str):
            return await super().header(block)
        await self._maybe_probe()
        raw = await self._call("eth_getBlockByNumber", [hex(block), False], self._reaching(block))
        return None if raw is None else BlockHeader.from_json(raw)

    async def get_logs(
        self, address: str, topics0: Sequence[str], from_block: int, to_block: int
    ) -> list[dict[str, Any]]:
        """`eth_getLogs`, only from endpoints whose known head reaches `to_block`."""
        await self._maybe_probe()
        params = [
            {
                "address": address,
                "topics": [list(topics0)],
                "fromBlock": hex(from_block),
                "toBlock": hex(to_block),
            }
        ]
        result = await self._call("eth_getLogs", params, self._reaching(to_block))
        if not isinstance(result, list):
            raise RpcError(f"eth_getLogs returned {type(result).__name__}, not a list")
        return result

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
