"""The devnet SYMMIO diamond for the chain tests: `DevnetSymmio` (PartyA's side: funded
collateral, signed sendQuote) and `devnet_diamond_fixtures`, the module-scoped fixtures every
module that trades on it uses (a funded PartyB key, the deployed and initialised diamond, the
devnet Muon oracle at fixed prices, a funded PartyA), so each module states only its prices:

    hedger_key, symmio, oracle, party_a = devnet_diamond_fixtures(PRICES)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from chain_helpers import funded_key
from conftest import PRICE, SymmioUnderTest, d18
from web3 import Web3

from adapters.chain.abi import load_abi
from adapters.muon.client import MuonClient
from devnet.contracts.deploy import Deployment, deploy_and_initialise
from devnet.oracle.app import OracleConfig
from devnet.oracle.prices import StaticPriceSource
from devnet.oracle.server import BackgroundOracle
from devnet.oracle.signer import DEVNET_MUON_APP_ID, default_devnet_signer
from devnet.stack.anvil import Anvil
from devnet.traders.brain import SendQuote
from devnet.traders.chain import PartyAChain
from domain.enums import OrderType, PositionType

PRICES = StaticPriceSource({"BTCUSDT": PRICE, "ETHUSDT": Decimal("3000")})


class DevnetSymmio(SymmioUnderTest):
    """PartyA's side on the devnet diamond: funded collateral, signed sendQuote."""

    def __init__(self, anvil: Anvil, deployment: Deployment) -> None:
        super().__init__(anvil, deployment.symmio, list(load_abi()))
        self.deployment = deployment
        self.oracle_url: str | None = None

    def trader(self, key: str) -> PartyAChain:
        return PartyAChain(Web3(Web3.HTTPProvider(self.anvil.http_url)), self.address, key)

    def _send_quote_sig(self, party_a: str) -> Any:
        assert self.oracle_url is not None

        async def fetch() -> Any:
            async with MuonClient([self.oracle_url]) as muon:
                return await muon.party_a_upnl_and_price_sig(
                    party_a=party_a, chain_id=31337, symmio=self.address, symbol_id=1
                )

        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # callers run inside a loop
            return pool.submit(asyncio.run, fetch()).result()

    def send_quote(
        self, party_a_key: str, *, position_type: int = 0, order_type: int = 1,
        price: Decimal = PRICE + 100, quantity: Decimal = Decimal("0.01"), deadline_in: int = 3600,
        whitelist: tuple[str, ...] = (),
    ) -> int:  # fmt: skip
        trader = self.trader(party_a_key)
        locked = quantity * price / 10  # 10x
        quote = SendQuote(
            symbol_id=1, position_type=PositionType(position_type),
            order_type=OrderType(order_type), price=d18(price), quantity=d18(quantity),
            cva=d18(locked * Decimal("0.2")), lf=d18(locked * Decimal("0.1")),
            party_amm=d18(locked * Decimal("0.7")), party_bmm=d18(locked * Decimal("0.5")),
            max_funding_rate=0, deadline=self.now() + deadline_in,
        )  # fmt: skip
        return trader.send_quote(quote, self._send_quote_sig(trader.address), whitelist)

    def request_to_cancel_quote(self, party_a_key: str, quote_id: int) -> None:
        self.trader(party_a_key).request_to_cancel_quote(quote_id)

    def request_to_close(
        self, party_a_key: str, quote_id: int, close_price: Decimal, quantity: Decimal,
        order_type: int = 1, deadline_in: int = 3600,
    ) -> None:  # fmt: skip
        self.trader(party_a_key).request_to_close_position(
            quote_id, d18(close_price), d18(quantity), OrderType(order_type),
            self.now() + deadline_in,
        )  # fmt: skip

    def request_to_cancel_close(self, party_a_key: str, quote_id: int) -> None:
        self.trader(party_a_key).request_to_cancel_close_request(quote_id)


def devnet_diamond_fixtures(
    prices: StaticPriceSource = PRICES,
) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """(hedger_key, symmio, oracle, party_a) fixtures, module-scoped, on the module's `anvil`."""

    @pytest.fixture(scope="module")
    def hedger_key(anvil: Anvil) -> tuple[str, str]:
        return funded_key(anvil)  # registered and funded as PartyB by the deployment

    @pytest.fixture(scope="module")
    def symmio(anvil: Anvil, hedger_key: tuple[str, str]) -> DevnetSymmio:
        signer = default_devnet_signer()
        pk = signer.public_key
        deployment = deploy_and_initialise(
            anvil.http_url, hedger_key=hedger_key[0], muon_public_key=(pk.x, pk.parity),
            muon_gateway=signer.gateway_address, muon_app_id=DEVNET_MUON_APP_ID, out_path=None,
        )  # fmt: skip
        assert deployment.party_b == hedger_key[1]
        return DevnetSymmio(anvil, deployment)

    @pytest.fixture(scope="module")
    def oracle(symmio: DevnetSymmio, anvil: Anvil) -> Iterator[BackgroundOracle]:
        config = OracleConfig(rpc_url=anvil.http_url, symmio=symmio.address)
        with BackgroundOracle(config, prices=prices) as running:
            symmio.oracle_url = running.url
            yield running

    @pytest.fixture(scope="module")
    def party_a(anvil: Anvil, symmio: DevnetSymmio, oracle: BackgroundOracle) -> tuple[str, str]:
        key, address = funded_key(anvil)
        symmio.trader(key).fund(100_000 * 10**18)
        return key, address

    return hedger_key, symmio, oracle, party_a
