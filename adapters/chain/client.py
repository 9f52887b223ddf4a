"""Read access to the SYMMIO diamond over several HTTP RPC endpoints, with fallback.

`ChainClient` holds one `AsyncWeb3` per URL and scores their health (`adapters.chain.health`):
every call goes to the best-ranked endpoint — healthy ones in the configured order, then slow,
then lagging (its head more than `max_lag_blocks` behind the best head seen), then resting
ones. A connection error, timeout, HTTP error or unparseable answer makes that endpoint rest
(`rest_seconds`, doubling per consecutive failure up to a minute) and the next one is tried.
With more than one URL, every `probe_seconds` a background probe asks each endpoint for its
head (`eth_blockNumber`), so a lagging or revived endpoint is noticed without a real call
paying for it. When every endpoint failed, `RpcUnavailable` is raised (retryable). JSON-RPC
errors the node *answered* with (a revert, a bad argument, "nonce too low") are not transport
failures: they propagate unchanged.

View helpers return domain types (`domain.quote.Quote`) or plain frozen dataclasses whose
money fields are `Decimal` (18-decimal fixed point converted exactly).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from eth_abi.exceptions import EncodingError
from eth_utils.address import to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import (
    BadResponseFormat,
    ContractLogicError,
    ProviderConnectionError,
    RequestTimedOut,
    TooManyRequests,
)

from adapters.chain.abi import AbiEntry, error_selectors, symmio_abi
from adapters.chain.codec import AbiCodec, PreparedFunction
from adapters.chain.errors import RpcUnavailable
from adapters.chain.health import EndpointHealth, HealthBook, HealthPolicy
from domain.fixed import from_wei18
from domain.quote import LockedValues, Quote

T = TypeVar("T")

# Transport-level failures: the endpoint did not give a JSON-RPC answer.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    asyncio.TimeoutError,
    TimeoutError,
    OSError,
    ProviderConnectionError,
    RequestTimedOut,
    TooManyRequests,
    BadResponseFormat,
    ContractLogicError,
)


@dataclass(frozen=True, slots=True)
class BlockInfo:
    number: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class PartyBBalanceInfo:
    """`balanceInfoOfPartyB(partyB, partyA)`: PartyB's isolated margin against one PartyA."""

    allocated: Decimal
    locked: LockedValues
    pending_locked: LockedValues

    def available_for_quote(self, upnl: Decimal = Decimal(0)) -> Decimal:
        """`LibAccount.partyBAvailableForQuote(upnl)` (SYMMIO.md §2.5)."""
        locked, pending = self.locked, self.pending_locked
        if upnl >= 0:
            return self.allocated + upnl - (locked.total_for_party_b + pending.total_for_party_b)
        mm = max(-upnl, locked.party_b_mm)
        return self.allocated - (locked.cva + locked.lf + pending.total_for_party_b) - mm


@dataclass(frozen=True, slots=True)
class PartyABalanceInfo:
    """`partyAStats(partyA)`: PartyA's allocated balance and locked values (all hedgers)."""

    allocated: Decimal
    locked: LockedValues
    pending_locked: LockedValues

    def available_for_quote(self, upnl: Decimal) -> Decimal:
        """`LibAccount.partyAAvailableForQuote(upnl, partyA)`."""
        locked, pending = self.locked, self.pending_locked
        if upnl >= 0:
            return self.allocated + upnl - (locked.total_for_party_a + pending.total_for_party_a)
        mm = max(-upnl, locked.party_a_mm)
        return self.allocated - (locked.cva + locked.lf + pending.total_for_party_a) - mm


@dataclass(frozen=True, slots=True)
class SymbolView:
    symbol_id: int
    name: str
    is_valid: bool
    min_acceptable_quote_value: Decimal
    min_acceptable_portion_lf: Decimal
    trading_fee: Decimal
    max_leverage: Decimal
    funding_rate_epoch_duration: int
    funding_rate_window_time: int


@dataclass(frozen=True, slots=True)
class RawLog:
    """One log as `domain.events.decode_log` takes it (`as_dict()`)."""

    address: str
    topics: tuple[str, ...]
    data: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    removed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "topics": list(self.topics),
            "data": self.data,
            "blockNumber": self.block_number,
            "blockHash": self.block_hash,
            "transactionHash": self.tx_hash,
            "logIndex": self.log_index,
            "removed": self.removed,
        }


