"""adapters.muon.client against the real devnet oracle app on a local port (in-memory chain),
plus gateway-fallback and validation cases with a mocked transport."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.muon.client import (
    MuonClient,
    MuonError,
    MuonUnavailable,
    MuonVerification,
    build_query,
    parse_envelope,
)
from devnet.oracle.app import OracleConfig, create_app
from devnet.oracle.chain import BlockInfo, OpenPosition
from devnet.oracle.memory import InMemoryChain
from devnet.oracle.prices import StaticPriceSource
from devnet.oracle.server import BackgroundOracle, free_port
from devnet.oracle.signer import DEVNET_MUON_APP_ID, default_devnet_signer, verify_schnorr
from domain import muon
from domain.enums import PositionType
from domain.muon import PairUpnlAndPriceSig, QuotePriceSig, SingleUpnlSig

SYMMIO = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
PARTY_A = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
PARTY_B = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
E18 = 10**18
SIGNER = default_devnet_signer()
VERIFY = MuonVerification(DEVNET_MUON_APP_ID, SIGNER.gateway_address)


def make_chain() -> InMemoryChain:
    return InMemoryChain(
        block=BlockInfo(77, 1_800_000_000),
        nonces_a={PARTY_A: 3},
        nonces_b={(PARTY_B, PARTY_A): 2},
        positions=[
            OpenPosition(5, 1, PositionType.SHORT, 61000 * E18, 2 * E18 // 100, 0, PARTY_A, PARTY_B)
        ],
    )


@pytest.fixture(scope="module")
def oracle() -> Iterator[BackgroundOracle]:
    with BackgroundOracle(
        OracleConfig(symmio=SYMMIO),
        chain=make_chain(),
        prices=StaticPriceSource({"BTCUSDT": Decimal("60000")}),
    ) as running:
        yield running


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1/"


# SHORT 0.02 from 61000 at 60000: PartyA +20, PartyB −20
UPNL_A = 20 * E18


def verify_sig(digest: bytes, sig: Any) -> None:
    pk = SIGNER.public_key
    assert verify_schnorr(pk.x, pk.parity, digest, sig.sigs.signature, sig.sigs.nonce)


async def test_typed_calls_against_the_oracle(oracle: BackgroundOracle) -> None:
    async with MuonClient([oracle.url], verification=VERIFY) as client:
        lock = await client.party_b_upnl_sig(
            party_b=PARTY_B, party_a=PARTY_A, chain_id=31337, symmio=SYMMIO
        )
        assert isinstance(lock, SingleUpnlSig)
        assert (lock.upnl, lock.timestamp) == (-UPNL_A, 1_800_000_000)
        assert len(lock.req_id) == 32 and len(lock.gateway_signature) == 65
        verify_sig(
            muon.single_upnl_party_b_hash(
                muon_app_id=DEVNET_MUON_APP_ID,
                req_id=lock.req_id,
                symmio=SYMMIO,
                party_b=PARTY_B,
                party_a=PARTY_A,
                nonce_b=2,
                upnl=-UPNL_A,
                timestamp=lock.timestamp,
                chain_id=31337,
            ).digest,
            lock,
        )

        pair = await client.pair_upnl_and_price_sig(
            party_b=PARTY_B, party_a=PARTY_A, chain_id=31337, symmio=SYMMIO, symbol_id=1
        )
        assert isinstance(pair, PairUpnlAndPriceSig)
        assert (pair.upnl_party_a, pair.upnl_party_b, pair.price) == (UPNL_A, -UPNL_A, 60000 * E18)
        verify_sig(
            muon.pair_upnl_and_price_hash(
                muon_app_id=DEVNET_MUON_APP_ID,
                req_id=pair.req_id,
                symmio=SYMMIO,
                party_b=PARTY_B,
                party_a=PARTY_A,
                nonce_b=2,
                nonce_a=3,
                upnl_party_b=-UPNL_A,
                upnl_party_a=UPNL_A,
                symbol_id=1,
                price=60000 * E18,
                timestamp=pair.timestamp,
                chain_id=31337,
            ).digest,
            pair,
        )
        # web3 tuple order: A before B
        assert pair.to_abi_tuple()[2:5] == (UPNL_A, -UPNL_A, 60000 * E18)

        funding = await client.pair_upnl_sig(
            party_b=PARTY_B, party_a=PARTY_A, chain_id=31337, symmio=SYMMIO
        )
        assert (funding.upnl_party_a, funding.upnl_party_b) == (UPNL_A, -UPNL_A)
        a = await client.party_a_upnl_sig(party_a=PARTY_A, chain_id=31337, symmio=SYMMIO)
        assert a.upnl == UPNL_A
        send = await client.party_a_upnl_and_price_sig(
            party_a=PARTY_A, chain_id=31337, symmio=SYMMIO, symbol_id=1
        )
        assert (send.upnl, send.price) == (UPNL_A, 60000 * E18)
        prices = await client.quote_price_sig(quote_ids=[5], chain_id=31337, symmio=SYMMIO)
        assert (
            isinstance(prices, QuotePriceSig)
            and prices.prices == (60000 * E18,)
            and prices.quote_ids == (5,)
        )


async def test_settlement_sig_against_the_oracle(oracle: BackgroundOracle) -> None:
    """`settle_upnl` → SettlementSig: the client rebuilds the packed hash (domain.muon
    .settlement_hash) and accepts the answer only if the gateway signed that hash."""
    async with MuonClient([oracle.url], verification=VERIFY) as client:
        sig = await client.settlement_sig(
            party_a=PARTY_A, quote_ids=[5], chain_id=31337, symmio=SYMMIO
        )
        assert [r.to_abi_tuple() for r in sig.rows] == [(5, 60000 * E18, 0)]
        assert (sig.upnl_party_bs, sig.upnl_party_a) == ((-UPNL_A,), UPNL_A)
        digest = muon.settlement_hash(
            muon_app_id=DEVNET_MUON_APP_ID, req_id=sig.req_id, symmio=SYMMIO, nonces_b=[2],
            nonce_a=3, settlements=sig.rows, upnl_party_bs=[-UPNL_A], upnl_party_a=UPNL_A,
            timestamp=sig.timestamp, chain_id=31337,
        ).digest  # fmt: skip
        verify_sig(digest, sig)
        assert sig.to_abi_tuple()[2:5] == ([(5, 60000 * E18, 0)], [-UPNL_A], UPNL_A)
        with pytest.raises(MuonError):  # quote 6 does not exist: the oracle refuses
            await client.settlement_sig(
                party_a=PARTY_A, quote_ids=[6], chain_id=31337, symmio=SYMMIO
            )


async def test_falls_back_past_a_dead_gateway(oracle: BackgroundOracle) -> None:
    async with MuonClient([dead_url(), dead_url(), oracle.url], timeout=2) as client:
        sig = await client.party_b_upnl_sig(
            party_b=PARTY_B, party_a=PARTY_A, chain_id=31337, symmio=SYMMIO
        )
        assert sig.upnl == -UPNL_A


async def test_all_gateways_down() -> None:
    async with MuonClient([dead_url(), dead_url()], timeout=2) as client:
        with pytest.raises(MuonUnavailable, match="no Muon gateway reachable") as info:
            await client.party_b_upnl_sig(
                party_b=PARTY_B, party_a=PARTY_A, chain_id=31337, symmio=SYMMIO
            )
    assert len(info.value.attempts) == 2 and not any(a.answered for a in info.value.attempts)


async def test_refusal_is_a_muon_error(oracle: BackgroundOracle) -> None:
    async with MuonClient([oracle.url]) as client:
        with pytest.raises(MuonError, match="does not match") as info:
            await client.party_b_upnl_sig(
                party_b=PARTY_B, party_a=PARTY_A, chain_id=1, symmio=SYMMIO
            )
    assert not isinstance(info.value, MuonUnavailable)


async def test_verification_rejects_wrong_gateway_or_app(oracle: BackgroundOracle) -> None:
    for verification in (
        MuonVerification(DEVNET_MUON_APP_ID, PARTY_A),
        MuonVerification(12345, SIGNER.gateway_address),
    ):
        async with MuonClient([oracle.url], verification=verification) as client:
            with pytest.raises(MuonError, match="gateway signature by"):
                await client.party_b_upnl_sig(
                    party_b=PARTY_B, party_a=PARTY_A, chain_id=31337, symmio=SYMMIO
                )


# ------------------------------------------------------------------ mocked gateways


@pytest.fixture(scope="module")
def good_envelope() -> dict[str, Any]:
    app = create_app(
        OracleConfig(), chain=make_chain(), prices=StaticPriceSource({"BTCUSDT": Decimal("60000")})
    )
    body = (
        TestClient(app)
        .get(
            "/v1/?"
            + build_query(
                "uPnl_B", {"partyB": PARTY_B, "partyA": PARTY_A, "chainId": 31337, "symmio": SYMMIO}
            )
        )
        .json()
    )
    assert body["success"] is True
    return body  # type: ignore[no-any-return]


def mock_client(
    handlers: dict[str, Callable[[httpx.Request], httpx.Response]], seen: list[httpx.Request]
) -> MuonClient:
    def route(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handlers[request.url.host](request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(route))
    return MuonClient([f"http://{h}/v1/" for h in handlers], http=http, verification=VERIFY)


def ok(body: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body)


def boom(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectTimeout("timed out", request=request)


async def lock_sig(client: MuonClient) -> SingleUpnlSig:
    return await client.party_b_upnl_sig(
        party_b=PARTY_B, party_a=PARTY_A, chain_id=31337, symmio=SYMMIO
    )


async def test_query_is_muon_shaped(good_envelope: dict[str, Any]) -> None:
    seen: list[httpx.Request] = []
    client = mock_client({"g1": ok(good_envelope)}, seen)
    await lock_sig(client)
    (request,) = seen
    assert request.url.path == "/v1/"
    assert dict(request.url.params) == {
        "app": "symmio",
        "method": "uPnl_B",
        "params[partyB]": PARTY_B,
        "params[partyA]": PARTY_A,
        "params[chainId]": "31337",
        "params[symmio]": SYMMIO,
    }
    assert (
        build_query("price", {"quoteIds": [10, 11]})
        == "app=symmio&method=price&params[quoteIds]=[10,11]"
    )


async def test_fallback_order_on_5xx_timeout_and_refusal(good_envelope: dict[str, Any]) -> None:
    seen: list[httpx.Request] = []
    refusal = {"success": False, "error": {"message": "nope"}}
    client = mock_client(
        {"g1": ok({"oops": 1}, 502), "g2": boom, "g3": ok(refusal, 200), "g4": ok(good_envelope)},
        seen,
    )
    sig = await lock_sig(client)
    assert sig.upnl == -UPNL_A
    assert [r.url.host for r in seen] == ["g1", "g2", "g3", "g4"]


async def test_all_5xx_is_unavailable() -> None:
    client = mock_client(
        {"g1": ok({"success": False, "error": {"message": "x"}}, 503), "g2": boom}, []
    )
    with pytest.raises(MuonUnavailable):
        await lock_sig(client)


def _mutations() -> list[tuple[str, Callable[[dict[str, Any]], None]]]:
    def pop(path: list[str]) -> Callable[[dict[str, Any]], None]:
        def f(body: dict[str, Any]) -> None:
            node = body
            for key in path[:-1]:
                node = node[key]
            node.pop(path[-1])

        return f

    def set_(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
        def f(body: dict[str, Any]) -> None:
            node = body
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value

        return f

    return [
        ("no success", pop(["success"])),
        ("no reqId", pop(["result", "reqId"])),
        ("empty reqId", set_(["result", "reqId"], "0x")),
        ("no signatures", set_(["result", "signatures"], [])),
        ("no nonceAddress", pop(["result", "data", "init"])),
        ("zero nonceAddress", set_(["result", "data", "init", "nonceAddress"], "0x" + "00" * 20)),
        ("short nodeSignature", set_(["result", "nodeSignature"], "0x1234")),
        ("bad timestamp", set_(["result", "data", "timestamp"], "soon")),
        ("no upnl", pop(["result", "data", "result", "uPnl"])),
        ("echo mismatch", set_(["result", "data", "result", "partyA"], PARTY_B)),
        ("tampered upnl", set_(["result", "data", "result", "uPnl"], "0")),
        ("tampered timestamp", set_(["result", "data", "timestamp"], 1_800_000_001)),
    ]


@pytest.mark.parametrize(("what", "mutate"), _mutations(), ids=[m[0] for m in _mutations()])
async def test_invalid_envelopes_are_rejected(
    good_envelope: dict[str, Any], what: str, mutate: Any
) -> None:
    bad = copy.deepcopy(good_envelope)
    mutate(bad)
    with pytest.raises(MuonError) as info:
        await lock_sig(mock_client({"g1": ok(bad)}, []))
    assert not isinstance(info.value, MuonUnavailable)
    # ...and a good second gateway is used instead
    sig = await lock_sig(mock_client({"g1": ok(bad), "g2": ok(good_envelope)}, []))
    assert sig.upnl == -UPNL_A


def test_parse_envelope_maps_fields(good_envelope: dict[str, Any]) -> None:
    answer = parse_envelope("uPnl_B", "g", good_envelope)
    r = good_envelope["result"]
    assert answer.req_id.hex() == r["reqId"][2:]
    assert answer.sigs.signature == int(r["signatures"][0]["signature"], 16)
    assert answer.sigs.nonce == r["data"]["init"]["nonceAddress"]
    assert answer.sigs.owner == SIGNER.owner_address
    assert answer.timestamp == 1_800_000_000
    assert answer.int_field("uPnl") == -UPNL_A


def test_client_needs_a_gateway() -> None:
    with pytest.raises(ValueError):
        MuonClient([])
