"""anvil (from the pinned npm package) as the local EVM node: HTTP and websocket on one port."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devnet.paths import ANVIL_BIN
from devnet.stack.process import ManagedProcess, ensure_port_free, require_binary, wait_until

DEFAULT_CHAIN_ID = 31337


@dataclass
class Anvil:
    host: str
    port: int
    chain_id: int
    process: ManagedProcess

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def rpc(self, method: str, params: list[object] | None = None) -> object:
        return rpc_call(self.http_url, method, params or [])

    def stop(self) -> None:
        self.process.stop()


def rpc_call(url: str, method: str, params: list[object], timeout: float = 5.0) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


# anvil keeps recent states in memory and writes older ones to a cache directory, by default
# ~/.foundry/anvil/tmp, unbounded and never cleaned: a day of bench runs left 71 GB there and
# filled the disk in the middle of a 4,000-position run. At most this many states go to disk,
# in the node's own state directory.
MAX_PERSISTED_STATES = 64


def start_anvil(
    *,
    port: int,
    state_dir: Path,
    host: str = "127.0.0.1",
    chain_id: int = DEFAULT_CHAIN_ID,
    persist: bool = True,
    block_time: float | None = None,
    idle_block_time: float | None = None,
    timeout: float = 30.0,
) -> Anvil:
    """Start anvil bound to `host:port`; with `persist`, chain state survives a restart.

    anvil mines only when a transaction arrives, so on an idle chain `block.timestamp` stands
    still and a deadline passes only with the next transaction. `idle_block_time` turns on
    mixed mining: every transaction is still mined at once, and an empty block is mined every
    `idle_block_time` seconds, so the chain clock follows the wall clock (`evm_increaseTime` +
    `evm_mine` still warp it). `block_time` alone is interval-only mining (no automine)."""
    binary = require_binary(ANVIL_BIN, "anvil", "run `make deps` (npm install in devnet/)")
    ensure_port_free(host, port, "anvil")
    state_dir.mkdir(parents=True, exist_ok=True)
    argv = [str(binary), "--host", host, "--port", str(port), "--chain-id", str(chain_id)]
    argv += ["--max-persisted-states", str(MAX_PERSISTED_STATES),
             "--cache-path", str(state_dir / "anvil-cache")]  # fmt: skip
    if persist:
        # --state loads the file if present and dumps to it on exit; the interval bounds what a crash loses.
        argv += ["--state", str(state_dir / "anvil-state.json"), "--state-interval", "5"]
    if idle_block_time:
        argv += ["--block-time", str(idle_block_time), "--mixed-mining"]
    elif block_time:
        argv += ["--block-time", str(block_time)]
    process = ManagedProcess("anvil", argv, state_dir / "anvil.log").start()
    node = Anvil(host, port, chain_id, process)
    wait_until(
        lambda: node.rpc("eth_chainId") == hex(chain_id),
        timeout=timeout,
        what="anvil",
        proc=process,
    )
    return node