# SYMMIO MultiAccount's read interface (the views the front-end endpoints use).
MULTI_ACCOUNT_ABI: list[AbiEntry] = [
    {
        "type": "function",
        "name": "getAccountsLength",
        "stateMutability": "view",
        "inputs": [{"name": "user", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "type": "function",
        "name": "getAccounts",
        "stateMutability": "view",
        "inputs": [
            {"name": "user", "type": "address"},
            {"name": "start", "type": "uint256"},
            {"name": "size", "type": "uint256"},
        ],
        "outputs": [
            {
                "name": "",
                "type": "tuple[]",
                "components": [
                    {"name": "accountAddress", "type": "address"},
                    {"name": "name", "type": "string"},
                ],
            }
        ],
    },
]
MULTI_ACCOUNT_PAGE = 50  # sub-accounts per getAccounts call
KEEP_ALIVE_CONNECTIONS = 64  # per endpoint and event loop


@dataclass(slots=True)
class Endpoint:
    url: str
    w3: AsyncWeb3[Any]
    contract: AsyncContract | None
    health: EndpointHealth
    kept_alive_on: Any = None  # the event loop our keep-alive session was cached for

    async def keep_alive(self) -> None:
        """Give the provider a session that keeps its connections open, before its first
        request on this event loop: web3's own closes the connection after every request
        (`force_close`), so each call paid a TCP connect (py-spy: a tenth of the chain
        worker's busy time)."""
        loop = asyncio.get_running_loop()
        if self.kept_alive_on is loop:
            return
        self.kept_alive_on = loop
        session = aiohttp.ClientSession(
            raise_for_status=True,
            connector=aiohttp.TCPConnector(limit=KEEP_ALIVE_CONNECTIONS, keepalive_timeout=15),
        )
        cached = await self.w3.provider.cache_async_session(session)
        if cached is not session:  # one was cached for this loop already: keep using it
            await session.close()

    @property
    def resting_until(self) -> float:
        return self.health.resting_until

    @property
    def failures(self) -> int:
        return self.health.failures

    @property
    def last_error(self) -> str | None:
        return self.health.last_error


class LoopOnlyLock:
    """Stands in for web3's session-cache lock on our providers. web3 shares one class-level
    `threading.Lock` between all its HTTP session managers and takes it for every async
    request through a thread pool; a request cancelled while waiting for it leaves it acquired
    for good, and every later request of the process (and any plain `Web3` in it) waits
    forever. Our providers are used from one event loop, where the cache needs no lock."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return True

    def release(self) -> None:
        return None

    def locked(self) -> bool:
        return False  # web3 releases only a lock it sees held

    def __enter__(self) -> bool:
        return True

    def __exit__(self, *exc: object) -> None:
        return None


def redact_url(url: str) -> str:
    """scheme://host[:port] only: RPC URLs often carry an API key in the path or query, and
    these messages end up in Temporal's UI and in logs."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" + ("/…" if parts.path.strip("/") or parts.query else "")


def scrub(text: str, url: str) -> str:
    """`text` with `url` (and its path and query, which may hold a key) redacted."""
    parts = urlsplit(url)
    text = text.replace(url, redact_url(url))
    for secret in (parts.path.strip("/"), parts.query):
        if secret:
            text = text.replace(secret, "…")
    return text


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


@dataclass
class ChainClient:
    """Views and raw RPC over several endpoints. Construct with `ChainClient.create(...)`."""

    endpoints: list[Endpoint]
    symmio_address: str | None
    abi: tuple[AbiEntry, ...]
    timeout: float = 10.0
    rest_seconds: float = 5.0
    custom_errors: dict[bytes, AbiEntry] = field(default_factory=dict)
    health: HealthBook | None = None
    probe_seconds: float = 15.0
    _last_probe: float = 0.0
    _probe: asyncio.Task[None] | None = None
    _codec: AbiCodec | None = None

    @property
    def codec(self) -> AbiCodec:
        """The diamond's functions prepared for eth_abi (built once)."""
        if self._codec is None:
            self._codec = AbiCodec(self.abi)
        return self._codec

    @classmethod
    def create(
        cls,
        rpc_urls: Sequence[str],
        symmio_address: str | None,
        *,
        abi: Iterable[AbiEntry] | None = None,
        timeout: float = 10.0,
        rest_seconds: float = 5.0,
        max_lag_blocks: int = 5,
        probe_seconds: float = 15.0,
    ) -> ChainClient:
        if not rpc_urls:
            raise ValueError("at least one RPC URL is required")
        entries: tuple[AbiEntry, ...] = (
            tuple(abi) if abi is not None else (symmio_abi() if symmio_address else ())
        )
        address = to_checksum_address(symmio_address) if symmio_address else None
        book = HealthBook(
            list(rpc_urls),
            client="chain",
            policy=HealthPolicy(rest_seconds=rest_seconds, max_lag_blocks=max_lag_blocks),
        )
        endpoints = []
        for url, health in zip(rpc_urls, book.entries, strict=True):
            provider = AsyncHTTPProvider(
                url,
                request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout)},
                exception_retry_configuration=None,
            )
            provider._request_session_manager._lock = LoopOnlyLock()  # type: ignore[assignment]
            w3 = AsyncWeb3(provider)
            contract = w3.eth.contract(address=address, abi=list(entries)) if address else None
            endpoints.append(Endpoint(url, w3, contract, health))
        return cls(
            endpoints=endpoints,
            symmio_address=address,
            abi=entries,
            timeout=timeout,
            rest_seconds=rest_seconds,
            custom_errors=error_selectors(entries),
            health=book,
            probe_seconds=probe_seconds,
            _last_probe=time.monotonic(),
        )

    @classmethod
    def from_settings(cls, settings: Any) -> ChainClient:
        return cls.create(
            settings.rpc_http_urls,
            settings.require_symmio_address(),
            max_lag_blocks=getattr(settings, "rpc_max_lag_blocks", 5),
        )

    async def close(self) -> None:
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
        for ep in self.endpoints:
            disconnect = getattr(ep.w3.provider, "disconnect", None)
            if disconnect is not None:
                try:
                    await disconnect()
                except Exception:  # noqa: BLE001 - best effort on shutdown
                    pass

    # ------------------------------------------------------------------ fallback core
    def _book(self) -> HealthBook:
        if self.health is None:  # constructed directly (tests): score what it was given
            self.health = HealthBook(
                [ep.url for ep in self.endpoints],
                client="chain",
                policy=HealthPolicy(rest_seconds=self.rest_seconds),
                entries=[ep.health for ep in self.endpoints],
            )
        return self.health

    def _ordered(self) -> list[Endpoint]:
        return [self.endpoints[i] for i in self._book().order()]

    def _maybe_probe(self) -> None:
        """Every `probe_seconds`, ask each endpoint for its head in the background."""
        if len(self.endpoints) < 2 or self.probe_seconds <= 0:
            return
        now = time.monotonic()
        if now - self._last_probe < self.probe_seconds:
            return
        if self._probe is not None and not self._probe.done():
            return
        self._last_probe = now
        self._probe = asyncio.get_running_loop().create_task(self.probe())

    async def probe(self) -> None:
        """Ask every endpoint for its head (scores lag; a failure makes it rest)."""
        book = self._book()

        async def one(index: int, ep: Endpoint) -> None:
            started = time.monotonic()
            try:
                response = await asyncio.wait_for(
                    ep.w3.provider.make_request("eth_blockNumber", []), self.timeout
                )
                head = int(str(response["result"]), 16)
            except TRANSPORT_ERRORS as exc:
                book.failure(index, f"{type(exc).__name__}: {scrub(str(exc), ep.url)}")
                return
            except (KeyError, TypeError, ValueError) as exc:
                book.failure(index, f"bad eth_blockNumber answer: {exc}")
                return
            book.success(index, time.monotonic() - started)
            book.saw_head(index, head)

        await asyncio.gather(*(one(i, ep) for i, ep in enumerate(self.endpoints)))

    async def with_fallback(self, what: str, op: Callable[[Endpoint], Awaitable[T]]) -> T:
        """Run `op` against the endpoints, best first, until one answers (transport-wise)."""
        book = self._book()
        for endpoint in self.endpoints:
            await endpoint.keep_alive()
        self._maybe_probe()
        errors: list[str] = []
        order = book.order()
        for index in order:
            ep = self.endpoints[index]
            started = time.monotonic()
            try:
                result = await asyncio.wait_for(op(ep), self.timeout)
            except TRANSPORT_ERRORS as exc:
                safe = redact_url(ep.url)
                error = f"{type(exc).__name__}: {scrub(str(exc), ep.url)}"
                book.failure(index, error)
                errors.append(f"{safe}: {error}")
                continue
            book.success(index, time.monotonic() - started)
            book.answered(index, order[0])
            return result
        raise RpcUnavailable(f"{what}: no RPC endpoint answered ({'; '.join(errors)})")

    async def _head_request(self, method: str, params: list[Any]) -> Any:
        """A raw call whose answer is a block (number) — the endpoint's head is noted."""

        async def op(ep: Endpoint) -> Any:
            result = await _result(ep, method, params)
            try:
                head = int(str(result["number"] if isinstance(result, dict) else result), 16)
            except (KeyError, TypeError, ValueError):
                return result
            index = next(i for i, e in enumerate(self.endpoints) if e is ep)
            self._book().saw_head(index, head)
            return result

        return await self.with_fallback(method, op)

    async def request(self, method: str, params: list[Any]) -> Any:
        """A raw JSON-RPC call; returns `result` or raises `JsonRpcError` with the node's error."""

        async def op(ep: Endpoint) -> Any:
            return await _result(ep, method, params)

        return await self.with_fallback(method, op)

    def _require_contract(self, ep: Endpoint) -> AsyncContract:
        if ep.contract is None:
            raise RuntimeError("ChainClient has no SYMMIO address")
        return ep.contract

    async def view(self, fn_name: str, *args: Any, block: int | str = "latest") -> Any:
        """Call a view of the diamond (with fallback): a raw `eth_call` encoded and decoded by
        `AbiCodec` (what web3 returns, at a fraction of its cost); web3 for what it cannot."""
        prepared = self.codec.function(fn_name)
        calldata = self._fast_calldata(prepared, args) if prepared is not None else None
        if prepared is None or calldata is None:

            async def slow(ep: Endpoint) -> Any:
                fn = self._require_contract(ep).get_function_by_name(fn_name)(*args)
                return await fn.call(block_identifier=block)

            return await self.with_fallback(fn_name, slow)
        call = {"to": self.address, "data": calldata}
        at = hex(block) if isinstance(block, int) else block

        async def op(ep: Endpoint) -> Any:
            try:
                raw = await _result(ep, "eth_call", [call, at])
            except JsonRpcError as exc:  # a revert, as web3 reports it
                raise ContractLogicError(
                    f"execution reverted: {exc.message}", data=exc.data
                ) from exc
            return prepared.decode(bytes.fromhex(str(raw).removeprefix("0x")))

        return await self.with_fallback(fn_name, op)

    async def party_b_open_positions(
        self, party_b: str, party_a: str, page_size: int = 100
    ) -> list[Any]:
        """Every quote of `getPartyBOpenPositions(partyB, partyA)` (raw structs), paged from the
        first page: a short page is the last, so no `partyBPositionsCount` call first (the view
        reverts only for a start past the end, which the full page before it rules out)."""
        quotes: list[Any] = []
        while True:
            page = await self.view(
                "getPartyBOpenPositions", party_b, party_a, len(quotes), page_size
            )
            quotes += page
            if len(page) < page_size:
                return quotes

    def encode(self, fn_name: str, args: Sequence[Any]) -> str:
        """Calldata (0x-hex) of `fn_name(args)` on the diamond."""
        prepared = self.codec.function(fn_name)
        calldata = self._fast_calldata(prepared, args) if prepared is not None else None
        if calldata is not None:
            return calldata
        contract = self._require_contract(self.endpoints[0])
        return str(contract.encode_abi(fn_name, args=list(args)))

    @staticmethod
    def _fast_calldata(prepared: PreparedFunction, args: Sequence[Any]) -> str | None:
        """eth_abi's calldata, or None for arguments only web3 normalises (hex strings for
        bytes, dicts for structs): web3 encodes those."""
        try:
            return "0x" + prepared.encode(args).hex()
        except (EncodingError, TypeError, ValueError, OverflowError):
            return None

    @property
    def address(self) -> str:
        if self.symmio_address is None:
            raise RuntimeError("ChainClient has no SYMMIO address")
        return self.symmio_address

    # ------------------------------------------------------------------ chain
    async def chain_id(self) -> int:
        return int(await self.request("eth_chainId", []), 16)

    async def latest_block(self) -> BlockInfo:
        block = await self._head_request("eth_getBlockByNumber", ["latest", False])
        return BlockInfo(int(block["number"], 16), int(block["timestamp"], 16))

    async def block_number(self) -> int:
        return int(await self._head_request("eth_blockNumber", []), 16)

    async def get_logs(
        self,
        from_block: int,
        to_block: int | str,
        topics: Sequence[Any] | None = None,
        address: str | None = None,
    ) -> list[RawLog]:
        """`eth_getLogs` on the diamond (or `address`); `topics` as in the JSON-RPC filter."""
        to = to_block if isinstance(to_block, str) else hex(to_block)
        flt: dict[str, Any] = {
            "fromBlock": hex(from_block),
            "toBlock": to,
            "address": address or self.address,
        }
        if topics:
            flt["topics"] = list(topics)
        raw = await self.request("eth_getLogs", [flt])
        return [
            RawLog(
                address=to_checksum_address(item["address"]),
                topics=tuple(_hex(t) for t in item["topics"]),
                data=_hex(item["data"]),
                block_number=int(item["blockNumber"], 16),
                block_hash=_hex(item["blockHash"]),
                tx_hash=_hex(item["transactionHash"]),
                log_index=int(item["logIndex"], 16),
                removed=bool(item.get("removed", False)),
            )
            for item in raw
        ]

    async def transaction_count(self, address: str, block: str = "pending") -> int:
        return int(await self.request("eth_getTransactionCount", [address, block]), 16)

    async def get_receipt(self, tx_hash: str) -> dict[str, Any] | None:
        result = await self.request("eth_getTransactionReceipt", [tx_hash])
        return dict(result) if result else None

    async def get_transaction(self, tx_hash: str) -> dict[str, Any] | None:
        result = await self.request("eth_getTransactionByHash", [tx_hash])
        return dict(result) if result else None

    # ------------------------------------------------------------------ SYMMIO views
    async def get_quote(self, quote_id: int, block: int | str = "latest") -> Quote:
        raw = await self.view("getQuote", quote_id, block=block)
        return Quote.from_struct(raw)

    async def last_quote_id(self) -> int:
        """`getNextQuoteId()` — which returns the LAST used id (0 when no quote exists)."""
        return int(await self.view("getNextQuoteId"))

    async def quote_exists(self, quote_id: int) -> bool:
        return 0 < quote_id <= await self.last_quote_id()

    async def nonce_of_party_a(self, party_a: str, block: int | str = "latest") -> int:
        return int(await self.view("nonceOfPartyA", to_checksum_address(party_a), block=block))

    async def nonce_of_party_b(
        self, party_b: str, party_a: str, block: int | str = "latest"
    ) -> int:
        return int(
            await self.view(
                "nonceOfPartyB",
                to_checksum_address(party_b),
                to_checksum_address(party_a),
                block=block,
            )
        )

    async def balance_info_of_party_b(self, party_b: str, party_a: str) -> PartyBBalanceInfo:
        raw = await self.view(
            "balanceInfoOfPartyB", to_checksum_address(party_b), to_checksum_address(party_a)
        )
        values = [int(v) for v in raw]
        if len(values) < 9:
            raise ValueError(f"balanceInfoOfPartyB returned {len(values)} values, expected 9")
        return PartyBBalanceInfo(
            allocated=from_wei18(values[0]),
            locked=LockedValues.from_wei(values[1], values[2], values[3], values[4]),
            pending_locked=LockedValues.from_wei(values[5], values[6], values[7], values[8]),
        )

    async def party_a_balance_info(self, party_a: str) -> PartyABalanceInfo:
        raw = [int(v) for v in await self.view("partyAStats", to_checksum_address(party_a))]
        if len(raw) < 10:
            raise ValueError(f"partyAStats returned {len(raw)} values, expected 14")
        return PartyABalanceInfo(
            allocated=from_wei18(raw[1]),
            locked=LockedValues.from_wei(raw[2], raw[3], raw[4], raw[5]),
            pending_locked=LockedValues.from_wei(raw[6], raw[7], raw[8], raw[9]),
        )

    async def multi_account_view(self, multi_account: str, fn_name: str, *args: Any) -> Any:
        """Call a view of a SYMMIO MultiAccount contract (with fallback)."""
        address = to_checksum_address(multi_account)

        async def op(ep: Endpoint) -> Any:
            contract = ep.w3.eth.contract(address=address, abi=MULTI_ACCOUNT_ABI)
            return await contract.get_function_by_name(fn_name)(*args).call()

        return await self.with_fallback(fn_name, op)

    async def sub_accounts(self, multi_account: str, owner: str, limit: int) -> list[str]:
        """The first `limit` sub-accounts (PartyA addresses) `owner` has under `multi_account`,
        read with `getAccountsLength` and paged `getAccounts`."""
        user = to_checksum_address(owner)
        total = min(
            int(await self.multi_account_view(multi_account, "getAccountsLength", user)), limit
        )
        out: list[str] = []
        while len(out) < total:
            size = min(MULTI_ACCOUNT_PAGE, total - len(out))
            page = await self.multi_account_view(multi_account, "getAccounts", user, len(out), size)
            if not page:
                break
            out.extend(to_checksum_address(entry[0]) for entry in page[:size])
        return out

    async def balance_of(self, user: str) -> Decimal:
        """Deposited, unallocated balance (18 decimals)."""
        return from_wei18(int(await self.view("balanceOf", to_checksum_address(user))))

    async def withdraw_cooldown_of(self, user: str) -> int:
        """`withdrawCooldownOf(user)`: when `user` last deallocated (its withdraw cooldown start)."""
        return int(await self.view("withdrawCooldownOf", to_checksum_address(user)))

    async def deallocate_cooldown(self) -> int:
        """The protocol's `deallocateCooldown` (the first of `coolDownsOfMA()`)."""
        return int((await self.view("coolDownsOfMA"))[0])

    async def get_symbol(self, symbol_id: int) -> SymbolView:
        return _symbol_view(await self.view("getSymbol", symbol_id))

    async def get_symbols(self, start: int, size: int) -> list[SymbolView]:
        """ViewFacet `getSymbols(start, size)`: the symbols with ids start+1 .. start+size."""
        return [_symbol_view(raw) for raw in await self.view("getSymbols", start, size)]

    async def pause_state(self, block: int | str = "latest") -> dict[str, bool]:
        """`pauseState()`: the diamond's pause switches and emergency mode, by name."""
        names = ("global_paused", "liquidation_paused", "accounting_paused",
                 "party_b_actions_paused", "party_a_actions_paused", "internal_transfer_paused",
                 "emergency_mode")  # fmt: skip
        raw = await self.view("pauseState", block=block)
        return {name: bool(value) for name, value in zip(names, raw, strict=True)}

    async def party_b_emergency_status(self, party_b: str, block: int | str = "latest") -> bool:
        return bool(
            await self.view("getPartyBEmergencyStatus", to_checksum_address(party_b), block=block)
        )

    async def is_party_b(self, address: str) -> bool:
        return bool(await self.view("isPartyB", to_checksum_address(address)))


