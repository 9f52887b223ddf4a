"""Typed chain failures and revert-data decoding.

`TxReverted.reason` is human-readable: an ``Error(string)`` revert gives its string
(e.g. ``"PartyBFacet: Invalid state"``), a ``Panic(uint256)`` gives ``"Panic(0x11: arithmetic
overflow)"``, a custom error known to the ABI gives ``"Name(arg, ...)"``, anything else the raw
hex.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_abi.abi import decode as abi_decode

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")
PANIC_SELECTOR = bytes.fromhex("4e487b71")

PANIC_CODES = {
    0x00: "generic compiler panic",
    0x01: "assert failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "bad storage byte array encoding",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to zero-initialised function",
}


class ChainError(Exception):
    """Base of the chain layer's typed failures."""


class RpcUnavailable(ChainError):
    """No RPC endpoint answered (connection refused, timeout, HTTP 5xx, garbage) — retry later."""


class TxReverted(ChainError):
    """The transaction (or its pre-flight simulation when `tx_hash` is None) reverted."""

    def __init__(self, reason: str, tx_hash: str | None = None) -> None:
        super().__init__(f"reverted: {reason}" + (f" (tx {tx_hash})" if tx_hash else ""))
        self.reason = reason
        self.tx_hash = tx_hash


class TxDropped(ChainError):
    """Our nonce was consumed by none of our transactions for this action, or the transaction
    could not be (re)broadcast and was not mined before the deadline."""

    def __init__(self, message: str, tx_hashes: tuple[str, ...] = (), nonce: int | None = None):
        super().__init__(message)
        self.tx_hashes = tx_hashes
        self.nonce = nonce


class TxTimeout(ChainError):
    """The transaction is still pending after the receipt timeout (it may still be mined)."""

    def __init__(self, message: str, tx_hashes: tuple[str, ...] = (), nonce: int | None = None):
        super().__init__(message)
        self.tx_hashes = tx_hashes
        self.nonce = nonce


def _as_bytes(data: Any) -> bytes | None:
    if data is None:
        return None
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, str):
        text = data[2:] if data[:2].lower() == "0x" else data
        try:
            return bytes.fromhex(text)
        except ValueError:
            return None
    return None


def decode_revert_data(
    data: Any, custom_errors: Mapping[bytes, Mapping[str, Any]] | None = None
) -> str | None:
    """A readable reason from raw revert data, or None when there is no data at all."""
    raw = _as_bytes(data)
    if raw is None or len(raw) == 0:
        return None
    selector, body = raw[:4], raw[4:]
    if selector == ERROR_STRING_SELECTOR:
        try:
            (message,) = abi_decode(["string"], body)
            return str(message)
        except Exception:  # noqa: BLE001 - malformed payload: fall through to hex
            pass
    if selector == PANIC_SELECTOR:
        try:
            (code,) = abi_decode(["uint256"], body)
            return f"Panic(0x{code:02x}: {PANIC_CODES.get(code, 'unknown panic code')})"
        except Exception:  # noqa: BLE001
            pass
    if custom_errors and selector in custom_errors:
        entry = custom_errors[selector]
        types = [_abi_type(i) for i in entry.get("inputs", [])]
        try:
            values = abi_decode(types, body)
            args = ", ".join(_show(v) for v in values)
            return f"{entry['name']}({args})"
        except Exception:  # noqa: BLE001
            return f"{entry['name']}(<undecodable 0x{body.hex()}>)"
    return "0x" + raw.hex()


def _abi_type(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param.get("components", []))
        return f"({inner}){kind[5:]}"
    return kind


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def reason_from_message(message: str) -> str:
    """Strip the node's 'execution reverted: ' prefix from an RPC error message."""
    text = message.strip()
    for prefix in (
        "execution reverted: ",
        "execution reverted:",
        "VM Exception while processing transaction: revert ",
    ):
        if text.startswith(prefix):
            return text[len(prefix) :].strip()
    if text == "execution reverted":
        return "execution reverted (no reason)"
    return text
