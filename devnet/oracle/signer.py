"""Local stand-in for the Muon network's signature: a Schnorr (TSS-style) signature plus a gateway
ECDSA signature that SYMMIO's on-chain verifier (`LibMuon.verifyTSSAndGateway`) accepts.

Scheme (SYMMIO.md §3.3, symmio-vectors/README.md):

* secret ``d``, public key ``PK = d·G`` published as ``(x, parity)`` with ``parity = 0`` when
  ``PK.y`` is even; the verifier requires ``PK.x < HALF_Q``.
* sign a 32-byte message hash ``h``: random ``k``, ``nonceAddress = ethAddress(k·G)``,
  ``e = keccak256(abi.encodePacked(uint256 PK.x, uint8 parity, uint256 h, address nonceAddress))``,
  ``s = (k − d·e) mod Q``.
* valid iff ``ethAddress(e·PK + s·G) == nonceAddress`` (on chain via ``ecrecover``).
* the gateway signs ``toEthSignedMessageHash(h)`` (personal_sign) with an ordinary ECDSA key; the
  65-byte ``r‖s‖v`` (v = 27/28) goes into ``gatewaySignature``.

Everything here is for the local devnet. The default keys below are derived from public seed
strings — **public test keys, never use them for anything real**.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import NamedTuple

from coincurve import PrivateKey, PublicKey
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

# secp256k1 group order and the verifier's bound on the public key's x coordinate.
Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_Q = (Q >> 1) + 1
assert HALF_Q == 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A1

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

# Public seeds of the devnet default keys (see `default_devnet_signer`).
DEVNET_SCHNORR_SEED = "symmio-hedger devnet muon schnorr key (PUBLIC TEST KEY)"
DEVNET_GATEWAY_SEED = "symmio-hedger devnet muon gateway key (PUBLIC TEST KEY)"
# Same app id as the captured vectors: keccak256("symmio-local-muon-app").
DEVNET_MUON_APP_ID = int.from_bytes(keccak(text="symmio-local-muon-app"), "big")


class MuonPublicKey(NamedTuple):
    """`PublicKey{x, parity}` as passed to `setMuonIds`."""

    x: int
    parity: int  # 0 = even y, 1 = odd y


class MuonSignature(NamedTuple):
    """The parts of a Muon signature a SYMMIO struct needs.

    `SchnorrSign{signature: s, owner, nonce: nonce_address}` plus `gatewaySignature`.
    """

    s: int
    nonce_address: str
    owner: str
    gateway_signature: bytes


class SchnorrCheckError(ValueError):
    """A guard of the on-chain verifier failed; the message is the contract's revert string."""


