"""Helpers shared by the listener tests: a restartable anvil with the log emitter, the real
SYMMIO logs of symmio-vectors/logs.json, and small async utilities."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from web3 import Web3

from config.settings import DEVNET_HEDGER_KEY
from devnet.stack.anvil import Anvil, start_anvil
from devnet.stack.process import free_port
from interfaces.workflows import ChainLog
from workers.listeners.cursor import CursorStore
from workers.listeners.delivery import Delivery, party_b_address
from workers.listeners.poller import LogPoller, PollerConfig
from workers.listeners.rpc import HttpRpc
from workers.listeners.subgraph import SubgraphClient, SubgraphConfig, SubgraphListener
from workers.listeners.ws import WsConfig, WsListener

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


REPO = Path(__file__).resolve().parents[2]


@dataclass
class Subgraph:
    """The local indexer (`hedger devnet subgraph`) as its own process."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/subgraphs/name/symmio-events"

    def admin(self, path: str, method: str = "POST") -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/admin/{path}",
            method=method,
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.admin("state", "GET")
        return state

    def wait_head(self, block: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.state()["head"] < block:
            if time.monotonic() > deadline:
                raise AssertionError(f"subgraph stuck at {self.state()['head']} < {block}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_subgraph(chain: Chain, work: Path) -> Subgraph:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGER_")}
    env["PYTHONPATH"] = str(REPO)
    log_path = work / "subgraph.log"
    argv = [
        sys.executable, "-m", "hedger", "devnet", "subgraph", "--rpc-url", chain.http_url,
        "--address", chain.emitter, "--start-block", "0", "--interval", "0.2",
        "--url", f"http://127.0.0.1:{port}/subgraphs/name/symmio-events",
    ]  # fmt: skip
    with log_path.open("wb") as out:
        process = subprocess.Popen(argv, env=env, cwd=work, stdout=out, stderr=subprocess.STDOUT)
    node = Subgraph(process, port, log_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            node.state()
            return node
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                node.stop()
                raise RuntimeError(f"subgraph did not start: {log_path.read_text()}") from None
            time.sleep(0.2)


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


def emit_request(chain: Chain, logs: list[dict[str, Any]], nonce: int) -> dict[str, Any]:
    """A transaction request (for `anvil_reorg`) that emits `logs` from the emitter."""
    w3 = chain.w3()
    contract = w3.eth.contract(address=Web3.to_checksum_address(chain.emitter), abi=chain.abi)
    topics = [[bytes.fromhex(t[2:]) for t in log["topics"]] for log in logs]
    data = [bytes.fromhex(log["data"][2:]) for log in logs]
    calldata = contract.encode_abi("emitLogs", args=[topics, data])
    return {
        "from": w3.eth.accounts[0],
        "to": chain.emitter,
        "data": calldata,
        "nonce": hex(nonce),
        "gas": hex(3_000_000),
    }


async def applied_keys(client: Client, workflow_id: str) -> set[tuple[str, int]]:
    """What the recording workflow holds as applied (removal-aware), as (txHash, logIndex)."""
    keys: list[str] = await client.get_workflow_handle(workflow_id).query(
        "applied", result_type=list[str]
    )
    return {(k.split(":")[1], int(k.split(":")[2])) for k in keys}


async def applications(client: Client, workflow_id: str) -> dict[str, int]:
    counts: dict[str, int] = await client.get_workflow_handle(workflow_id).query(
        "applications", result_type=dict[str, int]
    )
    return counts


SOURCES = ("poll", "ws", "subgraph")


@contextlib.asynccontextmanager
async def listening(
    sources: tuple[str, ...],
    chain: Chain,
    subgraph: Subgraph,
    make_delivery: Callable[..., Delivery],
    engine: AsyncEngine,
    chain_id: int,
    start_block: int,
    start_counter: int,
) -> AsyncIterator[dict[str, Any]]:
    """The chosen listeners running as tasks, each with its own delivery (as processes)."""
    stop = asyncio.Event()
    running: dict[str, Any] = {}
    closers: list[Any] = []
    for source in sources:
        delivery = make_delivery(chain_id)
        cursors = CursorStore(engine)
        if source == "poll":
            rpc = HttpRpc([chain.http_url], probe_seconds=0)
            closers.append(rpc.close)
            running[source] = LogPoller(
                rpc, delivery, cursors,
                PollerConfig(chain_id=chain_id, address=chain.emitter, confirmations=0,
                             start_block=start_block, interval=0.2, reorg_window=16),
            )  # fmt: skip
        elif source == "ws":
            running[source] = WsListener(
                delivery, cursors,
                WsConfig(chain_id=chain_id, address=chain.emitter, url=chain.ws_url,
                         start_block=start_block, reorg_window=16, idle_check=2),
            )  # fmt: skip
        else:
            client = SubgraphClient([subgraph.url])
            closers.append(client.close)
            running[source] = SubgraphListener(
                client, delivery, cursors,
                SubgraphConfig(chain_id=chain_id, address=chain.emitter, confirmations=0,
                               interval=0.2, reorg_window=16, start_counter=start_counter),
            )  # fmt: skip
        running[source].delivery_ = delivery
    tasks = [asyncio.create_task(x.run(stop)) for x in running.values()]
    try:
        yield running
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for close in closers:
            await close()


async def caught_up(running: dict[str, Any], head: int) -> bool:
    """Every listener has itself read the chain up to `head` (not only the first to get there)."""
    for listener in running.values():
        upto = getattr(listener, "delivered_block", None)
        if upto is None and hasattr(listener, "window"):
            upto = listener.window.newest()
        if upto is None or upto < head:
            return False
    return True


async def consistent(client: Client, expected: dict[str, list[tuple[str, int]]]) -> bool:
    for wid, keys in expected.items():
        try:
            if await applied_keys(client, wid) != set(keys):
                return False
        except Exception:  # noqa: BLE001 - not started yet
            return False
    return True
