"""/get_balance_info/{wallet}/{multi_account} against a real anvil and the devnet MultiAccount:
the endpoint's figures must equal the diamond's own views of each sub-account."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from web3 import Web3

from adapters.chain.client import ChainClient
from api.app import create_app
from config.settings import Settings
from devnet.contracts.deploy import Deployment, deploy_and_initialise
from devnet.oracle.signer import DEVNET_MUON_APP_ID, default_devnet_signer
from devnet.stack.anvil import Anvil
from devnet.traders.chain import PartyAChain

E18 = 10**18
FUNDED = 1_234 * E18
ACCOUNT_TYPE = "(address,string)[]"


def _settings(api_settings: Settings, anvil: Anvil, symmio: Deployment, **extra: Any) -> Settings:
    return api_settings.model_copy(
        update={
            "rpc_http_urls": [anvil.http_url],
            "symmio_address": symmio.symmio,
            "multi_accounts": [symmio.multi_account],
            **extra,
        }
    )


@asynccontextmanager
async def _client(
    settings: Settings, engine: AsyncEngine, temporal: Client
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, db_engine=engine, temporal_client=temporal)
    chain = app.state.chain = ChainClient.from_settings(settings)  # what the lifespan builds
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hedger.test") as client:
            yield client
    finally:
        await chain.close()


@pytest.fixture(scope="module")
def symmio(anvil: Anvil) -> Deployment:
    """The devnet contracts (diamond + MultiAccount) on the session's anvil."""
    signer = default_devnet_signer()
    pk = signer.public_key
    return deploy_and_initialise(
        anvil.http_url, muon_public_key=(pk.x, pk.parity), muon_gateway=signer.gateway_address,
        muon_app_id=DEVNET_MUON_APP_ID, out_path=None, party_b_funding=0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def wallet(anvil: Anvil, symmio: Deployment) -> tuple[PartyAChain, list[str]]:
    """One wallet with two sub-accounts under the devnet MultiAccount, the first funded."""
    key = "0x" + secrets.token_hex(32)
    owner = PartyAChain(Web3(Web3.HTTPProvider(anvil.http_url)), symmio.symmio, key)
    anvil.rpc("anvil_setBalance", [owner.address, hex(10**21)])
    multi = symmio.multi_account
    for name in ("first", "second"):
        owner.send("addAccount(string)", name, to=multi)
    (accounts,) = owner.call(
        "getAccounts(address,uint256,uint256)", [ACCOUNT_TYPE], owner.address, 0, 10, to=multi
    )
    subs = [Web3.to_checksum_address(a[0]) for a in accounts]
    (collateral,) = owner.call("getCollateral()", ["address"])
    owner.send("mint(address,uint256)", owner.address, FUNDED, to=collateral)
    owner.send("approve(address,uint256)", multi, FUNDED, to=collateral)
    owner.send("depositAndAllocateForAccount(address,uint256)", subs[0], FUNDED, to=multi)
    return owner, subs


@pytest.fixture
async def http_chain(
    api_settings: Settings,
    anvil: Anvil,
    symmio: Deployment,
    engine: AsyncEngine,
    temporal_client: Client,
) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(_settings(api_settings, anvil, symmio), engine, temporal_client) as client:
        yield client


STATS_TYPES = ["bool"] + ["uint256"] * 13  # partyAStats


def _wei(text: str) -> int:
    value = Decimal(text) * E18
    assert value == int(value), text
    return int(value)


async def test_balance_info_matches_the_chain(
    http_chain: httpx.AsyncClient,
    wallet: tuple[PartyAChain, list[str]],
    symmio: Deployment,
) -> None:
    owner, subs = wallet
    assert len(subs) == 2
    multi = symmio.multi_account
    r = await http_chain.get(f"/get_balance_info/{owner.address}/{multi.lower()}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == subs
    for sub in subs:
        (allocated,) = owner.call("allocatedBalanceOfPartyA(address)", ["uint256"], sub)
        stats = owner.call("partyAStats(address)", STATS_TYPES, sub)
        info = body[sub]["party_a"]
        assert set(info) == {
            "allocated_balance", "available_balance", "cva", "lf", "notional", "party_a_mm",
            "pending_cva", "pending_lf", "pending_party_a_mm", "upnl", "timestamp",
        }  # fmt: skip
        assert isinstance(info["timestamp"], int)
        assert _wei(info["allocated_balance"]) == allocated == stats[1]
        assert [_wei(info[k]) for k in ("cva", "lf", "party_a_mm")] == list(stats[2:5])
        pending = [_wei(info[k]) for k in ("pending_cva", "pending_lf", "pending_party_a_mm")]
        assert pending == list(stats[6:9])
        # no positions: all of the allocation is available for a quote
        assert _wei(info["available_balance"]) == allocated
    assert _wei(body[subs[0]]["party_a"]["allocated_balance"]) == FUNDED
    assert _wei(body[subs[1]]["party_a"]["allocated_balance"]) == 0
    # a wallet without sub-accounts: an empty object
    r = await http_chain.get(f"/get_balance_info/{symmio.admin}/{multi}")
    assert r.status_code == 200 and r.json() == {}


async def test_balance_info_caps_the_sub_accounts(
    api_settings: Settings,
    anvil: Anvil,
    symmio: Deployment,
    engine: AsyncEngine,
    temporal_client: Client,
    wallet: tuple[PartyAChain, list[str]],
) -> None:
    owner, subs = wallet
    settings = _settings(api_settings, anvil, symmio, multi_account_max_sub_accounts=1)
    async with _client(settings, engine, temporal_client) as client:
        r = await client.get(f"/get_balance_info/{owner.address}/{symmio.multi_account}")
    assert r.status_code == 200, r.text
    assert list(r.json()) == subs[:1]


async def test_balance_info_refusals(
    http_chain: httpx.AsyncClient, wallet: tuple[PartyAChain, list[str]]
) -> None:
    owner, _ = wallet
    r = await http_chain.get(f"/get_balance_info/{owner.address}/{'0x' + '11' * 20}")
    assert r.status_code == 404
    assert "not served" in r.json()["detail"]
    for path in (
        f"/get_balance_info/0x123/{owner.address}",
        f"/get_balance_info/{owner.address}/nope",
    ):
        r = await http_chain.get(path)
        assert r.status_code == 400, path
        assert "invalid" in r.json()["detail"]


async def test_balance_info_chain_down_is_503(
    api_settings: Settings,
    anvil: Anvil,
    symmio: Deployment,
    engine: AsyncEngine,
    temporal_client: Client,
    wallet: tuple[PartyAChain, list[str]],
) -> None:
    owner, _ = wallet
    settings = _settings(api_settings, anvil, symmio, rpc_http_urls=["http://127.0.0.1:9"])
    async with _client(settings, engine, temporal_client) as client:
        r = await client.get(f"/get_balance_info/{owner.address}/{symmio.multi_account}")
    assert r.status_code == 503
    assert "chain" in r.json()["detail"]