def _int32(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _address_of_point(point: PublicKey) -> str:
    return to_checksum_address(keccak(point.format(compressed=False)[1:])[-20:])


def _scalar_point(scalar: int) -> PublicKey:
    return PrivateKey(_int32(scalar)).public_key


def schnorr_public_key(secret: int) -> MuonPublicKey:
    compressed = _scalar_point(secret).format(compressed=True)
    return MuonPublicKey(int.from_bytes(compressed[1:], "big"), compressed[0] - 2)


def schnorr_challenge(pubkey_x: int, parity: int, msg_hash: int, nonce_address: str) -> int:
    """`e = keccak256(abi.encodePacked(uint256 x, uint8 parity, uint256 hash, address nonce))`."""
    packed = (
        _int32(pubkey_x)
        + bytes([parity])
        + _int32(msg_hash)
        + bytes.fromhex(nonce_address[2:] if nonce_address.startswith("0x") else nonce_address)
    )
    if len(packed) != 85:
        raise ValueError("nonce address must be 20 bytes")
    return int.from_bytes(keccak(packed), "big")


def _hash_int(msg_hash: bytes | int) -> int:
    if isinstance(msg_hash, int):
        return msg_hash
    if len(msg_hash) != 32:
        raise ValueError(f"message hash must be 32 bytes, got {len(msg_hash)}")
    return int.from_bytes(msg_hash, "big")


def verify_schnorr(
    pubkey_x: int, parity: int, msg_hash: bytes | int, s: int, nonce_address: str
) -> bool:
    """Pure-Python replica of the on-chain check (`LibMuonV04ClientBase.verifySignature`).

    Raises `SchnorrCheckError` (with the contract's revert string) where the contract reverts in
    a guard; returns False where the contract's `muonVerify` returns false.
    """
    h = _hash_int(msg_hash)
    if pubkey_x >= HALF_Q:
        raise SchnorrCheckError("Public-key x >= HALF_Q")
    if s >= Q:
        raise SchnorrCheckError("signature must be reduced modulo Q")
    if int(nonce_address, 16) == 0 or pubkey_x == 0 or s == 0 or h == 0:
        raise SchnorrCheckError("no zero inputs allowed")
    if parity not in (0, 1):
        return False
    e = schnorr_challenge(pubkey_x, parity, h, nonce_address)
    # Same call the contract makes: ecrecover(Q - x·s, 27 + parity, x, e·x) = address(e·PK + s·G).
    z = (Q - pubkey_x * s % Q) % Q
    sig_s = e * pubkey_x % Q
    if sig_s == 0 or z == 0:
        return False
    recoverable = _int32(pubkey_x) + _int32(sig_s) + bytes([parity])
    try:
        recovered = PublicKey.from_signature_and_message(recoverable, _int32(z), hasher=None)
    except Exception:
        return False
    return _address_of_point(recovered).lower() == nonce_address.lower()


def recover_gateway(msg_hash: bytes, gateway_signature: bytes) -> str:
    """The address that made `gateway_signature` over `toEthSignedMessageHash(msg_hash)`."""
    return str(
        Account.recover_message(encode_defunct(primitive=msg_hash), signature=gateway_signature)
    )


def generate_schnorr_secret(randbelow: Callable[[int], int] = secrets.randbelow) -> int:
    """A fresh random secret whose public key satisfies the verifier's `x < HALF_Q`."""
    while True:
        d = randbelow(Q - 1) + 1
        if schnorr_public_key(d).x < HALF_Q:
            return d


def derive_schnorr_secret(seed: str) -> int:
    """Deterministic secret from a seed string: first `keccak(seed:i) mod Q` with `x < HALF_Q`."""
    i = 0
    while True:
        d = int.from_bytes(keccak(text=f"{seed}:{i}"), "big") % Q
        if d != 0 and schnorr_public_key(d).x < HALF_Q:
            return d
        i += 1


def derive_private_key(seed: str) -> str:
    """Deterministic ECDSA private key (hex) from a seed string."""
    d = int.from_bytes(keccak(text=seed), "big") % Q
    if d == 0:  # pragma: no cover - astronomically unlikely
        raise ValueError("degenerate seed")
    return "0x" + _int32(d).hex()


class MuonSigner:
    """Signs SYMMIO Muon hashes the way the Muon network + a gateway node would."""

    def __init__(self, schnorr_secret: int, gateway_private_key: str) -> None:
        if not 0 < schnorr_secret < Q:
            raise ValueError("schnorr secret must be in [1, Q-1]")
        self._secret = schnorr_secret
        self._public_key = schnorr_public_key(schnorr_secret)
        if self._public_key.x >= HALF_Q:
            raise ValueError("public key x >= HALF_Q: SYMMIO's verifier rejects this key")
        self._owner = _address_of_point(_scalar_point(schnorr_secret))
        self._gateway = Account.from_key(gateway_private_key)

    @property
    def public_key(self) -> MuonPublicKey:
        return self._public_key

    @property
    def owner_address(self) -> str:
        """`ethAddress(PK)`, put in `SchnorrSign.owner` (the verifier does not read it)."""
        return self._owner

    @property
    def gateway_address(self) -> str:
        return str(self._gateway.address)

    def sign(self, msg_hash: bytes, *, k: int | None = None) -> MuonSignature:
        """Schnorr + gateway signature over a 32-byte hash. `k` is for tests only."""
        h = _hash_int(msg_hash)
        if h == 0:
            raise ValueError("message hash must not be zero")
        while True:
            nonce_k = k if k is not None else secrets.randbelow(Q - 1) + 1
            if not 0 < nonce_k < Q:
                raise ValueError("k must be in [1, Q-1]")
            nonce_address = _address_of_point(_scalar_point(nonce_k))
            e = schnorr_challenge(self._public_key.x, self._public_key.parity, h, nonce_address)
            s = (nonce_k - self._secret * e) % Q
            if s != 0:
                break
            if k is not None:  # pragma: no cover - needs k == d·e
                raise ValueError("k gives s == 0; pick another")
        return MuonSignature(s, nonce_address, self._owner, self.sign_gateway(_int32(h)))

    def sign_gateway(self, msg_hash: bytes) -> bytes:
        signed = self._gateway.sign_message(encode_defunct(primitive=msg_hash))
        return bytes(signed.signature)


def default_devnet_signer() -> MuonSigner:
    """The devnet's signer, derived from public seeds (PUBLIC TEST KEYS)."""
    return MuonSigner(
        derive_schnorr_secret(DEVNET_SCHNORR_SEED), derive_private_key(DEVNET_GATEWAY_SEED)
    )
