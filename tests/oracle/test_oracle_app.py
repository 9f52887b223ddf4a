"""The devnet Muon oracle's HTTP API with an injected fake chain (no node needed).

Signatures are checked with the pure-Python replica of SYMMIO's verifier, and one answer is
reproduced byte for byte against a hash the real contract accepted (hashes.json).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devnet.oracle.app import OracleConfig, create_app, position_upnl
from devnet.oracle.chain import BlockInfo, OpenPosition
from devnet.oracle.memory import InMemoryChain
from devnet.oracle.prices import StaticPriceSource
from devnet.oracle.signer import (
    DEVNET_MUON_APP_ID,
    default_devnet_signer,
    recover_gateway,
    verify_schnorr,
)
from domain import muon
from domain.enums import PositionType

VECTORS = Path(__file__).resolve().parents[1] / "muon" / "vectors"
HASHES = json.loads((VECTORS / "hashes.json").read_text())
SYMMIO = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
PARTY_A = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
PARTY_B = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
OTHER_B = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
E18 = 10**18


@pytest.fixture
def chain() -> InMemoryChain:
    return InMemoryChain(
        block=BlockInfo(50, 1795736162),
        nonces_a={PARTY_A: 1},
        nonces_b={(PARTY_B, PARTY_A): 1, (OTHER_B, PARTY_A): 7},
        positions=[
            OpenPosition(1, 1, PositionType.LONG, 60000 * E18, E18 // 100, 0, PARTY_A, PARTY_B),
            OpenPosition(4, 2, PositionType.SHORT, 3000 * E18, E18, E18 // 2, PARTY_A, OTHER_B),
        ],
        symbols={1: "BTCUSDT", 2: "ETHUSDT", 3: "NOPEUSDT"},
        quote_symbols={2: 1},
    )


@pytest.fixture
def prices() -> StaticPriceSource:
    return StaticPriceSource({"BTCUSDT": Decimal("60450"), "ETHUSDT": Decimal("2900.5")})


@pytest.fixture
def client(chain: InMemoryChain, prices: StaticPriceSource) -> TestClient:
    return TestClient(create_app(OracleConfig(symmio=SYMMIO), chain=chain, prices=prices))


def get(client: TestClient, method: str, **params: Any) -> Any:
    query = {
        "app": "symmio",
        "method": method,
        "params[chainId]": "31337",
        "params[symmio]": SYMMIO,
    }
    query.update({f"params[{k}]": str(v) for k, v in params.items()})
    return client.get("/v1/", params=query)


def check_signed(body: dict[str, Any], expected: muon.MuonHash) -> None:
    assert body["success"] is True
    r = body["result"]
    assert r["data"]["resultHash"] == expected.hex
    signer = default_devnet_signer()
    assert r["signatures"][0]["owner"] == signer.owner_address
    s = int(r["signatures"][0]["signature"], 16)
    pk = signer.public_key
    assert verify_schnorr(pk.x, pk.parity, expected.digest, s, r["data"]["init"]["nonceAddress"])
    assert (
        recover_gateway(expected.digest, bytes.fromhex(r["nodeSignature"][2:]))
        == signer.gateway_address
    )
    assert r["gwAddress"] == signer.gateway_address


def common(body: dict[str, Any]) -> dict[str, Any]:
    r = body["result"]
    return {
        "muon_app_id": DEVNET_MUON_APP_ID,
        "req_id": bytes.fromhex(r["reqId"][2:]),
        "symmio": SYMMIO,
        "timestamp": r["data"]["timestamp"],
        "chain_id": 31337,
    }


# uPnL at BTC 60450 / ETH 2900.5: quote 1 LONG 0.01 from 60000 → +4.5; quote 4 SHORT 0.5 from 3000 → +49.75
UPNL_Q1 = 45 * E18 // 10
UPNL_Q4 = 4975 * E18 // 100


def test_upnl_math() -> None:
    long_ = OpenPosition(1, 1, PositionType.LONG, 100 * E18, 3, 0, PARTY_A, PARTY_B)
    short = OpenPosition(2, 1, PositionType.SHORT, 100 * E18, 3, 0, PARTY_A, PARTY_B)
    # 3 wei of quantity × −1 USD = −3e18/1e18 → −3 ... and truncation toward zero on fractions
    assert position_upnl(long_, 99 * E18) == -3
    assert position_upnl(short, 99 * E18) == 3
    tiny = OpenPosition(3, 1, PositionType.LONG, 100 * E18, 1, 0, PARTY_A, PARTY_B)
    assert position_upnl(tiny, 100 * E18 - E18 // 2) == 0  # −0.5 truncates to 0, not −1


def test_info(client: TestClient) -> None:
    info = client.get("/v1/info").json()
    signer = default_devnet_signer()
    assert info["gateway"] == signer.gateway_address
    assert int(info["publicKey"]["x"], 16) == signer.public_key.x
    assert info["appId"] == str(DEVNET_MUON_APP_ID)
    assert info["symmio"] == SYMMIO


def test_upnl_b(client: TestClient, chain: InMemoryChain) -> None:
    body = get(client, "uPnl_B", partyB=PARTY_B, partyA=PARTY_A).json()
    res = body["result"]["data"]["result"]
    assert res["uPnl"] == str(-UPNL_Q1) and res["nonce"] == "1" and res["quoteIds"] == ["1"]
    assert body["result"]["data"]["timestamp"] == chain.block.timestamp
    check_signed(
        body,
        muon.single_upnl_party_b_hash(
            **common(body), party_b=PARTY_B, party_a=PARTY_A, nonce_b=1, upnl=-UPNL_Q1
        ),
    )
    assert chain.reads and {blk for _, blk in chain.reads} == {chain.block.number}


def test_upnl_a_and_with_price(client: TestClient) -> None:
    body = get(client, "uPnl_A", partyA=PARTY_A).json()
    assert body["result"]["data"]["result"]["uPnl"] == str(UPNL_Q1 + UPNL_Q4)
    check_signed(
        body,
        muon.single_upnl_party_a_hash(
            **common(body), party_a=PARTY_A, nonce_a=1, upnl=UPNL_Q1 + UPNL_Q4
        ),
    )
    body = get(client, "uPnl_A_withSymbolPrice", partyA=PARTY_A, symbolId=2).json()
    res = body["result"]["data"]["result"]
    assert res["price"] == str(29005 * E18 // 10)
    check_signed(
        body,
        muon.single_upnl_and_price_hash(
            **common(body),
            party_a=PARTY_A,
            nonce_a=1,
            upnl=UPNL_Q1 + UPNL_Q4,
            symbol_id=2,
            price=29005 * E18 // 10,
        ),
    )


def test_pair_methods(client: TestClient) -> None:
    body = get(client, "uPnl", partyB=PARTY_B, partyA=PARTY_A).json()
    res = body["result"]["data"]["result"]
    assert (res["uPnlA"], res["uPnlB"]) == (str(UPNL_Q1 + UPNL_Q4), str(-UPNL_Q1))
    pair = dict(
        party_b=PARTY_B,
        party_a=PARTY_A,
        nonce_b=1,
        nonce_a=1,
        upnl_party_b=-UPNL_Q1,
        upnl_party_a=UPNL_Q1 + UPNL_Q4,
    )
    check_signed(body, muon.pair_upnl_hash(**common(body), **pair))
    body = get(client, "uPnlWithSymbolPrice", partyB=PARTY_B, partyA=PARTY_A, symbolId=1).json()
    assert body["result"]["data"]["result"]["price"] == str(60450 * E18)
    check_signed(
        body, muon.pair_upnl_and_price_hash(**common(body), **pair, symbol_id=1, price=60450 * E18)
    )
    # the other PartyB sees its own nonce and pair uPnL
    body = get(client, "uPnl", partyB=OTHER_B, partyA=PARTY_A).json()
    assert body["result"]["data"]["result"]["uPnlB"] == str(-UPNL_Q4)
    assert body["result"]["data"]["result"]["nonceB"] == "7"


def test_price_method(client: TestClient) -> None:
    body = get(client, "price", quoteIds="[1,4]").json()
    res = body["result"]["data"]["result"]
    assert res["prices"] == [str(60450 * E18), str(29005 * E18 // 10)]
    assert res["symbols"] == ["BTCUSDT", "ETHUSDT"]
    check_signed(
        body,
        muon.quote_prices_hash(
            **common(body), quote_ids=[1, 4], prices=[60450 * E18, 29005 * E18 // 10]
        ),
    )


def test_reproduces_a_hash_the_contract_accepted(
    chain: InMemoryChain, prices: StaticPriceSource
) -> None:
    (ex,) = [
        e
        for e in HASHES["kinds"]["PairUpnlAndPriceSig"]["accepted_examples"]
        if "openPosition(2)" in e["accepted_in"]
    ]
    f = ex["fields"]
    chain.positions = chain.positions[:1]  # the state before openPosition(2): quote 1 open
    chain.block = BlockInfo(48, int(f["timestamp"]))
    app = create_app(
        OracleConfig(muon_app_id=int(f["muonAppId"])),
        chain=chain,
        prices=prices,
        req_id=lambda method, params: bytes.fromhex(f["reqId"][2:]),
    )
    body = get(
        TestClient(app), "uPnlWithSymbolPrice", partyB=PARTY_B, partyA=PARTY_A, symbolId=1
    ).json()
    res = body["result"]["data"]["result"]
    assert (res["uPnlA"], res["uPnlB"], res["price"]) == (
        f["upnlPartyA"],
        f["upnlPartyB"],
        f["price"],
    )
    assert body["result"]["data"]["resultHash"] == ex["hash"]


def test_set_fixed_price(client: TestClient) -> None:
    assert client.put("/devnet/prices/BTCUSDT", json={"price": "61000"}).status_code == 200
    body = get(client, "uPnlWithSymbolPrice", partyB=PARTY_B, partyA=PARTY_A, symbolId=1).json()
    assert body["result"]["data"]["result"]["price"] == str(61000 * E18)
    assert client.put("/devnet/prices/BTCUSDT", json={"price": "-1"}).status_code == 400


@pytest.mark.parametrize(
    ("query", "status", "needle"),
    [
        ({"method": "nope"}, 400, "unknown method"),
        ({"app": "other"}, 400, "unknown app"),
        ({"params[partyA]": "0x1234"}, 400, '"partyA" must be an address'),
        ({"params[chainId]": "1"}, 400, "does not match"),
        ({"params[symmio]": PARTY_A}, 400, "unknown symmio"),
        ({"method": "price", "params[quoteIds][]": "1"}, 400, "JSON strings"),
        ({"method": "price", "params[quoteIds]": "1,2"}, 400, "JSON array"),
        ({"method": "price", "params[quoteIds]": "[99]"}, 400, "does not exist"),
        ({"method": "uPnl_A_withSymbolPrice", "params[symbolId]": "3"}, 503, "price unavailable"),
    ],
)
def test_errors_in_muon_shape(
    client: TestClient, query: dict[str, str], status: int, needle: str
) -> None:
    params = {
        "app": "symmio",
        "method": "uPnl_A",
        "params[partyA]": PARTY_A,
        "params[chainId]": "31337",
        "params[symmio]": SYMMIO,
        **query,
    }
    response = client.get("/v1/", params=params)
    assert response.status_code == status
    body = response.json()
    assert body["success"] is False
    assert needle in body["error"]["message"]


def test_post_form(client: TestClient) -> None:
    body = client.post(
        "/v1/",
        json={
            "app": "symmio",
            "method": "price",
            "params": {"quoteIds": [1], "chainId": 31337, "symmio": SYMMIO},
        },
    ).json()
    assert body["success"] is True
    assert body["result"]["data"]["result"]["prices"] == [str(60450 * E18)]


def test_chain_failure_is_a_muon_error(chain: InMemoryChain, prices: StaticPriceSource) -> None:
    def broken() -> BlockInfo:
        raise ConnectionError("node down")

    chain.latest_block = broken  # type: ignore[method-assign]
    client = TestClient(create_app(OracleConfig(), chain=chain, prices=prices))
    response = get(client, "uPnl_B", partyB=PARTY_B, partyA=PARTY_A)
    assert response.status_code == 503
    assert response.json() == {"success": False, "error": {"message": "ConnectionError: node down"}}
