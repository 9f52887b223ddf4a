"""The local indexer: reads the diamond's logs from anvil into an `EventStore`, as graph-node
runs SYMMIO's `events` subgraph, and serves them over GraphQL (`devnet.subgraph.server`).

It indexes up to the chain head (no confirmations, as graph-node), one ``eth_getLogs`` range at
a time, and stores an entity for each log whose form the subgraph stores (a legacy twin gets
none). Reorgs are handled as graph-node handles them: the hash of the newest indexed block is
checked every round; when it changed, the indexer finds the newest unchanged block, reverts
every entity above it (and the counter) and indexes the new blocks. State is in memory: a
restart indexes again from the start block, and gives every event the same counterId.
``pause``/``resume`` (admin endpoints) stop indexing, so tests can make the subgraph lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from domain.subgraph_entities import EntityError, entity_from_log
from workers.listeners.reorg import ChainWindow, find_fork
from workers.listeners.rpc import HttpRpc, RpcError

from .store import EventStore

log = logging.getLogger("devnet.subgraph")


@dataclass
class IndexerConfig:
    rpc_urls: list[str]
    address: str
    start_block: int = 0
    interval: float = 0.5
    batch_blocks: int = 2000
    window: int = 256


class Indexer:
    def __init__(self, config: IndexerConfig, store: EventStore | None = None) -> None:
        self.config = config
        self.store = store or EventStore()
        self.window = ChainWindow(config.window)
        self.next_block = config.start_block
        self.paused = False
        self.errors = 0
        self.rpc = HttpRpc(config.rpc_urls, client="devnet-subgraph", timeout=10)

    async def close(self) -> None:
        await self.rpc.close()

    async def index_once(self) -> int:
        """Index up to the head; returns the number of entities added."""
        latest = await self.rpc.header("latest")
        if latest is None:
            return 0
        fork = await find_fork(self.window, self.rpc.block_hash)
        if fork is not None:
            dropped = self.store.revert_above(fork - 1)
            self.window.forget_from(fork)
            self.next_block = min(self.next_block, fork)
            log.warning("reorg: reverted %d entities above block %d", dropped, fork - 1)
        added = 0
        while self.next_block <= latest.number:
            low = self.next_block
            high = min(latest.number, low + self.config.batch_blocks - 1)
            logs = await self.rpc.call(
                "eth_getLogs",
                [{"address": self.config.address, "fromBlock": hex(low), "toBlock": hex(high)}],
            )
            top = await self.rpc.header(high)
            if top is None:
                return added
            times = await self._timestamps(logs, {high: top.timestamp})
            ordered = sorted(
                logs, key=lambda x: (int(x["blockNumber"], 16), int(x["logIndex"], 16))
            )
            # every await is done: apply the range at once (queries see all of it or none)
            for raw in ordered:
                number = int(raw["blockNumber"], 16)
                try:
                    made = entity_from_log(raw, self.store.counter + 1, times[number])
                except EntityError as exc:
                    log.warning("log %s skipped: %s", raw.get("transactionHash"), exc)
                    continue
                if made is None:
                    continue
                self.store.next_counter()
                self.store.add(*made)
                self.window.note_block(number, str(raw["blockHash"]))
                added += 1
            self.window.note_block(high, top.hash, top.timestamp)
            self.store.head.number, self.store.head.hash = high, top.hash
            self.store.head.timestamp = top.timestamp
            self.next_block = high + 1
        return added

    async def _timestamps(
        self, logs: list[dict[str, Any]], known: dict[int, int]
    ) -> dict[int, int]:
        out = dict(known)
        for raw in logs:
            number = int(raw["blockNumber"], 16)
            if number in out:
                continue
            stamp = raw.get("blockTimestamp")
            if stamp is not None:
                out[number] = int(str(stamp), 16)
                continue
            header = await self.rpc.header(number)
            out[number] = header.timestamp if header is not None else 0
        return out

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not self.paused:
                try:
                    await self.index_once()
                except (RpcError, KeyError, ValueError) as exc:
                    self.errors += 1
                    log.warning("indexing failed (%s); retrying", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.interval)