def _symbol_view(raw: Any) -> SymbolView:
    return SymbolView(
        symbol_id=int(raw[0]),
        name=str(raw[1]),
        is_valid=bool(raw[2]),
        min_acceptable_quote_value=from_wei18(int(raw[3])),
        min_acceptable_portion_lf=from_wei18(int(raw[4])),
        trading_fee=from_wei18(int(raw[5])),
        max_leverage=from_wei18(int(raw[6])),
        funding_rate_epoch_duration=int(raw[7]),
        funding_rate_window_time=int(raw[8]),
    )


async def _result(ep: Endpoint, method: str, params: list[Any]) -> Any:
    response = await ep.w3.provider.make_request(method, params)
    error = response.get("error")
    if error:
        raise JsonRpcError(error)
    if "result" not in response:
        raise BadResponseFormat(f"{method}: answer without result")
    return response["result"]


class JsonRpcError(Exception):
    """The node answered a JSON-RPC call with an error object (not a transport failure)."""

    def __init__(self, error: Any) -> None:
        if isinstance(error, dict):
            self.code = error.get("code")
            self.message = str(error.get("message", ""))
            self.data = error.get("data")
        else:
            self.code, self.message, self.data = None, str(error), None
        super().__init__(f"JSON-RPC error {self.code}: {self.message}")
