"""The whole hedger on the real local stack, for end-to-end tests.

One session-scoped `hedger` harness: the embedded stack (Temporal dev server, Postgres, anvil,
exchange simulator, Muon oracle) on free ports in a temp dir, our contract deployed and
initialised, and every hedger process started exactly as production starts them
(`hedger worker …`, `hedger listener …`) with configuration through the environment only.
Tests drive it from the outside: PartyA transactions on chain, exchange admin faults and
prices, Temporal signals and queries, and the ledger.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client, WorkflowHandle

from config.settings import load_settings
from devnet.demo import HedgerProcesses, ensure_deployment, hedger_env
from devnet.stack.pollers import wait_for_pollers
from devnet.stack.process import free_port
from devnet.stack.stack import LocalStack, StackPorts
from devnet.traders.chain import PartyAChain, TxFailed
from domain.enums import OrderType, PositionType, QuoteStatus
from domain.ids import intent_workflow_id, position_workflow_id

ANVIL_KEYS = {
    5: "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    6: "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    7: "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    8: "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    9: "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
}
WAD = 10**18
FIRST_FRESH_ACCOUNT = 100  # `Hedger.new_account()` numbers start here, far from anvil's ten


def trader_key(account: int) -> str:
    """The private key of trader `account`: one of anvil's funded accounts for 5..9, else a key
    derived from the number (funded with ether on first use by `Hedger.trader`)."""
    if account in ANVIL_KEYS:
        return ANVIL_KEYS[account]
    from eth_utils import keccak

    return "0x" + keccak(text=f"symmio-hedger e2e trader {account}").hex()


@dataclass
class Hedger:
    stack: LocalStack
    symmio: str
    processes: HedgerProcesses
    client: Client
    engine: AsyncEngine
    chain_id: int = 31337
    _traders: dict[int, Any] = field(default_factory=dict)
    _next_account: int = FIRST_FRESH_ACCOUNT

    # ------------------------------------------------------------------ parts
    @property
    def rpc_url(self) -> str:
        return self.stack.info["anvil"]["http"]

    @property
    def exchange_url(self) -> str:
        return self.stack.info["exchange"]["url"]

    @property
    def muon_url(self) -> str:
        return self.stack.info["oracle"]["url"]

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        from devnet.stack.anvil import rpc_call

        return rpc_call(self.rpc_url, method, params or [])

    def warp(self, seconds: int) -> None:
        """Move the chain's clock (and mine a block)."""
        self.rpc("evm_increaseTime", [seconds])
        self.rpc("evm_mine")

    def new_account(self) -> int:
        """A trader no other test has used: its own PartyA, so the positions, balances, uPnL and
        PartyB's per-PartyA allocation a test asserts on are its own alone (one session-wide
        stack runs every e2e test in turn)."""
        account = self._next_account
        self._next_account += 1
        return account

    def trader(self, account: int = 5) -> Any:
        from web3 import Web3

        from devnet.traders.chain import PartyAChain

        if account not in self._traders:
            chain = PartyAChain(
                Web3(Web3.HTTPProvider(self.rpc_url)), self.symmio, trader_key(account)
            )
            if account not in ANVIL_KEYS:
                self.rpc("anvil_setBalance", [chain.address, hex(1000 * WAD)])
            chain.fund(100_000 * WAD)
            self._traders[account] = chain
        return self._traders[account]

    # ------------------------------------------------------------------ actions as a trader
    async def send_quote(
        self,
        *,
        side: PositionType = PositionType.LONG,
        order_type: OrderType = OrderType.MARKET,
        quantity: Decimal = Decimal("0.01"),
        slippage: Decimal = Decimal("0.01"),
        price_offset: Decimal | None = None,
        leverage: int = 5,
        deadline_in: int = 3600,
        account: int = 5,
        symbol_id: int = 1,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> int:
        """Post an intent at the oracle's mark price: MARKET with `slippage`, LIMIT at mark·(1∓offset).
        `before_send` runs once, between the first signature and its sendQuote."""
        from adapters.muon.client import MuonClient

        chain = self.trader(account)
        for attempt in range(3):
            nonce = await asyncio.to_thread(self._party_a_nonce, chain)
            async with MuonClient([self.muon_url]) as muon:
                sig = await muon.party_a_upnl_and_price_sig(
                    party_a=chain.address,
                    chain_id=self.chain_id,
                    symmio=self.symmio,
                    symbol_id=symbol_id,
                )
            if before_send is not None and attempt == 0:
                await before_send()
            try:
                return await self._send_quote_signed(
                    chain, sig, side, order_type, quantity, slippage, price_offset, leverage,
                    deadline_in, symbol_id,
                )  # fmt: skip
            except TxFailed:
                # The signature binds PartyA's nonce: the hedger opening or closing one of this
                # PartyA's positions between signing and mining moves it (LibMuon: TSS not
                # verified). A front-end signs again; any other revert is the test's failure.
                if attempt == 2 or await asyncio.to_thread(self._party_a_nonce, chain) == nonce:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _party_a_nonce(chain: PartyAChain) -> int:
        (nonce,) = chain.call("nonceOfPartyA(address)", ["uint256"], chain.address)
        return int(nonce)

    async def _send_quote_signed(
        self, chain: PartyAChain, sig: Any, side: PositionType, order_type: OrderType,
        quantity: Decimal, slippage: Decimal, price_offset: Decimal | None, leverage: int,
        deadline_in: int, symbol_id: int,
    ) -> int:  # fmt: skip
        from devnet.traders.brain import SendQuote

        mark = Decimal(sig.price) / WAD
        sign = 1 if side == PositionType.LONG else -1
        if order_type == OrderType.MARKET:
            price = mark * (1 + sign * slippage)
        else:
            price = mark * (
                1 - sign * (price_offset if price_offset is not None else Decimal("0.002"))
            )
        price = price.quantize(Decimal("0.01"))
        locked = quantity * price / leverage
        quote = SendQuote(
            symbol_id=symbol_id, position_type=side, order_type=order_type, price=int(price * WAD),
            quantity=int(quantity * WAD), cva=int(locked * Decimal("0.15") * WAD), lf=int(locked * Decimal("0.08") * WAD),
            party_amm=int(locked * Decimal("0.77") * WAD), party_bmm=int(locked * Decimal("0.77") * WAD),
            max_funding_rate=0, deadline=chain.now() + deadline_in,
        )  # fmt: skip
        return int(await asyncio.to_thread(chain.send_quote, quote, sig))

    async def request_close(
        self, quote_id: int, *, quantity: Decimal | None = None, order_type: OrderType = OrderType.MARKET,
        slippage: Decimal = Decimal("0.01"), account: int = 5, deadline_in: int = 3600, price: Decimal | None = None,
    ) -> None:  # fmt: skip
        from adapters.muon.client import MuonClient

        chain = self.trader(account)
        view = chain.quote(quote_id)
        async with MuonClient([self.muon_url]) as muon:
            sig = await muon.party_a_upnl_and_price_sig(
                party_a=chain.address,
                chain_id=self.chain_id,
                symmio=self.symmio,
                symbol_id=view.symbol_id,
            )
        mark = Decimal(sig.price) / WAD
        sign = -1 if view.position_type == PositionType.LONG else 1  # closing a LONG sells
        close_price = (
            price if price is not None else (mark * (1 + sign * slippage)).quantize(Decimal("0.01"))
        )
        qty = int(quantity * WAD) if quantity is not None else view.quantity - view.closed_amount
        await asyncio.to_thread(
            chain.request_to_close_position,
            quote_id,
            int(close_price * WAD),
            qty,
            order_type,
            chain.now() + deadline_in,
        )

    # ------------------------------------------------------------------ observation
    def quote(self, quote_id: int, account: int = 5) -> Any:
        return self.trader(account).quote(quote_id)

    async def wait_chain(
        self, quote_id: int, statuses: set[QuoteStatus], *, timeout: float = 90, account: int = 5
    ) -> Any:
        deadline = time.monotonic() + timeout
        view = None
        while time.monotonic() < deadline:
            view = await asyncio.to_thread(self.quote, quote_id, account)
            if view.status in statuses:
                return view
            await asyncio.sleep(0.5)
        raise AssertionError(
            f"quote {quote_id} still {view.status.name if view else '?'}; wanted {statuses}"
        )

    def intent(self, quote_id: int) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(intent_workflow_id(self.chain_id, quote_id))

    def position(self, quote_id: int) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(position_workflow_id(self.chain_id, quote_id))

    async def wait_workflow(self, handle: WorkflowHandle[Any, Any], *, timeout: float = 120) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await asyncio.wait_for(
                    handle.result(), timeout=max(1, deadline - time.monotonic())
                )
            except Exception:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.5)

    async def wait_state(
        self,
        handle: WorkflowHandle[Any, Any],
        predicate: Callable[[dict[str, Any]], bool],
        *,
        timeout: float = 90,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                state = await handle.query("state")
                if predicate(state):
                    return state
            except Exception:  # not started yet
                pass
            await asyncio.sleep(0.5)
        raise AssertionError(f"{handle.id}: condition not reached; last state {state}")

    async def mark_price(self, symbol: str = "BTCUSDT") -> Decimal:
        import httpx

        async with httpx.AsyncClient(timeout=10) as client:
            state = (await client.get(f"{self.exchange_url}/admin/state")).json()
        return Decimal(state["prices"][symbol])

    async def set_price(self, price: Decimal, symbol: str = "BTCUSDT") -> None:
        """Move the exchange (and so the oracle's mark) to `price`, frozen; resting orders match."""
        import httpx

        async with httpx.AsyncClient(timeout=10) as client:
            body = {"symbol": symbol, "price": str(price), "freeze": True}
            (await client.post(f"{self.exchange_url}/admin/price", json=body)).raise_for_status()

    async def touch_price(self, price: Decimal, symbol: str = "BTCUSDT") -> None:
        """The exchange trades at `price` for one match and is back at once: a crossed resting
        LIMIT order fills exactly one chunk, whatever the host's timing."""
        import httpx

        async with httpx.AsyncClient(timeout=10) as client:
            body = {"symbol": symbol, "price": str(price)}
            (
                await client.post(f"{self.exchange_url}/admin/price/touch", json=body)
            ).raise_for_status()

    async def freeze_prices(self, frozen: bool = True) -> None:
        """Stop (or restart) the exchange's price walk, so a passive order stays passive."""
        import httpx

        async with httpx.AsyncClient(timeout=10) as client:
            (
                await client.post(f"{self.exchange_url}/admin/freeze", json={"frozen": frozen})
            ).raise_for_status()

    async def broker_position(self, symbol: str = "BTCUSDT") -> Decimal:
        import httpx

        async with httpx.AsyncClient(timeout=10) as client:
            state = (await client.get(f"{self.exchange_url}/admin/state")).json()
        return Decimal(state.get("positions", {}).get(symbol, {}).get("amount", "0"))

    async def broker_orders(self, quote_id: int) -> list[dict[str, Any]]:
        import httpx

        async with httpx.AsyncClient(timeout=10) as client:
            state = (await client.get(f"{self.exchange_url}/admin/state")).json()
        prefix = f"h{quote_id}"
        return [o for o in state.get("orders", []) if str(o.get("clientOrderId", "")).startswith(prefix)
                and str(o.get("clientOrderId"))[len(prefix)] in "oc"]  # fmt: skip

    async def assert_hedged(
        self, symbol_id: int = 1, symbol: str = "BTCUSDT", timeout: float = 30
    ) -> None:
        """The invariant, checked from outside: chain net exposure == broker position, and no
        client order id produced two broker orders."""
        deadline = time.monotonic() + timeout
        while True:
            chain, broker = await self.chain_net(symbol_id), await self.broker_position(symbol)
            if chain == broker or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert chain == broker, f"unhedged: chain {chain} vs broker {broker}"
        import httpx

        async with httpx.AsyncClient(timeout=10) as client:
            orders = (await client.get(f"{self.exchange_url}/admin/state")).json().get("orders", [])
        counts: dict[str, int] = {}
        for order in orders:
            cid = str(order.get("clientOrderId"))
            counts[cid] = counts.get(cid, 0) + 1
        assert not {cid: n for cid, n in counts.items() if n > 1}, "duplicate broker orders"

    async def ledger(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())

    @property
    def our_party_b(self) -> str:
        from eth_account import Account

        key = self.processes.env.get("HEDGER_PRIVATE_KEY") or (
            load_settings().private_key.get_secret_value()
        )
        return str(Account.from_key(key).address)

    def contract(self) -> Any:
        from web3 import Web3

        from adapters.chain.abi import symmio_abi

        w3 = Web3(Web3.HTTPProvider(self.rpc_url))
        return w3.eth.contract(
            address=Web3.to_checksum_address(self.symmio), abi=list(symmio_abi())
        )

    def chain_quotes(self) -> list[dict[str, Any]]:
        """Every quote on chain whose PartyB is us (the chain's views, not the ledger)."""
        symmio = self.contract()
        last = int(symmio.functions.getNextQuoteId().call())
        ours = []
        for quote_id in range(1, last + 1):
            q = symmio.functions.getQuote(quote_id).call()
            if str(q[15]).lower() == self.our_party_b.lower():
                ours.append({"id": int(q[0]), "symbol_id": int(q[2]), "side": PositionType(q[3]),
                             "quantity": int(q[9]), "closed": int(q[10]), "status": QuoteStatus(q[16])})  # fmt: skip
        return ours

    async def chain_net(self, symbol_id: int = 1) -> Decimal:
        """Signed quantity open on chain against us for `symbol_id` (trader LONG = +)."""
        total = Decimal(0)
        for q in await asyncio.to_thread(self.chain_quotes):
            if q["symbol_id"] != symbol_id or q["status"] not in (
                QuoteStatus.OPENED, QuoteStatus.CLOSE_PENDING, QuoteStatus.CANCEL_CLOSE_PENDING,
            ):  # fmt: skip
                continue
            qty = Decimal(q["quantity"] - q["closed"]) / WAD
            total += qty if q["side"] == PositionType.LONG else -qty
        return total

    def our_transactions(self, quote_id: int) -> dict[str, int]:
        """Per function, how many transactions our PartyB signer sent for `quote_id` (mined or
        reverted), read from the chain's blocks: the hedger's journal is not asked."""
        symmio = self.contract()
        w3 = symmio.w3
        us = self.our_party_b.lower()
        counts: dict[str, int] = {}
        for number in range(w3.eth.block_number + 1):
            for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
                if str(tx["from"]).lower() != us or str(tx["to"]).lower() != self.symmio.lower():
                    continue
                try:
                    fn, args = symmio.decode_function_input(tx["input"])
                except ValueError:
                    continue
                if args.get("quoteId") == quote_id:
                    counts[fn.fn_name] = counts.get(fn.fn_name, 0) + 1
        return counts

    def stop_postgres(self) -> None:
        """Take the ledger away (the hedger must keep hedging without it)."""
        self.stack.running.pop("postgres").stop()

    def start_postgres(self) -> None:
        spec = next(spec for spec in self.stack.specs() if spec.name == "postgres")
        self.stack._start(spec)

    def admin_send(self, fn: str, *args: Any) -> None:
        """A transaction of the contract's admin (the deployer: every role on the devnet)."""
        from devnet.contracts.deploy import DEFAULT_ADMIN_KEY

        symmio = self.contract()
        w3 = symmio.w3
        admin = w3.eth.account.from_key(DEFAULT_ADMIN_KEY)
        tx = getattr(symmio.functions, fn)(*args).build_transaction(
            {"from": admin.address, "nonce": w3.eth.get_transaction_count(admin.address), "gas": 5_000_000}
        )  # fmt: skip
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(admin.sign_transaction(tx).raw_transaction)
        )
        assert receipt["status"] == 1, fn

    async def exchange(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        async with httpx.AsyncClient(timeout=10) as client:
            reply = await client.request(method, f"{self.exchange_url}{path}", json=body)
            reply.raise_for_status()
            return reply.json()

    async def add_fault(self, **spec: Any) -> None:
        await self.exchange("POST", "/admin/faults", spec)

    async def clear_faults(self) -> None:
        await self.exchange("DELETE", "/admin/faults")

    async def broker_traded(self, quote_id: int) -> Decimal:
        """Signed base quantity the broker executed under this quote's client ids (buy = +)."""
        state = await self.exchange("GET", "/admin/state")
        prefix = f"h{quote_id}"
        total = Decimal(0)
        for o in state.get("orders", []):
            cid = str(o.get("clientOrderId", ""))
            if cid.startswith(prefix) and cid[len(prefix) : len(prefix) + 1] in ("o", "c"):
                qty = Decimal(str(o.get("executedQty", "0")))
                total += qty if o.get("side") == "BUY" else -qty
        return total

    async def wait_orders(
        self, quote_id: int, n: int = 1, timeout: float = 30
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            orders = await self.broker_orders(quote_id)
            if len(orders) >= n or time.monotonic() > deadline:
                return orders
            await asyncio.sleep(0.3)


@pytest.fixture(scope="session")
def e2e_stack() -> Iterator[tuple[LocalStack, str, HedgerProcesses]]:
    # A fixed, git-ignored place (wiped at start), so the processes' logs survive for a post-mortem.
    import shutil

    runs = Path(__file__).resolve().parents[2] / ".hedger" / "e2e"
    for old in sorted(runs.glob("run-*"), key=lambda p: p.stat().st_mtime)[:-3]:
        shutil.rmtree(old, ignore_errors=True)  # keep the last few runs' logs only
    state = runs / f"run-{os.getpid()}"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    ports = StackPorts(*(free_port() for _ in range(6)))
    # Resting LIMIT orders fill in chunks of 300 USD per price step: partial fills on demand.
    stack = LocalStack(
        state, ports, log=lambda _: None, exchange_args=["--partial-fill-notional", "300"]
    )
    stack.up()
    processes: HedgerProcesses | None = None
    try:
        symmio = ensure_deployment(stack, log=lambda _: None)
        if symmio is None:
            pytest.skip("no devnet contract in this checkout")
        env = hedger_env(stack)
        env["HEDGER_API_PORT"] = str(free_port())
        # Wide enough that the tests' deliberately passive LIMIT intents pass the price band.
        env["HEDGER_PRICE_BAND_PCT"] = "10"
        # Continue-as-new often: every e2e lifecycle crosses runs, so state carried over
        # continue-as-new is exercised everywhere.
        env["HEDGER_WORKFLOW_HISTORY_LIMIT"] = "80"
        # A small workflow cache: workflows are evicted between their tasks all the time, so
        # every e2e lifecycle also resumes from replayed histories (local reads included).
        env["HEDGER_WORKFLOW_CACHE_SIZE"] = "8"
        processes = HedgerProcesses(state, env, log=lambda _: None)
        processes.start()
        yield stack, symmio, processes
    finally:
        if processes is not None:
            processes.stop()
        stack.down()


@pytest.fixture(scope="session")
async def hedger(e2e_stack: tuple[LocalStack, str, HedgerProcesses]) -> AsyncIterator[Hedger]:
    from adapters.temporal import connect

    stack, symmio, processes = e2e_stack
    client = await connect(load_settings(temporal_address=stack.info["temporal"]["address"]))
    engine = create_async_engine(stack.running_url("postgres"), pool_pre_ping=True)
    harness = Hedger(stack, symmio, processes, client, engine)
    await wait_for_pollers(client)
    # A still market: MARKET intents are priced off the oracle's mark with a 1% bound, and a
    # random walk on a loaded machine could move past it between signing and hedging (the
    # hedger then correctly lets the quote go, but the test wants a deterministic open).
    # Tests that need the price to move set it explicitly.
    await harness.freeze_prices()
    try:
        yield harness
    finally:
        await engine.dispose()


@pytest.fixture(autouse=True)
async def _hedger_ready(hedger: Hedger) -> None:
    """Before each test: the hedger's API answers and every task queue has its pollers again.
    A test that restarts the hedger's processes (tests/e2e/test_listeners.py) returns once
    they are started, not listening; the next test must not race them."""
    await _wait_for_api(hedger)
    await wait_for_pollers(hedger.client)


async def _wait_for_api(hedger: Hedger, timeout: float = 60) -> None:
    import httpx

    url = f"http://127.0.0.1:{hedger.processes.env['HEDGER_API_PORT']}/healthz"
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            try:
                await client.get(url)  # any answer: it listens
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.25)


def _logs(path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(path.glob("*.log")))
