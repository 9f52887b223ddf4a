"""Web3ChainReader, the oracle and the Muon client against a real EVM (anvil) — reading a small
stub contract with SYMMIO's view signatures (tests/oracle/stub/ViewStub.sol, compiled with the
pinned solc-js), so paging, struct decoding, block pinning and chain-time stamps are exercised
without the full SYMMIO-compatible contract."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from adapters.muon.client import MuonClient, MuonVerification
from devnet.oracle.app import OracleConfig
from devnet.oracle.chain import PAGE_SIZE, Web3ChainReader
from devnet.oracle.prices import StaticPriceSource
from devnet.oracle.server import BackgroundOracle
from devnet.oracle.signer import DEVNET_MUON_APP_ID, default_devnet_signer
from devnet.paths import NODE_MODULES
from devnet.stack.anvil import Anvil
from domain.enums import PositionType

STUB = Path(__file__).resolve().parent / "stub"
E18 = 10**18
PARTY_B = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
PARTY_A = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
N_POSITIONS = PAGE_SIZE + 7  # more than one page
DEPLOY_BLOCK: list[int] = []  # the anvil chain is shared by the session


@pytest.fixture(scope="module")
def stub(anvil: Anvil) -> tuple[Web3, str]:
    if not (NODE_MODULES / "solc").exists():
        pytest.fail("solc-js missing: run `make deps` (npm install in devnet/)")
    compiled = json.loads(
        subprocess.run(
            ["node", str(STUB / "compile.js")], check=True, capture_output=True, timeout=120
        ).stdout
    )
    w3 = Web3(Web3.HTTPProvider(anvil.http_url))
    deployer = w3.eth.accounts[0]
    tx = w3.eth.send_transaction({"from": deployer, "data": compiled["bytecode"]})
    deployed = w3.eth.wait_for_transaction_receipt(tx)
    address = deployed["contractAddress"]
    DEPLOY_BLOCK.append(deployed["blockNumber"])
    c = w3.eth.contract(address=address, abi=compiled["abi"])

    def send(fn: Any) -> None:
        w3.eth.wait_for_transaction_receipt(fn.transact({"from": deployer}))

    send(c.functions.addSymbol(1, "BTCUSDT"))
    send(c.functions.setNonces(PARTY_B, PARTY_A, 5, 9))
    for i in range(1, N_POSITIONS + 1):
        # alternate LONG/SHORT, 0.01 each; a partially closed one at the end
        closed = E18 // 200 if i == N_POSITIONS else 0
        send(c.functions.openQuote(i, 1, i % 2, 60000 * E18, E18 // 100, closed, PARTY_A, PARTY_B))
    return w3, address


def test_reader(stub: tuple[Web3, str], anvil: Anvil) -> None:
    w3, address = stub
    reader = Web3ChainReader(anvil.http_url, address)
    block = reader.latest_block()
    assert block.timestamp == w3.eth.get_block("latest")["timestamp"]
    assert reader.chain_id() == 31337
    assert reader.nonce_of_party_a(PARTY_A, block.number) == 9
    assert reader.nonce_of_party_b(PARTY_B, PARTY_A, block.number) == 5
    positions = reader.party_b_open_positions(PARTY_B, PARTY_A, block.number)
    assert [p.quote_id for p in positions] == list(range(1, N_POSITIONS + 1))
    assert (
        positions[0].position_type == PositionType.SHORT
        and positions[1].position_type == PositionType.LONG
    )
    assert positions[-1].open_quantity == E18 // 200
    assert len(reader.party_a_open_positions(PARTY_A, block.number)) == N_POSITIONS
    assert reader.symbol_name(1, block.number) == "BTCUSDT"
    assert reader.quote_symbol_ids([3, 1], block.number) == [1, 1]
    with pytest.raises(LookupError):
        reader.quote_symbol_ids([999], block.number)
    # reads are pinned: the deploy block shows the state before setNonces
    assert reader.nonce_of_party_a(PARTY_A, DEPLOY_BLOCK[0]) == 0


@pytest.fixture(scope="module")
def oracle(stub: tuple[Web3, str], anvil: Anvil) -> Iterator[BackgroundOracle]:
    _, address = stub
    config = OracleConfig(rpc_url=anvil.http_url, symmio=address)
    with BackgroundOracle(
        config, prices=StaticPriceSource({"BTCUSDT": Decimal("60100")})
    ) as running:
        yield running


async def test_client_oracle_chain(
    stub: tuple[Web3, str], oracle: BackgroundOracle, anvil: Anvil
) -> None:
    w3, address = stub
    verify = MuonVerification(DEVNET_MUON_APP_ID, default_devnet_signer().gateway_address)
    async with MuonClient([oracle.url], verification=verify) as client:
        sig = await client.pair_upnl_and_price_sig(
            party_b=PARTY_B, party_a=PARTY_A, chain_id=31337, symmio=address, symbol_id=1
        )
        # +100 on 0.01: LONG (even ids) +1, SHORT (odd ids) −1; the last one (odd) is half closed
        assert N_POSITIONS % 2 == 1
        longs, shorts = N_POSITIONS // 2, N_POSITIONS // 2 + 1
        expected_a = longs * E18 - (shorts - 1) * E18 - E18 // 2
        assert (sig.upnl_party_a, sig.upnl_party_b, sig.price) == (
            expected_a,
            -expected_a,
            60100 * E18,
        )
        assert sig.timestamp == w3.eth.get_block("latest")["timestamp"]
        # the oracle follows the chain's clock when tests warp it
        anvil.rpc("evm_increaseTime", [3600])
        anvil.rpc("evm_mine", [])
        later = await client.party_b_upnl_sig(
            party_b=PARTY_B, party_a=PARTY_A, chain_id=31337, symmio=address
        )
        assert later.timestamp == w3.eth.get_block("latest")["timestamp"] >= sig.timestamp + 3600
        prices = await client.quote_price_sig(quote_ids=[2, 1], chain_id=31337, symmio=address)
        assert prices.prices == (60100 * E18, 60100 * E18)
