"""domain.muon reproduces every packed preimage and hash the real SYMMIO contract verified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak

from domain import muon
from domain.muon import (
    ABI_TYPES,
    LiquidationSig,
    PairUpnlAndPriceSig,
    PairUpnlSig,
    QuotePriceSig,
    SchnorrSign,
    SingleUpnlAndPriceSig,
    SingleUpnlSig,
)

VECTORS = Path(__file__).resolve().parent / "vectors"
HASHES = json.loads((VECTORS / "hashes.json").read_text())
LOGS = json.loads((VECTORS / "logs.json").read_text())
KINDS = HASHES["kinds"]


def b(x: str) -> bytes:
    return bytes.fromhex(x[2:])


def _field(fields: dict[str, str], prefix: str) -> str:
    (value,) = [v for k, v in fields.items() if k == prefix or k.startswith(prefix + "(")]
    return value


def _common(f: dict[str, str]) -> dict[str, Any]:
    return {
        "muon_app_id": int(f["muonAppId"]),
        "req_id": b(f["reqId"]),
        "symmio": _field(f, "symmio"),
        "timestamp": int(f["timestamp"]),
        "chain_id": int(f["chainId"]),
    }


def build(kind: str, f: dict[str, str]) -> muon.MuonHash:
    c = _common(f)
    if kind == "SingleUpnlAndPriceSig":
        return muon.single_upnl_and_price_hash(
            **c,
            party_a=f["partyA"],
            nonce_a=int(f["nonceA"]),
            upnl=int(f["upnl"]),
            symbol_id=int(f["symbolId"]),
            price=int(f["price"]),
        )
    if kind == "SingleUpnlSig (PartyB)":
        return muon.single_upnl_party_b_hash(
            **c,
            party_b=f["partyB"],
            party_a=f["partyA"],
            nonce_b=int(_field(f, "nonceB")),
            upnl=int(f["upnl"]),
        )
    if kind == "PairUpnlAndPriceSig":
        return muon.pair_upnl_and_price_hash(
            **c,
            party_b=f["partyB"],
            party_a=f["partyA"],
            nonce_b=int(f["nonceB"]),
            nonce_a=int(f["nonceA"]),
            upnl_party_b=int(f["upnlPartyB"]),
            upnl_party_a=int(f["upnlPartyA"]),
            symbol_id=int(f["symbolId"]),
            price=int(f["price"]),
        )
    if kind == "SingleUpnlSig (PartyA)":
        return muon.single_upnl_party_a_hash(
            **c, party_a=f["partyA"], nonce_a=int(_field(f, "nonceA")), upnl=int(f["upnl"])
        )
    raise AssertionError(kind)


EXAMPLES = [(kind, ex) for kind, v in KINDS.items() for ex in v["accepted_examples"]]


def test_all_kinds_covered() -> None:
    assert set(KINDS) == {
        "SingleUpnlAndPriceSig",
        "SingleUpnlSig (PartyB)",
        "PairUpnlAndPriceSig",
        "SingleUpnlSig (PartyA)",
    }
    assert len(EXAMPLES) == 10


@pytest.mark.parametrize(
    ("kind", "example"), EXAMPLES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(EXAMPLES)]
)
def test_preimage_and_hash(kind: str, example: dict[str, Any]) -> None:
    got = build(kind, example["fields"])
    assert "0x" + got.preimage.hex() == example["packed_preimage"]
    assert got.hex == example["hash"]
    assert got.digest == keccak(got.preimage)


def test_pair_upnl_and_price_packs_b_before_a() -> None:
    (kind, ex) = next(
        (k, e)
        for k, e in EXAMPLES
        if k == "PairUpnlAndPriceSig" and e["fields"]["upnlPartyA"] != "0"
    )
    f = dict(ex["fields"])
    f["upnlPartyA"], f["upnlPartyB"] = f["upnlPartyB"], f["upnlPartyA"]
    assert build(kind, f).hex != ex["hash"]


def test_pair_upnl_hash_layout() -> None:
    # Same fields as PairUpnlAndPriceSig minus (symbolId, price): check against that preimage.
    (_, ex) = next(
        (k, e)
        for k, e in EXAMPLES
        if k == "PairUpnlAndPriceSig" and e["fields"]["upnlPartyA"] != "0"
    )
    f = ex["fields"]
    full = b(ex["packed_preimage"])
    got = muon.pair_upnl_hash(
        **_common(f),
        party_b=f["partyB"],
        party_a=f["partyA"],
        nonce_b=int(f["nonceB"]),
        nonce_a=int(f["nonceA"]),
        upnl_party_b=int(f["upnlPartyB"]),
        upnl_party_a=int(f["upnlPartyA"]),
    )
    cut = len(full) - 4 * 32  # symbolId, price, timestamp, chainId
    assert got.preimage == full[:cut] + full[cut + 64 :]


def test_quote_prices_and_liquidation_layout() -> None:
    app, req, symmio = 7, b"\x01\x02\x03", "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
    got = muon.quote_prices_hash(
        muon_app_id=app,
        req_id=req,
        symmio=symmio,
        quote_ids=[10, 11],
        prices=[5, 6],
        timestamp=99,
        chain_id=31337,
    )
    w = lambda v: v.to_bytes(32, "big")  # noqa: E731
    assert got.preimage == w(7) + req + b(symmio) + w(10) + w(11) + w(5) + w(6) + w(99) + w(31337)
    with pytest.raises(ValueError):
        muon.quote_prices_hash(
            muon_app_id=app,
            req_id=req,
            symmio=symmio,
            quote_ids=[1],
            prices=[],
            timestamp=1,
            chain_id=1,
        )
    pa = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    liq = muon.liquidation_hash(
        muon_app_id=app,
        req_id=req,
        liquidation_id=b"\xaa",
        symmio=symmio,
        party_a=pa,
        nonce_a=3,
        upnl=-1,
        total_unrealized_loss=-2,
        symbol_ids=[1],
        prices=[8],
        timestamp=99,
        chain_id=31337,
    )
    assert liq.preimage == (
        w(7)
        + req
        + b"\xaa"
        + b(symmio)
        + b"verifyLiquidationSig"
        + b(pa)
        + w(3)
        + b"\xff" * 32
        + (2**256 - 2).to_bytes(32, "big")
        + w(1)
        + w(8)
        + w(99)
        + w(31337)
    )


def test_packing_range_checks() -> None:
    with pytest.raises(ValueError):
        muon.pack_uint256(-1)
    with pytest.raises(ValueError):
        muon.pack_uint256(2**256)
    with pytest.raises(ValueError):
        muon.pack_int256(2**255)
    with pytest.raises(ValueError):
        muon.pack_address("0x1234")
    assert muon.pack_int256(-(2**255)) == b"\x80" + b"\x00" * 31


def _sig(d: dict[str, Any]) -> SchnorrSign:
    s = d["sigs"]
    return SchnorrSign(int(s["signature"]), s["owner"], s["nonce"])


@pytest.mark.parametrize(
    "tx",
    [t for t in LOGS["partyB_transactions"] if "upnlSig" in t["decoded_args"]],
    ids=lambda t: t["step"],
)
def test_to_abi_tuple_reproduces_real_calldata(tx: dict[str, Any]) -> None:
    args = tx["decoded_args"]
    u = args["upnlSig"]
    struct: SingleUpnlSig | PairUpnlAndPriceSig
    if tx["function"] == "lockQuote":
        struct = SingleUpnlSig(
            b(u["reqId"]), int(u["timestamp"]), int(u["upnl"]), b(u["gatewaySignature"]), _sig(u)
        )
        values: list[Any] = [int(args["quoteId"]), struct.to_abi_tuple()]
        types = ["uint256", ABI_TYPES[SingleUpnlSig]]
    else:
        struct = PairUpnlAndPriceSig(
            b(u["reqId"]),
            int(u["timestamp"]),
            int(u["upnlPartyA"]),
            int(u["upnlPartyB"]),
            int(u["price"]),
            b(u["gatewaySignature"]),
            _sig(u),
        )
        amount = args["filledAmount"]
        price = args.get("openedPrice") or args["closedPrice"]
        values = [int(args["quoteId"]), int(amount), int(price), struct.to_abi_tuple()]
        types = ["uint256", "uint256", "uint256", ABI_TYPES[PairUpnlAndPriceSig]]
    assert tx["signature"].endswith("," + types[-1] + ")")
    assert "0x" + (b(tx["selector"]) + encode(types, values)).hex() == tx["calldata"]


def test_other_structs_encode() -> None:
    s = SchnorrSign(1, "0x" + "00" * 20, "0x" + "11" * 20)
    for struct in [
        SingleUpnlAndPriceSig(b"r", 1, -1, 2, b"g", s),
        PairUpnlSig(b"r", 1, -1, 1, b"g", s),
        QuotePriceSig(b"r", 1, (1, 2), (3, 4), b"g", s),
        LiquidationSig(b"r", 1, b"l", -1, -2, (1,), (3,), b"g", s),
    ]:
        assert encode([ABI_TYPES[type(struct)]], [struct.to_abi_tuple()])
