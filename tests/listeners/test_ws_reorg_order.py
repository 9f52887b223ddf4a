"""The websocket listener's reorg handling when the node streams a replacement block's log before
that block's head (what anvil does for `anvil_reorg` when a replacement block carries our
transaction). Driven message by message against a scripted node, so the order is fixed.

Found by CI: the log's block hash overwrote the hash the listener had seen for that height, so
the head that followed looked unchanged, the fork was placed one block too high, and the
OpenPosition of the replaced block was never taken back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workers.listeners.rpc import BlockHeader, RpcMethods
from workers.listeners.ws import WsConfig, WsListener

ADDRESS = "0x" + "ee" * 20
TOPIC = "0x" + "11" * 32


def h(tag: str) -> str:
    return "0x" + tag.encode().hex().ljust(64, "0")


def raw_log(block: int, block_hash: str, tx: str, index: int) -> dict[str, Any]:
    return {
        "address": ADDRESS,
        "blockNumber": hex(block),
        "blockHash": block_hash,
        "transactionHash": tx,
        "logIndex": hex(index),
        "topics": [TOPIC],
        "data": "0x",
        "removed": False,
    }


class ScriptedNode(RpcMethods):
    """Block hashes and logs by height: what the chain holds now."""

    def __init__(self) -> None:
        self.hashes: dict[int, str] = {}
        self.logs: list[dict[str, Any]] = []

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        params = params or []
        if method == "eth_getBlockByNumber":
            number = int(params[0], 16)
            if number not in self.hashes:
                return None
            return {
                "number": hex(number),
                "hash": self.hashes[number],
                "parentHash": self.hashes.get(number - 1, h("genesis")),
                "timestamp": hex(1_000 + number),
            }
        if method == "eth_getLogs":
            low, high = int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)
            return [x for x in self.logs if low <= int(x["blockNumber"], 16) <= high]
        raise AssertionError(f"unexpected {method}")

    def head_of(self, number: int) -> BlockHeader:
        return BlockHeader(
            number, self.hashes[number], self.hashes.get(number - 1, h("genesis")), 1_000 + number
        )


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int, bool]] = []

    async def deliver(self, raw: Mapping[str, Any], source: str) -> None:
        self.seen.append(
            (str(raw["transactionHash"]), int(str(raw["logIndex"]), 16), bool(raw.get("removed")))
        )


def scripted(upto: int) -> tuple[ScriptedNode, Recorder, WsListener]:
    """A node holding blocks 1..`upto` (no logs yet) and a listener delivering to a recorder."""
    node = ScriptedNode()
    for n in range(1, upto + 1):
        node.hashes[n] = h(f"b{n}")
    recorder = Recorder()
    ws = WsListener(
        recorder,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]  # the cursor store is not touched by streaming
        WsConfig(chain_id=1, address=ADDRESS, url="ws://unused", reorg_window=16),
        topics0=[TOPIC],
    )
    return node, recorder, ws


async def stream(ws: WsListener, node: ScriptedNode, items: Sequence[Any]) -> None:
    for item in items:
        if isinstance(item, int):
            await ws._on_head(node, node.head_of(item))  # type: ignore[arg-type]
        else:
            await ws._on_log(item, node)  # type: ignore[arg-type]


async def test_a_replacement_blocks_log_streamed_before_its_head_still_takes_back_the_old_block() -> (
    None
):
    node, recorder, ws = scripted(10)
    open_log = raw_log(9, h("b9"), "0xopen", 0)
    close_logs = [raw_log(10, h("b10"), "0xclose", i) for i in range(2)]
    node.logs = [open_log, *close_logs]
    await stream(ws, node, [8, open_log, 9, *close_logs, 10])
    assert recorder.seen == [("0xopen", 0, False), ("0xclose", 0, False), ("0xclose", 1, False)]

    # anvil_reorg of depth 2: blocks 9 and 10 replaced; the close is re-mined in the new 9
    node.hashes[9], node.hashes[10] = h("c9"), h("c10")
    remined = [raw_log(9, h("c9"), "0xremined", i) for i in range(2)]
    node.logs = list(remined)
    recorder.seen.clear()
    await stream(ws, node, [*remined, 9, 10])

    removed = {(tx, i) for tx, i, gone in recorder.seen if gone}
    assert removed == {("0xopen", 0), ("0xclose", 0), ("0xclose", 1)}
    delivered = {(tx, i) for tx, i, gone in recorder.seen if not gone}
    assert delivered == {("0xremined", 0), ("0xremined", 1)}
    # what was taken back is told before the chain's new logs
    first_new = min(i for i, (_, _, gone) in enumerate(recorder.seen) if not gone)
    last_removed = max(i for i, (_, _, gone) in enumerate(recorder.seen) if gone)
    assert last_removed < first_new
    assert ws.window.hashes[9] == h("c9") and ws.window.hashes[10] == h("c10")


async def test_logs_of_the_same_block_streamed_before_its_head_are_no_reorg() -> None:
    node, recorder, ws = scripted(6)
    first = raw_log(6, h("b6"), "0xa", 0)
    second = raw_log(6, h("b6"), "0xb", 1)
    node.logs = [first, second]
    await stream(ws, node, [5, first, second, 6])
    assert recorder.seen == [("0xa", 0, False), ("0xb", 1, False)]
    assert ws.stats["reorgs"] == 0
