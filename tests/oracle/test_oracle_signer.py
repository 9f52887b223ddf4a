"""The devnet Muon signer against the vectors captured from the real SYMMIO verifier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_utils import keccak

from devnet.oracle.signer import (
    HALF_Q,
    MuonSigner,
    Q,
    SchnorrCheckError,
    default_devnet_signer,
    derive_schnorr_secret,
    generate_schnorr_secret,
    recover_gateway,
    schnorr_public_key,
    verify_schnorr,
)

# Copy of /work/shared/symmio-vectors (captured from the real SYMMIO contracts).
VECTORS = Path(__file__).resolve().parents[1] / "muon" / "vectors"
SCHNORR = json.loads((VECTORS / "schnorr.json").read_text())
KEY = SCHNORR["test_key_TEST_ONLY"]
GATEWAY = SCHNORR["gateway"]


def h(x: str) -> int:
    return int(x, 16)


def vector_signer() -> MuonSigner:
    return MuonSigner(h(KEY["secret"]), GATEWAY["private_key_TEST_ONLY"])


def test_constants() -> None:
    assert Q == h(SCHNORR["Q"])
    assert HALF_Q == h(SCHNORR["HALF_Q"])


def test_vector_key_public_parts() -> None:
    signer = vector_signer()
    assert signer.public_key == (h(KEY["pubkey_x"]), KEY["pubkey_parity"])
    assert signer.owner_address == KEY["owner_address"]
    assert signer.gateway_address == GATEWAY["address"]


LIFECYCLE = [v for v in SCHNORR["positive"] if "k_TEST_ONLY" in v]


def test_there_are_lifecycle_vectors() -> None:
    assert len(LIFECYCLE) == 10
    assert len(SCHNORR["positive"]) == 14


@pytest.mark.parametrize("vector", LIFECYCLE, ids=lambda v: v["msg_hash"][:10])
def test_sign_reproduces_s_exactly(vector: dict[str, object]) -> None:
    signer = vector_signer()
    sig = signer.sign(bytes.fromhex(str(vector["msg_hash"])[2:]), k=h(str(vector["k_TEST_ONLY"])))
    assert sig.s == h(str(vector["signature_s"]))
    assert sig.nonce_address == vector["nonce_address"]
    assert sig.owner == KEY["owner_address"]
    # ECDSA (RFC 6979) is deterministic, so the gateway signature matches byte for byte.
    assert "0x" + sig.gateway_signature.hex() == vector["gateway_signature"]


@pytest.mark.parametrize("vector", SCHNORR["positive"], ids=lambda v: v["msg_hash"][:10])
def test_verifier_accepts_positive(vector: dict[str, object]) -> None:
    assert verify_schnorr(
        h(str(vector["pubkey_x"])),
        int(str(vector["pubkey_parity"])),
        h(str(vector["msg_hash"])),
        h(str(vector["signature_s"])),
        str(vector["nonce_address"]),
    )
    msg = bytes.fromhex(str(vector["msg_hash"])[2:])
    assert (
        recover_gateway(msg, bytes.fromhex(str(vector["gateway_signature"])[2:]))
        == GATEWAY["address"]
    )


def _negative(what: str) -> dict[str, str]:
    (vector,) = [v for v in SCHNORR["negative"] if what in v["what_was_wrong"]]
    return vector


def _verify(v: dict[str, str], msg_hash: str | None = None) -> bool:
    return verify_schnorr(
        h(v["pubkey_x"]),
        int(v["pubkey_parity"]),
        h(msg_hash or v["msg_hash"]),
        h(v["signature_s"]),
        v["nonce_address"],
    )


def test_rejects_signature_by_other_key() -> None:
    v = _negative("different secret key")
    assert not _verify(v)
    # ... while it is valid under the key that made it.
    assert verify_schnorr(
        h(v["signer_pubkey_x"]),
        int(v["signer_pubkey_parity"]),
        h(v["msg_hash"]),
        h(v["signature_s"]),
        v["nonce_address"],
    )


def test_rejects_flipped_parity() -> None:
    assert not _verify(_negative("parity flipped"))


def test_rejects_pubkey_x_over_half_q() -> None:
    with pytest.raises(SchnorrCheckError, match="Public-key x >= HALF_Q"):
        _verify(_negative("HALF_Q"))


def test_stale_nonce_signature_fails_against_contract_hash() -> None:
    v = _negative("partyBNonces")
    assert _verify(v)  # mathematically valid for what was signed
    assert not _verify(v, v["contract_computed_hash_at_current_nonce"])


def test_expired_vector_is_a_valid_signature() -> None:
    # The contract rejected it on timestamp, before verifying; the math is fine.
    assert _verify(_negative("upnlValidTime"))


def test_guards() -> None:
    v = SCHNORR["positive"][0]
    x, p, m, s, n = (
        h(v["pubkey_x"]),
        v["pubkey_parity"],
        h(v["msg_hash"]),
        h(v["signature_s"]),
        v["nonce_address"],
    )
    with pytest.raises(SchnorrCheckError, match="reduced modulo Q"):
        verify_schnorr(x, p, m, Q, n)
    for args in [(x, p, m, 0, n), (x, p, m, s, "0x" + "00" * 20), (x, p, 0, s, n)]:
        with pytest.raises(SchnorrCheckError, match="no zero inputs allowed"):
            verify_schnorr(*args)
    # a tampered s or hash fails
    assert not verify_schnorr(x, p, m, s + 1, n)
    assert not verify_schnorr(x, p, m ^ 1, s, n)


def test_gateway_worked_example() -> None:
    signer = vector_signer()
    ex = GATEWAY["example"]
    msg = bytes.fromhex(ex["msg_hash"][2:])
    assert (
        keccak(b"\x19Ethereum Signed Message:\n32" + msg).hex() == ex["eth_signed_message_hash"][2:]
    )
    sig = signer.sign_gateway(msg)
    assert "0x" + sig.hex() == ex["signature"]
    assert sig[:32].hex() == ex["r"][2:] and sig[32:64].hex() == ex["s"][2:] and sig[64] == ex["v"]


def test_random_signatures_verify_for_both_parities() -> None:
    parities = set()
    for i in range(12):
        secret = derive_schnorr_secret(f"test-seed-{i}")
        signer = MuonSigner(secret, "0x" + "11" * 32)
        pk = signer.public_key
        parities.add(pk.parity)
        msg = keccak(text=f"message {i}")
        sig = signer.sign(msg)
        assert verify_schnorr(pk.x, pk.parity, msg, sig.s, sig.nonce_address)
        assert not verify_schnorr(pk.x, 1 - pk.parity, msg, sig.s, sig.nonce_address)
        assert recover_gateway(msg, sig.gateway_signature) == signer.gateway_address
    assert parities == {0, 1}


def test_keygen_respects_half_q() -> None:
    for _ in range(5):
        assert schnorr_public_key(generate_schnorr_secret()).x < HALF_Q
    # a key over the bound is refused at construction
    big = next(d for d in range(1, 100) if schnorr_public_key(d).x >= HALF_Q)
    with pytest.raises(ValueError, match="HALF_Q"):
        MuonSigner(big, "0x" + "11" * 32)


def test_default_devnet_signer_is_deterministic() -> None:
    a, b = default_devnet_signer(), default_devnet_signer()
    assert a.public_key == b.public_key and a.gateway_address == b.gateway_address
    assert a.public_key.x < HALF_Q
