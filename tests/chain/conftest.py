"""Fixtures of the chain tests: a SYMMIO contract on the session anvil, the devnet Muon oracle on a
free port reading it, a funded PartyB (hedger) key, and a chain worker on a private task queue."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chain_helpers import funded_key
from temporalio.client import Client
from temporalio.worker import Worker
from web3 import Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder

from config.settings import Settings, load_settings
from devnet.oracle.app import OracleConfig
from devnet.oracle.prices import StaticPriceSource
from devnet.oracle.server import BackgroundOracle
from devnet.paths import NODE_MODULES
from devnet.stack.anvil import Anvil

STUB = Path(__file__).resolve().parent / "stub"
E18 = 10**18
PRICE = Decimal("60000")


def d18(value: Decimal | str | int) -> int:
    return int(Decimal(value) * E18)


class SymmioUnderTest:
    """The contract under test plus PartyA's side of the lifecycle (sent as a local key)."""

    def __init__(self, anvil: Anvil, address: str, abi: list[dict[str, Any]]) -> None:
        self.anvil = anvil
        self.address = address
        self.abi = abi
        self.w3 = Web3(Web3.HTTPProvider(anvil.http_url))
        self.contract = self.w3.eth.contract(address=address, abi=abi)

    def as_party(self, key: str) -> Any:
        w3 = Web3(Web3.HTTPProvider(self.anvil.http_url))
        w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(key), layer=0)
        return w3, w3.eth.contract(address=self.address, abi=self.abi)

    def _send(self, key: str, fn_name: str, *args: Any) -> dict[str, Any]:
        w3, c = self.as_party(key)
        sender = w3.eth.account.from_key(key).address
        tx = getattr(c.functions, fn_name)(*args).transact({"from": sender})
        receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=10)
        assert receipt["status"] == 1, f"{fn_name} reverted"
        return dict(receipt)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    # PartyA
    def send_quote(
        self,
        party_a_key: str,
        *,
        position_type: int = 0,
        order_type: int = 1,
        price: Decimal = PRICE + 100,
        quantity: Decimal = Decimal("0.01"),
        deadline_in: int = 3600,
        whitelist: tuple[str, ...] = (),
    ) -> int:
        notional = quantity * price
        self._send(
            party_a_key, "sendQuote", list(whitelist), 1, position_type, order_type, d18(price),
            d18(quantity), d18(notional / 10), d18(notional / 100), self.now() + deadline_in,
        )  # fmt: skip
        return int(self.contract.functions.getNextQuoteId().call())

    def request_to_cancel_quote(self, party_a_key: str, quote_id: int) -> None:
        self._send(party_a_key, "requestToCancelQuote", quote_id)

    def request_to_close(
        self, party_a_key: str, quote_id: int, close_price: Decimal, quantity: Decimal,
        order_type: int = 1, deadline_in: int = 3600,
    ) -> None:  # fmt: skip
        self._send(party_a_key, "requestToClosePosition", quote_id, d18(close_price),
                   d18(quantity), order_type, self.now() + deadline_in)  # fmt: skip

    def request_to_cancel_close(self, party_a_key: str, quote_id: int) -> None:
        self._send(party_a_key, "requestToCancelCloseRequest", quote_id)

    def quote(self, quote_id: int) -> Any:
        return self.contract.functions.getQuote(quote_id).call()


def _deploy_stub(anvil: Anvil) -> SymmioUnderTest:
    if not (NODE_MODULES / "solc").exists():
        pytest.fail("solc-js missing: run `make deps` (npm install in devnet/)")
    cached = STUB / "SymmioStub.json"
    if cached.exists() and cached.stat().st_mtime >= (STUB / "SymmioStub.sol").stat().st_mtime:
        compiled = json.loads(cached.read_text())
    else:
        out = subprocess.run(
            ["node", str(STUB / "compile.js")], check=True, capture_output=True, timeout=120
        ).stdout
        compiled = json.loads(out)
    w3 = Web3(Web3.HTTPProvider(anvil.http_url))
    deployer = w3.eth.accounts[0]
    tx = w3.eth.send_transaction({"from": deployer, "data": compiled["bytecode"]})
    address = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    deployed = SymmioUnderTest(anvil, address, compiled["abi"])
    c = deployed.contract
    w3.eth.wait_for_transaction_receipt(
        c.functions.addSymbol(1, "BTCUSDT").transact({"from": deployer})
    )
    return deployed


@pytest.fixture(scope="module")
def symmio(anvil: Anvil) -> SymmioUnderTest:
    return _deploy_stub(anvil)


@pytest.fixture(scope="module")
def hedger_key(anvil: Anvil, symmio: SymmioUnderTest) -> tuple[str, str]:
    key, address = funded_key(anvil)
    deployer = symmio.w3.eth.accounts[0]
    symmio.w3.eth.wait_for_transaction_receipt(
        symmio.contract.functions.registerPartyB(address, d18(100_000)).transact({"from": deployer})
    )
    return key, address


@pytest.fixture(scope="module")
def party_a(anvil: Anvil) -> tuple[str, str]:
    return funded_key(anvil)


@pytest.fixture(scope="module")
def oracle(symmio: SymmioUnderTest, anvil: Anvil) -> Iterator[BackgroundOracle]:
    config = OracleConfig(rpc_url=anvil.http_url, symmio=symmio.address)
    with BackgroundOracle(config, prices=StaticPriceSource({"BTCUSDT": PRICE})) as running:
        yield running


@pytest.fixture(scope="module")
def chain_settings(
    settings: Settings,
    anvil: Anvil,
    symmio: SymmioUnderTest,
    hedger_key: tuple[str, str],
    oracle: BackgroundOracle,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return load_settings(
        temporal_address=settings.temporal_address,
        rpc_http_urls=[anvil.http_url],
        symmio_address=symmio.address,
        private_key=hedger_key[0],
        muon_urls=[oracle.url],
        database_url=database_url,
        chain_id=31337,
        chain_journal_dir=str(tmp_path_factory.mktemp("chain-journal")),
    )


@pytest.fixture(scope="module")
async def chain_worker(
    temporal_client: Client, chain_settings: Settings, symmio: SymmioUnderTest
) -> AsyncIterator[tuple[str, Any]]:
    """A chain worker plus the probe workflow on a private task queue: (queue, agent)."""
    from call_workflow import ChainActivityProbe

    from workers.chain_agent import build_agent, build_chain_worker

    queue = f"chain-test-{uuid.uuid4().hex[:8]}"
    agent = build_agent(chain_settings, abi=symmio.abi)
    agent.sender.poll_interval = 0.05
    worker = build_chain_worker(temporal_client, chain_settings, agent=agent, task_queue=queue)
    probe = Worker(temporal_client, task_queue=queue + "-wf", workflows=[ChainActivityProbe])
    async with worker, probe:
        yield queue, agent
    await agent.close()
