"""A fresh anvil (own chain, so the diamond lands at the vectors' address) and one deployment."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from devnet.contracts.deploy import deploy_and_initialise
from devnet.oracle.signer import DEVNET_MUON_APP_ID, default_devnet_signer
from devnet.stack.anvil import Anvil, start_anvil
from tests.contract.helpers import HEDGER, PARTY_A, PARTY_A2, Chain, addr
from tests.contract.muon import DevnetMuon


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def contract_anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    node = start_anvil(
        port=_free_port(), state_dir=tmp_path_factory.mktemp("contract-anvil"), persist=False
    )
    yield node
    node.stop()


@pytest.fixture(scope="session")
def session_chain(contract_anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    signer = default_devnet_signer()
    pk = signer.public_key
    out = tmp_path_factory.mktemp("deploy") / "deployment.json"
    dep = deploy_and_initialise(
        contract_anvil.http_url,
        muon_public_key=(pk.x, pk.parity),
        muon_gateway=signer.gateway_address,
        muon_app_id=DEVNET_MUON_APP_ID,
        out_path=Path(out),
    )
    chain = Chain(Web3(Web3.HTTPProvider(contract_anvil.http_url)), dep, signer)
    for key in (PARTY_A, PARTY_A2):
        chain.fund_party_a(key)
        chain.send(HEDGER, "allocateForPartyB", 50_000 * 10**18, addr(key))
    return chain


@pytest.fixture
def chain(session_chain: Chain) -> Iterator[Chain]:
    snap = session_chain.snapshot()
    yield session_chain
    session_chain.revert_to(snap)


@pytest.fixture
def muon(chain: Chain, contract_anvil: Anvil) -> DevnetMuon:
    """The devnet oracle reading the test chain (fixed prices, BTC 60000, settable)."""
    return DevnetMuon(chain, contract_anvil.http_url)
