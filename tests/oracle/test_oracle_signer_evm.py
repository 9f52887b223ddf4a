"""The signer's Schnorr signatures pass the exact check SYMMIO's verifier makes, run by the EVM's
own `ecrecover` precompile on anvil (no contract needed)."""

from __future__ import annotations

from eth_utils.crypto import keccak

from devnet.oracle.signer import Q, default_devnet_signer, schnorr_challenge
from devnet.stack.anvil import Anvil

ECRECOVER = "0x0000000000000000000000000000000000000001"


def evm_ecrecover(anvil: Anvil, digest: int, v: int, r: int, s: int) -> str:
    data = b"".join(x.to_bytes(32, "big") for x in (digest, v, r, s))
    out = anvil.rpc("eth_call", [{"to": ECRECOVER, "data": "0x" + data.hex()}, "latest"])
    assert isinstance(out, str)
    return "0x" + out[-40:]


def test_evm_accepts_signatures(anvil: Anvil) -> None:
    signer = default_devnet_signer()
    pk = signer.public_key
    for i in range(3):
        msg = keccak(text=f"evm check {i}")
        sig = signer.sign(msg)
        e = schnorr_challenge(pk.x, pk.parity, int.from_bytes(msg, "big"), sig.nonce_address)
        recovered = evm_ecrecover(
            anvil, (Q - pk.x * sig.s % Q) % Q, 27 + pk.parity, pk.x, e * pk.x % Q
        )
        assert recovered.lower() == sig.nonce_address.lower()
        # a tampered s recovers some other address
        wrong = evm_ecrecover(
            anvil, (Q - pk.x * (sig.s + 1) % Q) % Q, 27 + pk.parity, pk.x, e * pk.x % Q
        )
        assert wrong.lower() != sig.nonce_address.lower()
