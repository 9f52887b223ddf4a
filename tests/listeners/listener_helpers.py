"""Helpers shared by the listener tests: a restartable anvil with the log emitter, the real
SYMMIO logs of symmio-vectors/logs.json, and small async utilities."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from web3 import Web3

from config.settings import DEVNET_HEDGER_KEY
from devnet.stack.anvil import Anvil, start_anvil
from devnet.stack.process import free_port
from interfaces.workflows import ChainLog
from workers.listeners.delivery import party_b_address

HERE = Path(__file__).resolve().parent
VECTORS = Path(__file__).resolve().parents[1] / "muon" / "vectors" / "logs.json"  # in-repo copy
OUR_PARTY_B = party_b_address(DEVNET_HEDGER_KEY)
_chain_ids = itertools.count(900_001)


def next_chain_id() -> int:
    """A fresh chain id per test: workflow ids, cursors and chain_events rows never collide."""
    return next(_chain_ids)


def load_vectors() -> dict[str, Any]:
    if not VECTORS.exists():
        pytest.fail(f"{VECTORS} missing (real protocol-core logs)")
    data: dict[str, Any] = json.loads(VECTORS.read_text())
    return data


def vector_groups(logs: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The logs grouped by transaction, in chain order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for log in sorted(logs, key=lambda x: (x["blockNumber"], x["logIndex"])):
        groups.setdefault(log["transactionHash"], []).append(log)
    return list(groups.items())


@dataclass
class Chain:
    """An anvil node we may stop and restart on the same port, plus the log emitter."""

    node: Anvil
    state_dir: Path
    port: int
    emitter: str
    abi: list[dict[str, Any]]

    @property
    def http_url(self) -> str:
        return str(self.node.http_url)

    @property
    def ws_url(self) -> str:
        return str(self.node.ws_url)

    def w3(self) -> Web3:
        return Web3(Web3.HTTPProvider(self.http_url))

    def head(self) -> int:
        return int(str(self.node.rpc("eth_blockNumber")), 16)

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.node.rpc("evm_mine")

    def emit(self, groups: list[list[tuple[list[str], str]]]) -> list[str]:
        """One transaction (one block) per group of (topics, data) logs; returns the tx hashes."""
        w3 = self.w3()
        contract = w3.eth.contract(address=Web3.to_checksum_address(self.emitter), abi=self.abi)
        sender = w3.eth.accounts[0]
        hashes = []
        for group in groups:
            topics = [[bytes.fromhex(t[2:]) for t in topics] for topics, _ in group]
            data = [bytes.fromhex(d[2:]) for _, d in group]
            tx = contract.functions.emitLogs(topics, data).transact({"from": sender})
            receipt = w3.eth.wait_for_transaction_receipt(tx)
            assert receipt["status"] == 1
            assert len(receipt["logs"]) == len(group)
            hashes.append("0x" + bytes(receipt["transactionHash"]).hex())
        return hashes

    def stop(self) -> None:
        self.node.stop()

    def restart(self) -> None:
        self.node.stop()
        self.node = start_anvil(port=self.port, state_dir=self.state_dir, persist=True)


def make_chain(state_dir: Path, build: dict[str, Any]) -> Chain:
    port = free_port()
    node = start_anvil(port=port, state_dir=state_dir, persist=True)
    w3 = Web3(Web3.HTTPProvider(node.http_url))
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "data": build["bytecode"]})
    address = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    return Chain(node, state_dir, port, str(address), build["abi"])


async def received(client: Client, workflow_id: str) -> list[ChainLog]:
    logs: list[ChainLog] = await client.get_workflow_handle(workflow_id).query(
        "events", result_type=list[ChainLog]
    )
    return logs


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 20.0, what: str = "condition"
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


# Which workflow each event of logs.json belongs to, from the vector generator's own decoding
# (event name and args), independent of domain.routing. Every quote in logs.json is ours.
INTENT_EVENTS = {
    "SendQuote",
    "LockQuote",
    "UnlockQuote",
    "OpenPosition",
    "RequestToCancelQuote",
    "AcceptCancelRequest",
}
POSITION_EVENTS = {
    "RequestToClosePosition",
    "FillCloseRequest",
    "RequestToCancelCloseRequest",
    "AcceptCancelCloseRequest",
}


def expected_targets(
    logs: list[dict[str, Any]],
    chain_id: int,
    key_of: Callable[[dict[str, Any]], tuple[str, int]] | None = None,
) -> dict[str, list[tuple[str, int]]]:
    """workflow id -> the (txHash, logIndex) of each log it must receive, in chain order."""
    out: dict[str, list[tuple[str, int]]] = {}
    for log in sorted(logs, key=lambda x: (x["blockNumber"], x["logIndex"])):
        name = log["event"]
        if name in INTENT_EVENTS:
            wid = f"intent-{chain_id}-{int(log['args']['quoteId'])}"
        elif name in POSITION_EVENTS:
            wid = f"position-{chain_id}-{int(log['args']['quoteId'])}"
        else:
            continue
        key = key_of(log) if key_of else (log["transactionHash"].lower(), int(log["logIndex"]))
        out.setdefault(wid, []).append(key)
    return out


async def received_keys(client: Client, workflow_id: str) -> list[tuple[str, int]]:
    return [(x.tx_hash.lower(), x.log_index) for x in await received(client, workflow_id)]


async def all_received(
    client: Client, expected: dict[str, list[tuple[str, int]]], copies: int = 1
) -> bool:
    """Every expected key arrived at its workflow at least `copies` times."""
    for wid, keys in expected.items():
        try:
            got = await received_keys(client, wid)
        except Exception:  # noqa: BLE001 - not started yet
            return False
        if any(got.count(k) < copies for k in keys):
            return False
    return True


def replay(
    chain: Chain, groups: list[tuple[str, list[dict[str, Any]]]]
) -> dict[tuple[str, int], tuple[str, int]]:
    """Re-emit the logs of each original transaction in one transaction of ours (own block, same
    order, so the same logIndex); returns original (txHash, logIndex) -> replayed one."""
    hashes = chain.emit([[(log["topics"], log["data"]) for log in logs] for _, logs in groups])
    mapping: dict[tuple[str, int], tuple[str, int]] = {}
    for (orig_tx, logs), new_tx in zip(groups, hashes, strict=True):
        for i, log in enumerate(logs):
            mapping[(orig_tx.lower(), int(log["logIndex"]))] = (new_tx.lower(), i)
    return mapping


def key_mapper(
    mapping: dict[tuple[str, int], tuple[str, int]],
) -> Callable[[dict[str, Any]], tuple[str, int]]:
    return lambda log: mapping[(log["transactionHash"].lower(), int(log["logIndex"]))]


def expect_replayed(
    logs: list[dict[str, Any]], chain_id: int, mapping: dict[tuple[str, int], tuple[str, int]]
) -> dict[str, list[tuple[str, int]]]:
    """`expected_targets` for the logs of `logs` that `mapping` says were replayed."""
    replayed = [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in mapping]
    return expected_targets(replayed, chain_id, key_mapper(mapping))
