"""Replay the symmio-vectors (captured from the real protocol-core 0.8.4) against our contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_utils.abi import function_abi_to_4byte_selector
from web3 import Web3

from devnet.contracts.deploy import ANVIL_KEYS
from tests.contract.helpers import HEDGER, PARTY_A, Chain, addr

VECTORS = (
    Path(__file__).resolve().parents[1] / "muon" / "vectors"
)  # in-repo copy of shared/symmio-vectors
pytestmark = pytest.mark.skipif(not VECTORS.exists(), reason="symmio-vectors not available")
ADMIN = ANVIL_KEYS[0]


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


def _register(chain: Chain, pk_x: str, parity: int) -> None:
    d = _load("schnorr.json")
    app_id = int.from_bytes(Web3.keccak(text="symmio-local-muon-app"), "big")
    chain.send(ADMIN, "setMuonIds", app_id, d["gateway"]["address"], (int(pk_x, 16), parity))


def _verify_args(v: dict[str, Any], msg_hash: str | None = None) -> tuple[Any, ...]:
    sign = (
        int(v["signature_s"], 16),
        "0x" + "00" * 20,
        Web3.to_checksum_address(v["nonce_address"]),
    )
    return (
        bytes.fromhex((msg_hash or v["msg_hash"])[2:]),
        sign,
        bytes.fromhex(v["gateway_signature"][2:]),
    )


def test_diamond_is_at_the_vectors_address(chain: Chain) -> None:
    d = _load("schnorr.json")
    assert chain.dep.symmio == Web3.to_checksum_address(d["symmio_diamond"])
    assert chain.dep.collateral == Web3.to_checksum_address(_load("logs.json")["collateral"])


def test_every_positive_vector_is_accepted(chain: Chain) -> None:
    for v in _load("schnorr.json")["positive"]:
        _register(chain, v["pubkey_x"], v["pubkey_parity"])
        chain.view("verifyMuonTSSAndGateway", *_verify_args(v))  # does not revert


def test_negative_vectors_are_rejected_with_the_same_reason(chain: Chain) -> None:
    qid = chain.send_quote()  # signed with the devnet key, before the vectors' keys are registered
    for v in _load("schnorr.json")["negative"]:
        _register(chain, v["pubkey_x"], v["pubkey_parity"])
        reason = v["revert_reason"]
        if reason == "LibMuon: Expired signature":
            # the expiry check runs before hashing: any lockQuote with this timestamp fails
            ts = int(v["timestamp"])
            sig = (b"", ts, 0, b"\x00" * 65, (1, addr(HEDGER), addr(HEDGER)))
            assert reason in chain.reverts(HEDGER, "lockQuote", qid, sig)
            continue
        msg_hash = v.get("contract_computed_hash_at_current_nonce")
        assert reason in chain.reverts(
            HEDGER, "verifyMuonTSSAndGateway", *_verify_args(v, msg_hash)
        )


def test_guard_reverts(chain: Chain) -> None:
    v = _load("schnorr.json")["positive"][0]
    _register(chain, v["pubkey_x"], v["pubkey_parity"])
    h, (s, owner, nonce), gw = _verify_args(v)
    q = int(_load("schnorr.json")["Q"], 16)
    zero = "0x" + "00" * 20
    cases = [
        ((h, (q, owner, nonce), gw), "signature must be reduced modulo Q"),
        ((h, (0, owner, nonce), gw), "no zero inputs allowed"),
        ((h, (s, owner, zero), gw), "no zero inputs allowed"),
        ((b"\x00" * 32, (s, owner, nonce), gw), "no zero inputs allowed"),
    ]
    for args, reason in cases:
        assert reason in chain.reverts(HEDGER, "verifyMuonTSSAndGateway", *args)
    _register(chain, "0x" + "ff" * 32, 0)
    assert "Public-key x >= HALF_Q" in chain.reverts(
        HEDGER, "verifyMuonTSSAndGateway", h, (s, owner, nonce), gw
    )


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(_norm(x) for x in value.values())
    if isinstance(value, (list, tuple)):
        return tuple(_norm(x) for x in value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    return value.lower() if isinstance(value, str) else value


def test_party_b_calldata_decodes_with_our_abi(chain: Chain) -> None:
    txs = _load("logs.json")["partyB_transactions"]
    assert len(txs) == 9
    for tx in txs:
        fn, args = chain.symmio.decode_function_input(tx["calldata"])
        assert fn.fn_name == tx["function"]
        assert (
            "0x" + function_abi_to_4byte_selector(fn.abi).hex()
            == tx["selector"]
            == tx["calldata"][:10]
        )
        assert _norm(dict(args)) == _norm(tx["decoded_args"]), tx["step"]
        # re-encoding with our ABI gives the captured calldata byte for byte
        assert chain.symmio.encode_abi(fn.fn_name, args=list(args.values())) == tx["calldata"]


def test_party_a_is_the_vectors_party_a() -> None:
    logs = _load("logs.json")
    assert Web3.to_checksum_address(logs["partyA"]) == addr(PARTY_A)
    assert Web3.to_checksum_address(logs["partyB"]) == addr(HEDGER)
