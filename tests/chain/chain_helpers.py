"""Helpers for the chain tests: funded throw-away keys, a hand-assembled reverting contract."""

from __future__ import annotations

import secrets
import time
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account

from devnet.stack.anvil import Anvil

REVERT_MESSAGE = "PartyBFacet: Invalid state"


def funded_key(anvil: Anvil, ether: int = 1000) -> tuple[str, str]:
    """A fresh private key and its address, with `ether` ETH on the test chain."""
    key = "0x" + secrets.token_hex(32)
    address = Account.from_key(key).address
    anvil.rpc("anvil_setBalance", [address, hex(ether * 10**18)])
    return key, address


def error_string_revert_code(message: str) -> str:
    """Init code of a contract whose every call reverts with `Error(message)`."""
    payload = bytes.fromhex("08c379a0") + abi_encode(["string"], [message])
    assert len(payload) < 256 - 12
    n = len(payload)
    # PUSH1 n PUSH1 12 PUSH1 0 CODECOPY PUSH1 n PUSH1 0 REVERT <payload>
    runtime = bytes([0x60, n, 0x60, 12, 0x60, 0, 0x39, 0x60, n, 0x60, 0, 0xFD]) + payload
    r = len(runtime)
    init = bytes([0x60, r, 0x60, 12, 0x60, 0, 0x39, 0x60, r, 0x60, 0, 0xF3])
    return "0x" + (init + runtime).hex()


def panic_code(code: int) -> str:
    """Init code of a contract whose every call reverts with `Panic(code)`."""
    payload = bytes.fromhex("4e487b71") + code.to_bytes(32, "big")
    n = len(payload)
    runtime = bytes([0x60, n, 0x60, 12, 0x60, 0, 0x39, 0x60, n, 0x60, 0, 0xFD]) + payload
    r = len(runtime)
    init = bytes([0x60, r, 0x60, 12, 0x60, 0, 0x39, 0x60, r, 0x60, 0, 0xF3])
    return "0x" + (init + runtime).hex()


def deploy_raw(anvil: Anvil, init_code: str) -> str:
    """Deploy `init_code` from anvil's unlocked account 0; returns the contract address."""
    accounts: Any = anvil.rpc("eth_accounts")
    tx_hash = anvil.rpc("eth_sendTransaction", [{"from": accounts[0], "data": init_code}])
    receipt = wait_receipt(anvil, str(tx_hash))
    return str(receipt["contractAddress"])


def wait_receipt(anvil: Anvil, tx_hash: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        receipt: Any = anvil.rpc("eth_getTransactionReceipt", [tx_hash])
        if receipt:
            return dict(receipt)
        time.sleep(0.05)
    raise TimeoutError(f"no receipt for {tx_hash}")
