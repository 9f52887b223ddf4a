"""A devnet without the hedger: stack, our contract, the oracle, the exchange simulator.

The audit tests play the hedger's part by hand — PartyB transactions signed with the hedger's
key, broker orders placed directly on the simulator — so each counter meets a real violation.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from web3 import Web3

from devnet.audit import ChainReader, RunScope
from devnet.contracts.deploy import DEFAULT_HEDGER_KEY
from devnet.demo import ensure_deployment
from devnet.stack.process import free_port
from devnet.stack.stack import LocalStack, StackPorts
from devnet.traders.chain import PartyAChain
from domain.enums import OrderType, PositionType
from domain.muon import ABI_TYPES, PairUpnlAndPriceSig, SingleUpnlSig

TRADER_KEY = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"  # anvil #5
WAD = 10**18
LOCK = f"lockQuote(uint256,{ABI_TYPES[SingleUpnlSig]})"
OPEN = f"openPosition(uint256,uint256,uint256,{ABI_TYPES[PairUpnlAndPriceSig]})"
FILL_CLOSE = f"fillCloseRequest(uint256,uint256,uint256,{ABI_TYPES[PairUpnlAndPriceSig]})"


@dataclass
class Devnet:
    stack: LocalStack
    symmio: str
    party_b: str
    trader: PartyAChain
    hedger: PartyAChain  # a raw signer with the hedger's key: sends PartyB transactions
    chain_id: int = 31337
    allocated: set[str] = field(default_factory=set)

    @property
    def rpc_url(self) -> str:
        return self.stack.info["anvil"]["http"]

    @property
    def exchange_url(self) -> str:
        return self.stack.info["exchange"]["url"]

    @property
    def muon_url(self) -> str:
        return self.stack.info["oracle"]["url"]

    @property
    def temporal_address(self) -> str:
        return self.stack.info["temporal"]["address"]

    def scope(self) -> RunScope:
        """A run that starts now: later quotes and later blocks only."""
        reader = ChainReader(self.rpc_url, self.symmio)
        try:
            first, block = reader.last_quote_id() + 1, reader.block_number() + 1
        finally:
            reader.close()
        return RunScope(
            rpc_url=self.rpc_url,
            symmio=self.symmio,
            party_b=self.party_b,
            exchange_url=self.exchange_url,
            temporal_address=self.temporal_address,
            first_quote_id=first,
            from_block=block,
        )

    async def send_quote(self, quantity: Decimal = Decimal("0.01")) -> int:
        """A trader's MARKET LONG on BTCUSDT at the oracle's mark + 1%."""
        from adapters.muon.client import MuonClient
        from devnet.traders.brain import SendQuote

        async with MuonClient([self.muon_url]) as muon:
            sig = await muon.party_a_upnl_and_price_sig(
                party_a=self.trader.address, chain_id=self.chain_id, symmio=self.symmio, symbol_id=1
            )
        price = (Decimal(sig.price) / WAD * Decimal("1.01")).quantize(Decimal("0.01"))
        locked = quantity * price / 5
        quote = SendQuote(
            symbol_id=1, position_type=PositionType.LONG, order_type=OrderType.MARKET,
            price=int(price * WAD), quantity=int(quantity * WAD),
            cva=int(locked * Decimal("0.15") * WAD), lf=int(locked * Decimal("0.08") * WAD),
            party_amm=int(locked * Decimal("0.77") * WAD), party_bmm=int(locked * Decimal("0.77") * WAD),
            max_funding_rate=0, deadline=self.trader.now() + 3600,
        )  # fmt: skip
        return int(await asyncio.to_thread(self.trader.send_quote, quote, sig))

    async def lock(self, quote_id: int, *, expect_revert: bool = False) -> None:
        from adapters.muon.client import MuonClient
        from devnet.traders.chain import TxFailed

        if self.trader.address not in self.allocated:
            await asyncio.to_thread(
                self.hedger.send,
                "allocateForPartyB(uint256,address)",
                50_000 * WAD,
                self.trader.address,
            )
            self.allocated.add(self.trader.address)
        async with MuonClient([self.muon_url]) as muon:
            sig = await muon.party_b_upnl_sig(
                party_b=self.party_b,
                party_a=self.trader.address,
                chain_id=self.chain_id,
                symmio=self.symmio,
            )
        try:
            await asyncio.to_thread(self.hedger.send, LOCK, quote_id, sig.to_abi_tuple())
        except TxFailed:
            if not expect_revert:
                raise
        else:
            assert not expect_revert, "the lock was expected to revert"

    async def _pair_sig(self) -> Any:
        from adapters.muon.client import MuonClient

        async with MuonClient([self.muon_url]) as muon:
            return await muon.pair_upnl_and_price_sig(
                party_b=self.party_b, party_a=self.trader.address, chain_id=self.chain_id,
                symmio=self.symmio, symbol_id=1,
            )  # fmt: skip

    async def open(self, quote_id: int) -> None:
        view = self.trader.quote(quote_id)
        sig = await self._pair_sig()
        await asyncio.to_thread(
            self.hedger.send, OPEN, quote_id, view.quantity, sig.price, sig.to_abi_tuple()
        )

    async def fill_close(self, quote_id: int, amount: int) -> None:
        """A fillCloseRequest (reverts when no close request waits)."""
        from devnet.traders.chain import TxFailed

        sig = await self._pair_sig()
        try:
            await asyncio.to_thread(
                self.hedger.send, FILL_CLOSE, quote_id, amount, sig.price, sig.to_abi_tuple()
            )
        except TxFailed:
            pass

    async def broker_order(self, client_order_id: str, side: str, quantity: str) -> None:
        """Behind the hedger's back: a MARKET order straight on the simulator (real ccxt)."""
        from adapters.broker.client import BrokerConfig, make_exchange
        from devnet.exchange.config import DEFAULT_API_KEY, DEFAULT_API_SECRET

        ex = make_exchange(
            BrokerConfig(api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET,
                         rest_url=self.exchange_url, ws_url=self.exchange_url.replace("http", "ws"))
        )  # fmt: skip
        try:
            await ex.load_markets()
            await ex.create_order(
                "BTC/USDT:USDT", "market", side, float(quantity), None,
                {"clientOrderId": client_order_id},
            )  # fmt: skip
        finally:
            await ex.close()

    async def reset_exchange(self) -> None:
        async with httpx.AsyncClient(base_url=self.exchange_url) as http:
            (await http.post("/admin/reset")).raise_for_status()
            (await http.post("/admin/freeze", json={"frozen": True})).raise_for_status()


@pytest.fixture(scope="session")
def devnet_stack() -> Iterator[tuple[LocalStack, str]]:
    runs = Path(__file__).resolve().parents[2] / ".hedger" / "audit"
    state = runs / f"run-{os.getpid()}"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    stack = LocalStack(state, StackPorts(*(free_port() for _ in range(6))), log=lambda _: None)
    stack.up()
    try:
        symmio = ensure_deployment(stack, log=lambda _: None)
        assert symmio is not None
        w3 = Web3(Web3.HTTPProvider(stack.info["anvil"]["http"]))
        PartyAChain(w3, symmio, TRADER_KEY).fund(100_000 * WAD)
        yield stack, symmio
    finally:
        stack.down()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
async def devnet(devnet_stack: tuple[LocalStack, str]) -> AsyncIterator[Devnet]:
    stack, symmio = devnet_stack
    w3 = Web3(Web3.HTTPProvider(stack.info["anvil"]["http"]))
    trader = PartyAChain(w3, symmio, TRADER_KEY)
    hedger = PartyAChain(w3, symmio, DEFAULT_HEDGER_KEY)
    net = Devnet(stack, symmio, hedger.address.lower(), trader, hedger)
    await net.reset_exchange()
    yield net
