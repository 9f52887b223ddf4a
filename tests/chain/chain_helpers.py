"""Helpers for the chain tests: funded throw-away keys, a hand-assembled reverting contract, a
TCP proxy that can take a server down, transactions counted from the blocks themselves."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from eth_abi import encode as abi_encode
from eth_account import Account

from devnet.stack.anvil import Anvil

REVERT_MESSAGE = "PartyBFacet: Invalid state"


def methods_asked(client: Any) -> list[str]:
    """The JSON-RPC methods `client` (a `ChainClient`) is asked from now on, in order: a spy on
    the real client, not a stand-in."""
    asked: list[str] = []
    request = client.request

    async def spy(method: str, params: list[Any]) -> Any:
        asked.append(method)
        return await request(method, params)

    client.request = spy
    return asked


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


class TcpProxy:
    """A TCP forwarder to `target` on a fixed local port that can be taken down (connections
    refused, open ones cut) and brought back on the same port — an outage of the server behind."""

    def __init__(self, target_host: str, target_port: int) -> None:
        from devnet.stack.process import free_port

        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.accepted = 0  # connections accepted since it was made

    def url_for(self, url: str) -> str:
        """`url` (which points at the target) pointed at this proxy instead."""
        parts = urlsplit(url)
        netloc = parts.netloc.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{self.port}")
        return urlunsplit(parts._replace(netloc=netloc))

    async def up(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


def chain_calls(symmio: Any, sender: str, fn_name: str, from_block: int) -> list[dict[str, Any]]:
    """Every transaction `sender` got mined on the contract calling `fn_name` since `from_block`,
    read from the blocks themselves (not from any journal): [{hash, args, status, block, index}]
    in chain order."""
    w3 = symmio.w3
    found = []
    for number in range(from_block, w3.eth.block_number + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            if tx["from"].lower() != sender.lower() or (tx["to"] or "").lower() != (
                symmio.address.lower()
            ):
                continue
            fn, args = symmio.contract.decode_function_input(tx["input"])
            if fn.fn_name == fn_name:
                receipt = w3.eth.get_transaction_receipt(tx["hash"])
                found.append(
                    {"hash": "0x" + bytes(tx["hash"]).hex(), "args": args,
                     "status": int(receipt["status"]), "block": number,
                     "index": int(tx["transactionIndex"])}
                )  # fmt: skip
    return found


class Blackhole:
    """An HTTP endpoint that accepts connections and never answers (a hung gateway)."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._released = asyncio.Event()
        self.url = ""

    async def __aenter__(self) -> Blackhole:
        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._released.wait()
            writer.transport.abort()

        self._server = await asyncio.start_server(hold, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/v1/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._released.set()
        if self._server is not None:
            self._server.close()
