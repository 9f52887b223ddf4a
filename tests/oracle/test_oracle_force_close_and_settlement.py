"""The oracle's `priceRange` (HighLowPriceSig) and `settle_upnl` (SettlementSig) methods, the price
history behind priceRange, and the envelope → struct helpers (in-memory chain, no node)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devnet.oracle import structs
from devnet.oracle.app import OracleConfig, create_app
from devnet.oracle.chain import BlockInfo, OpenPosition
from devnet.oracle.hashes import QuoteSettlement, high_low_price_hash, settlement_hash
from devnet.oracle.history import PriceHistory
from devnet.oracle.memory import InMemoryChain
from devnet.oracle.prices import StaticPriceSource
from devnet.oracle.signer import DEVNET_MUON_APP_ID
from domain.enums import PositionType, QuoteStatus
from tests.oracle.test_oracle_app import (
    E18,
    OTHER_B,
    PARTY_A,
    PARTY_B,
    SYMMIO,
    check_signed,
    common,
    get,
)  # fmt: skip

T = 1795736162


@pytest.fixture
def chain() -> InMemoryChain:
    return InMemoryChain(
        block=BlockInfo(50, T),
        nonces_a={PARTY_A: 3},
        nonces_b={(PARTY_B, PARTY_A): 2, (OTHER_B, PARTY_A): 7},
        positions=[
            OpenPosition(1, 1, PositionType.LONG, 60000 * E18, E18 // 100, 0, PARTY_A, PARTY_B),
            OpenPosition(4, 2, PositionType.SHORT, 3000 * E18, E18, E18 // 2, PARTY_A, OTHER_B),
            OpenPosition(5, 1, PositionType.SHORT, 61000 * E18, E18 // 100, 0, PARTY_A, PARTY_B),
            OpenPosition(9, 1, PositionType.LONG, 60000 * E18, E18, 0, PARTY_A, PARTY_B,
                         QuoteStatus.CLOSED),
            OpenPosition(11, 1, PositionType.LONG, 60000 * E18, E18, 0, PARTY_B, PARTY_B),
        ],
    )  # fmt: skip


@pytest.fixture
def prices() -> StaticPriceSource:
    return StaticPriceSource({"BTCUSDT": Decimal("60450"), "ETHUSDT": Decimal("2900.5")})


@pytest.fixture
def client(chain: InMemoryChain, prices: StaticPriceSource) -> TestClient:
    return TestClient(create_app(OracleConfig(symmio=SYMMIO), chain=chain, prices=prices))


def _at(chain: InMemoryChain, t: int) -> None:
    chain.block = BlockInfo(chain.block.number + 1, t)


def test_price_history_window() -> None:
    h = PriceHistory()
    assert h.window("BTCUSDT", 0, 10) is None
    h.record("BTCUSDT", 100, 10)
    h.record("BTCUSDT", 110, 30)
    h.record("BTCUSDT", 110, 20)  # the latest observation of a second wins
    h.record("BTCUSDT", 130, 5)
    w = h.window("BTCUSDT", 105, 125)
    assert w is not None and (w.highest, w.lowest, w.mean) == (20, 10, (10 * 5 + 20 * 15) // 20)
    w = h.window("BTCUSDT", 0, 50)  # before the first observation: that observation
    assert w is not None and (w.highest, w.lowest, w.mean) == (10, 10, 10)
    w = h.window("BTCUSDT", 130, 130)
    assert w is not None and (w.highest, w.lowest, w.mean) == (5, 5, 5)
    with pytest.raises(ValueError):
        h.window("BTCUSDT", 5, 4)


def test_price_range(client: TestClient, chain: InMemoryChain, prices: StaticPriceSource) -> None:
    get(client, "price", quoteIds="[1]")  # observes 60450 at T
    _at(chain, T + 100)
    prices.set_price("BTCUSDT", Decimal("61000"))
    get(client, "price", quoteIds="[1]")  # observes 61000 at T+100
    _at(chain, T + 300)
    prices.set_price("BTCUSDT", Decimal("60800"))
    body = get(client, "priceRange", partyA=PARTY_A, partyB=PARTY_B, symbolId=1, t0=T + 50,
               t1=T + 250).json()  # fmt: skip
    res = body["result"]["data"]["result"]
    mean = (60450 * 50 + 61000 * 150) * E18 // 200
    assert (res["startTime"], res["endTime"], res["symbolId"]) == (str(T + 50), str(T + 250), "1")
    assert (res["highest"], res["lowest"], res["mean"]) == (
        str(61000 * E18), str(60450 * E18), str(mean)
    )  # fmt: skip
    # at 60800 PartyB's quotes 1 (long, +8) and 5 (short, +2): PartyB −10; PartyA's total also
    # has quote 4 with OTHER_B (ETH short 0.5 from 3000 at 2900.5: +49.75)
    upnl_b = -(800 + 200) * E18 // 100
    upnl_a = -upnl_b + 4975 * E18 // 100
    assert (res["price"], res["uPnlA"], res["uPnlB"]) == (
        str(60800 * E18), str(upnl_a), str(upnl_b)
    )  # fmt: skip
    assert (res["nonceA"], res["nonceB"]) == ("3", "2")
    assert body["result"]["data"]["timestamp"] == T + 300
    expected = high_low_price_hash(
        **common(body), party_b=PARTY_B, party_a=PARTY_A, nonce_b=2, nonce_a=3,
        upnl_party_b=upnl_b, upnl_party_a=upnl_a, symbol_id=1, current_price=60800 * E18,
        start_time=T + 50, end_time=T + 250, lowest=60450 * E18, highest=61000 * E18,
        average_price=mean,
    )  # fmt: skip
    check_signed(body, expected)
    sig = structs.high_low_price_sig(body)
    assert sig[2:11] == (1, 61000 * E18, 60450 * E18, mean, T + 50, T + 250, upnl_b, upnl_a,
                         60800 * E18)  # fmt: skip
    assert isinstance(sig[0], bytes) and len(sig[11]) == 65 and sig[12][0] > 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"t0": T, "t1": T - 1}, '"t1" must not be before "t0"'),
        ({"t0": T, "t1": T + 1}, '"t1" is after the latest block time'),
        ({"t0": T, "t1": T, "symbolId": 7}, "symbol 7 does not exist"),
        ({"t0": "x", "t1": T}, '"t0" must be a non-negative integer'),
    ],
)
def test_price_range_errors(client: TestClient, params: dict[str, Any], message: str) -> None:
    query = {"partyA": PARTY_A, "partyB": PARTY_B, "symbolId": 1} | params
    body = get(client, "priceRange", **query).json()
    assert body["success"] is False and message in body["error"]["message"]


def test_settle_upnl(client: TestClient) -> None:
    body = get(client, "settle_upnl", partyA=PARTY_A, quoteIds="[4,1,5]").json()
    res = body["result"]["data"]["result"]
    # PartyB indexes in order of first appearance: OTHER_B (quote 4), PARTY_B (quotes 1, 5)
    assert res["partyBs"] == [OTHER_B, PARTY_B]
    assert res["quoteSettlementData"] == [
        ["4", str(29005 * E18 // 10), 0], ["1", str(60450 * E18), 1], ["5", str(60450 * E18), 1]
    ]  # fmt: skip
    upnl_4 = (3000 * E18 - 29005 * E18 // 10) // 2  # SHORT 0.5 open: +49.75
    upnl_b = -(45 * E18 // 10 + 55 * E18 // 10)  # PartyB vs quotes 1 (+4.5) and 5 (+5.5)
    assert res["upnlPartyBs"] == [str(-upnl_4), str(upnl_b)]
    assert res["uPnlA"] == str(upnl_4 - upnl_b)
    assert (res["nonceA"], res["noncesB"]) == ("3", ["7", "2", "2"])
    rows = [QuoteSettlement(4, 29005 * E18 // 10, 0), QuoteSettlement(1, 60450 * E18, 1),
            QuoteSettlement(5, 60450 * E18, 1)]  # fmt: skip
    expected = settlement_hash(
        **common(body), nonces_b=[7, 2, 2], nonce_a=3, settlements=rows,
        upnl_party_bs=[-upnl_4, upnl_b], upnl_party_a=upnl_4 - upnl_b,
    )  # fmt: skip
    check_signed(body, expected)
    assert expected.preimage[:32] == DEVNET_MUON_APP_ID.to_bytes(32, "big")
    sig = structs.settlement_sig(body)
    assert sig[2] == [tuple(r) for r in rows] and sig[3] == [-upnl_4, upnl_b]
    assert structs.settlement_prices(body) == [r.current_price for r in rows]


def test_settlement_hash_packs_the_index_as_one_byte() -> None:
    h = settlement_hash(
        muon_app_id=1, req_id=b"", symmio=SYMMIO, nonces_b=[5], nonce_a=6,
        settlements=[QuoteSettlement(7, 8, 9)], upnl_party_bs=[-1], upnl_party_a=1, timestamp=2,
        chain_id=3,
    )  # fmt: skip
    assert len(h.preimage) == 32 + 20 + len(b"verifySettlement") + 32 + 32 + (32 + 32 + 1) + 32 * 4
    with pytest.raises(ValueError):
        settlement_hash(
            muon_app_id=1, req_id=b"", symmio=SYMMIO, nonces_b=[5], nonce_a=6,
            settlements=[QuoteSettlement(7, 8, 256)], upnl_party_bs=[], upnl_party_a=1,
            timestamp=2, chain_id=3,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("quote_ids", "message"),
    [
        ("[11]", "is not a quote of"),
        ("[9]", "is not an open position (CLOSED)"),
        ("[404]", "quote 404 does not exist"),
        ("[1,1]", "must not repeat"),
        ("1,2", "JSON array"),
    ],
)
def test_settle_upnl_errors(client: TestClient, quote_ids: str, message: str) -> None:
    body = get(client, "settle_upnl", partyA=PARTY_A, quoteIds=quote_ids).json()
    assert body["success"] is False and message in body["error"]["message"]


def test_put_price_stamps_the_history(chain: InMemoryChain) -> None:
    prices = StaticPriceSource({"BTCUSDT": Decimal("60000")})
    app = create_app(OracleConfig(symmio=SYMMIO), chain=chain, prices=prices)
    client = TestClient(app)
    _at(chain, T + 10)
    assert client.put("/devnet/prices/BTCUSDT", json={"price": "62000"}).status_code == 200
    w = app.state.oracle.history.window("BTCUSDT", T, T + 20)
    assert (w.highest, w.lowest) == (62000 * E18, 62000 * E18)
    assert "priceRange" in client.get("/v1/info").json()["methods"]


def test_struct_helpers_map_the_envelope(client: TestClient) -> None:
    body = get(client, "uPnl", partyB=PARTY_B, partyA=PARTY_A).json()
    res = body["result"]["data"]["result"]
    sig = structs.pair_upnl_sig(body)
    assert sig[2:4] == (int(res["uPnlA"]), int(res["uPnlB"]))
    assert sig[5][2] == body["result"]["data"]["init"]["nonceAddress"]
    assert structs.single_upnl_sig(get(client, "uPnl_B", partyB=PARTY_B, partyA=PARTY_A).json())
    prices_sig = structs.quote_price_sig(get(client, "price", quoteIds="[1,4]").json())
    assert prices_sig[2] == [1, 4]
    with pytest.raises(ValueError):
        structs.pair_upnl_sig({"success": False, "error": {"message": "x"}})
