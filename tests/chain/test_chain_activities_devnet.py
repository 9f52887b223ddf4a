"""The chain activities against our devnet SYMMIO diamond (real Muon verification on chain), the
devnet oracle and Postgres, through a real Temporal worker — with the packaged ABI, as in
production. The contract checks every Schnorr + gateway signature and its embedded nonces, so a
signature carried across a nonce bump, or two transactions of one pair in flight at once,
would revert with "LibMuon: TSS not verified"."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from chain_helpers import funded_key
from conftest import PRICE, SymmioUnderTest, d18
from temporalio.client import Client
from test_chain_activities import call, ok, status_of, tx_rows, wait_rows
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
from domain.enums import OrderType, PositionType, QuoteStatus

pytestmark = pytest.mark.usefixtures("chain_worker")


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


@pytest.fixture(scope="module")
def hedger_key(anvil: Anvil) -> tuple[str, str]:
    return funded_key(anvil)  # registered and funded as PartyB by the deployment below


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
    prices = StaticPriceSource({"BTCUSDT": PRICE, "ETHUSDT": Decimal("3000")})
    with BackgroundOracle(config, prices=prices) as running:
        symmio.oracle_url = running.url
        yield running


@pytest.fixture(scope="module")
def party_a(anvil: Anvil, symmio: DevnetSymmio, oracle: BackgroundOracle) -> tuple[str, str]:
    key, address = funded_key(anvil)
    symmio.trader(key).fund(100_000 * 10**18)
    return key, address


async def test_lifecycle_on_the_devnet_diamond(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    party_a: tuple[str, str], hedger_key: tuple[str, str], database_url: str,
) -> None:  # fmt: skip
    quote_id = symmio.send_quote(party_a[0])
    view = ok(await call(temporal_client, chain_worker, "chain_read_quote", {"quote_id": quote_id}))
    assert view["status"] == QuoteStatus.PENDING and Decimal(view["quantity"]) == Decimal("0.01")
    locked = ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                           {"quote_id": quote_id, "allocate_first": "5000"}))  # fmt: skip
    assert locked["tx_hash"] and status_of(symmio, quote_id) == QuoteStatus.LOCKED
    count = symmio.w3.eth.get_transaction_count(hedger_key[1])
    again = ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                          {"quote_id": quote_id, "allocate_first": "5000"}))  # fmt: skip
    assert again["already_done"] and symmio.w3.eth.get_transaction_count(hedger_key[1]) == count
    opened = ok(await call(temporal_client, chain_worker, "chain_open_position",
                           {"quote_id": quote_id, "filled_amount": "0.01", "opened_price": "60000"}))  # fmt: skip
    assert opened["tx_hash"] and status_of(symmio, quote_id) == QuoteStatus.OPENED
    symmio.request_to_close(party_a[0], quote_id, PRICE - 100, Decimal("0.01"))
    assert status_of(symmio, quote_id) == QuoteStatus.CLOSE_PENDING
    filled = ok(await call(temporal_client, chain_worker, "chain_fill_close_request",
                           {"quote_id": quote_id, "filled_amount": "0.01", "closed_price": "60000"}))  # fmt: skip
    assert filled["tx_hash"] and status_of(symmio, quote_id) == QuoteStatus.CLOSED
    expected = [
        ("lock_quote", "mined"), ("open_position", "mined"), ("fill_close_request", "mined"),
    ]  # fmt: skip
    rows = await wait_rows(database_url, quote_id, hedger_key[1],
                           lambda rows: tx_rows(rows) == expected)  # fmt: skip
    assert tx_rows(rows) == expected


async def test_invalid_state_and_real_revert(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    party_a: tuple[str, str],
) -> None:  # fmt: skip
    cancelled = symmio.send_quote(party_a[0])
    symmio.request_to_cancel_quote(party_a[0], cancelled)
    answer = await call(temporal_client, chain_worker, "chain_lock_quote",
                        {"quote_id": cancelled}, attempts=3)  # fmt: skip
    assert answer["error"]["type"] == "InvalidState" and answer["error"]["non_retryable"]
    q = symmio.send_quote(party_a[0])  # LONG, requested 60100
    ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                  {"quote_id": q, "allocate_first": "5000"}))  # fmt: skip
    bad = await call(temporal_client, chain_worker, "chain_open_position",
                     {"quote_id": q, "filled_amount": "0.01", "opened_price": "60200"}, attempts=3)  # fmt: skip
    assert bad["error"]["type"] == "TxReverted" and bad["error"]["non_retryable"]
    assert bad["error"]["details"] == ["PartyBFacet: Opened price isn't valid"]
    accepted = ok(await call(temporal_client, chain_worker, "chain_unlock_quote", {"quote_id": q}))
    assert accepted["tx_hash"] and status_of(symmio, q) == QuoteStatus.PENDING


async def test_concurrent_opens_of_one_pair_all_verify(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    party_a: tuple[str, str], hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """Each open bumps both nonces; serialised per pair with a signature fetched right before
    each send, all of them verify on chain."""
    quotes = [symmio.send_quote(party_a[0]) for _ in range(3)]
    for q in quotes:
        ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                      {"quote_id": q, "allocate_first": "5000"}))  # fmt: skip
    nonce_b = symmio.contract.functions.nonceOfPartyB(hedger_key[1], party_a[1]).call()
    answers = await asyncio.gather(*[
        call(temporal_client, chain_worker, "chain_open_position",
             {"quote_id": q, "filled_amount": "0.01", "opened_price": "60000"})
        for q in quotes
    ])  # fmt: skip
    assert all(ok(a)["tx_hash"] for a in answers), answers
    assert all(status_of(symmio, q) == QuoteStatus.OPENED for q in quotes)
    assert symmio.contract.functions.nonceOfPartyB(hedger_key[1], party_a[1]).call() == nonce_b + 3
