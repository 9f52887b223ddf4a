"""The subgraph fetcher (DESIGN §2 "Blockchain Input Module", the third, independent source).

Polls a GraphQL endpoint that serves SYMMIO's subgraph `events` module (one immutable entity
per contract event with a global ``counterId``, `domain.subgraph_entities`): one request per
round asks, for every entity type some workflow may own (`delivery.ROUTED_EVENTS`),
``<collection>(first: N, orderBy: counterId, orderDirection: asc, where: {counterId_gt: X})``
plus ``_meta { block { number hash timestamp } }``, and merges the answers by ``counterId``
(a total order across types). A type that returned a full page bounds the merge; the next page
continues from there.

**Logs, not entities.** Each entity is ABI-encoded back into the exact log the contract
emitted (`log_from_entity`: topic0 of the entity's form, its parameters as data; block number
and hash, transaction hash and log index from the entity), and handed to the same
`Delivery.deliver` as the other listeners. Fetching the receipt's log over RPC instead would
make this source depend on the RPC endpoints the other two already depend on — the reason to
run a subgraph fetcher at all is to keep seeing events when those falter; ABI encoding is
canonical, so the rebuilt log is byte-for-byte the chain's (tested against the real logs).

**Cursor, confirmations, reorgs.** Entities in blocks more than ``confirmations`` below the
subgraph's head (``_meta.block.number``) are delivered. The entities of the last
``reorg_window`` blocks are kept and read again every round: graph-node reverts the entities of
a reorged-out block (and its counter, so a ``counterId`` is reused), so a kept entity that is
gone, or now carries another ``blockHash``, was removed by a reorg — its log is delivered with
``removed: true`` — and its replacement arrives as a new entity. The cursor
(`listener_cursors`, name ``subgraph-<chainId>``; its ``block_number`` column holds a
**counterId**) is the newest ``counterId`` below the window: every round re-reads from it, and a
restart resumes from it (re-deliveries of the window are duplicates). On the first round after
a start, the events `chain_events` holds for the window's blocks that the subgraph no longer has
are delivered as removed (a reorg while the fetcher was down).

Several endpoint URLs may be configured (health-scored fallback, `adapters.chain.health`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import Counter

from adapters.chain.health import HealthBook, HealthPolicy, redact_url
from domain.subgraph_entities import (
    EntityError,
    collection_field,
    entity_selection,
    entity_spec,
    log_from_entity,
)
from workers.listeners.cursor import CursorStore
from workers.listeners.delivery import (
    RECONNECTS,
    REORG_DEPTH,
    REORGS,
    ROUTED_EVENTS,
    Delivery,
    DeliveryError,
    observe_lag,
)
from workers.listeners.reorg import log_identity, vanished

log = logging.getLogger(__name__)

SUBGRAPH_ERRORS = Counter(
    "hedger_listener_subgraph_errors_total",
    "Subgraph requests that failed, by endpoint and kind",
    ["url", "kind"],
)
ENTITIES_BAD = Counter(
    "hedger_listener_subgraph_bad_entities_total",
    "Entities that could not be turned back into a log (skipped, logged)",
    ["source"],
)


class SubgraphError(RuntimeError):
    """Every endpoint failed, or answered with GraphQL errors."""


def routed_entities() -> list[str]:
    """The entity types the fetcher asks for: one per event some workflow may own."""
    return [cls.__name__ for cls in ROUTED_EVENTS]


def build_query(entities: Sequence[str], page: int) -> str:
    parts = ["query events($after: BigInt!) {", "  _meta { block { number hash timestamp } }"]
    for name in entities:
        fields = " ".join(entity_selection(name))
        parts.append(
            f"  {name}: {collection_field(name)}(first: {page}, orderBy: counterId, "
            f"orderDirection: asc, where: {{counterId_gt: $after}}) {{ {fields} }}"
        )
    parts.append("}")
    return "\n".join(parts)


class SubgraphClient:
    """GraphQL over HTTP POST with health-scored fallback across endpoint URLs."""

    def __init__(self, urls: Sequence[str], *, timeout: float = 10.0) -> None:
        if not urls:
            raise ValueError("SubgraphClient needs at least one URL")
        self.urls = list(urls)
        self.health = HealthBook(self.urls, client="subgraph", policy=HealthPolicy(rest_seconds=2))
        self._client = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self._client.aclose()

    async def query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        last = "no endpoint"
        order = self.health.order()
        for index in order:
            url = self.urls[index]
            safe = redact_url(url)
            started = time.monotonic()
            try:
                response = await self._client.post(
                    url, json={"query": query, "variables": variables}
                )
                response.raise_for_status()
                body = response.json()
                if not isinstance(body, dict):
                    raise ValueError("the answer is not a JSON object")
                if body.get("errors"):
                    raise SubgraphError(f"GraphQL errors: {str(body['errors'])[:500]}")
                data = body.get("data")
                if not isinstance(data, dict):
                    raise ValueError("the answer has no data")
            except (httpx.HTTPError, ValueError, SubgraphError) as exc:
                kind = "graphql" if isinstance(exc, SubgraphError) else "transport"
                SUBGRAPH_ERRORS.labels(safe, kind).inc()
                last = f"{safe}: {str(exc).replace(url, safe)}"
                log.warning("subgraph query failed at %s", last)
                self.health.failure(index, last)
                continue
            self.health.success(index, time.monotonic() - started)
            self.health.answered(index, order[0])
            return data
        raise SubgraphError(f"subgraph query failed on every endpoint: {last}")


@dataclass
class SubgraphConfig:
    chain_id: int
    address: str  # the SYMMIO diamond: the address of every rebuilt log
    urls: list[str] = field(default_factory=list)
    confirmations: int = 1
    interval: float = 2.0
    page_size: int = 1000
    reorg_window: int = 64
    timeout: float = 10.0
    start_counter: int = 0  # without a stored cursor: deliver entities after this counterId
    name: str | None = None  # cursor name; default subgraph-<chainId>
    source: str = "subgraph"

    @property
    def cursor_name(self) -> str:
        return self.name or f"{self.source}-{self.chain_id}"


@dataclass
class Kept:
    counter: int
    block: int
    block_hash: str
    raw: dict[str, Any]


class SubgraphListener:
    def __init__(
        self,
        client: SubgraphClient,
        delivery: Delivery,
        cursors: CursorStore,
        config: SubgraphConfig,
        *,
        entities: Sequence[str] | None = None,
    ) -> None:
        self.client = client
        self.delivery = delivery
        self.cursors = cursors
        self.config = config
        self.entities = list(entities) if entities is not None else routed_entities()
        self.query = build_query(self.entities, config.page_size)
        self.topics0 = {entity_spec(name).topic0 for name in self.entities}
        self.cursor: int | None = None  # the counterId below the window
        self.head: int | None = None  # the subgraph's block
        self.delivered_block: int | None = None  # every entity up to this block was delivered
        self.kept: dict[str, Kept] = {}  # entity id -> what was delivered, within the window
        self._audited = False
        self.live = False  # started without the ledger: no cursor written before the backfill
        self.stats: dict[str, int] = {"rounds": 0, "entities": 0, "removed": 0, "pages": 0}

    async def start(self) -> None:
        c = self.config
        try:
            stored = await self.cursors.get(c.cursor_name)
        except Exception as exc:  # noqa: BLE001 - the ledger is away: start live, backfill later
            self.cursor = await self._recent_counter()
            self.live = True
            log.warning(
                "%s: the ledger cannot give the cursor (%s): starting after counterId %s (the "
                "last %d blocks); the stored cursor is read again once the ledger is back",
                c.cursor_name,
                exc,
                self.cursor,
                c.reorg_window,
            )
            return
        self.cursor = stored if stored is not None else c.start_counter
        log.info("%s: resuming after counterId %s", c.cursor_name, self.cursor)

    async def _recent_counter(self) -> int:
        """The newest counterId more than `reorg_window` blocks below the subgraph's head."""
        meta = await self.client.query("{ _meta { block { number } } }", {})
        head = int(((meta.get("_meta") or {}).get("block") or {}).get("number") or 0)
        parts = ["query recent($b: BigInt!) {"]
        for name in self.entities:
            parts.append(
                f"  {name}: {collection_field(name)}(first: 1, orderBy: counterId, "
                f"orderDirection: desc, where: {{blockNumber_lte: $b}}) {{ counterId }}"
            )
        parts.append("}")
        data = await self.client.query(
            "\n".join(parts), {"b": str(max(0, head - self.config.reorg_window))}
        )
        counters = [int(row["counterId"]) for name in self.entities for row in data.get(name) or []]
        return max(counters, default=0)

    async def backfill(self) -> None:
        """Started without the ledger: once it answers, read again from the stored cursor."""
        c = self.config
        try:
            stored = await self.cursors.get(c.cursor_name)
        except Exception:  # noqa: BLE001 - still away
            return
        resume = stored if stored is not None else c.start_counter
        if self.cursor is not None and resume < self.cursor:
            log.info(
                "%s: the ledger is back: reading again after counterId %s", c.cursor_name, resume
            )
            self.cursor = resume
        self.live = False

    async def _fetch(self) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        """(the subgraph's block, every entity after the cursor in counterId order)."""
        assert self.cursor is not None
        after = self.cursor
        meta: dict[str, Any] | None = None
        merged: list[tuple[str, dict[str, Any]]] = []
        while True:
            data = await self.client.query(self.query, {"after": str(after)})
            self.stats["pages"] += 1
            block = ((data.get("_meta") or {}).get("block")) or {}
            if meta is None or int(block.get("number") or 0) < int(meta.get("number") or 0):
                meta = block  # the lowest head seen while paging is what every page covers
            page: list[tuple[str, dict[str, Any]]] = []
            bound: int | None = None
            for name in self.entities:
                rows = data.get(name) or []
                for row in rows:
                    page.append((name, row))
                if len(rows) >= self.config.page_size:
                    last = int(rows[-1]["counterId"])
                    bound = last if bound is None else min(bound, last)
            page.sort(key=lambda item: int(item[1]["counterId"]))
            if bound is None:
                merged.extend(page)
                break
            merged.extend(item for item in page if int(item[1]["counterId"]) <= bound)
            after = bound
        return meta or {}, merged

    async def poll_once(self) -> int:
        """One round; returns the number of logs handed to delivery (removed ones included)."""
        if self.cursor is None:
            await self.start()
        if self.live:
            await self.backfill()
        c = self.config
        meta, entities = await self._fetch()
        head = int(meta.get("number") or 0)
        head_hash = str(meta.get("hash") or "")
        head_time = meta.get("timestamp")
        self.head = head
        confirmed = head - c.confirmations
        current: dict[str, tuple[int, str, dict[str, Any]]] = {}
        bad: set[int] = set()  # counterIds of entities that cannot be rebuilt (skipped)
        for name, entity in entities:
            try:
                raw = log_from_entity(name, entity, c.address)
            except EntityError as exc:
                ENTITIES_BAD.labels(c.source).inc()
                log.warning("%s: entity %s %s skipped: %s", c.cursor_name, name, entity, exc)
                bad.add(int(entity["counterId"]))
                continue
            current[str(entity["id"])] = (int(entity["counterId"]), name, raw)
        handled = 0
        if not self._audited:
            handled += await self._audit(current, confirmed)
            self._audited = True

        # kept entities the subgraph no longer has (or has in another block): removed
        gone = [
            k
            for eid, k in self.kept.items()
            if k.block <= head  # a lagging endpoint cannot judge what it has not indexed
            and (
                eid not in current
                or str(current[eid][2].get("blockHash") or "") != k.block_hash
                or log_identity(current[eid][2]) != log_identity(k.raw)
            )
        ]
        if gone:
            first = min(k.block for k in gone)
            REORGS.labels(c.source).inc()
            REORG_DEPTH.labels(c.source).set(max(0, (self.delivered_block or first) - first + 1))
            log.warning(
                "%s: reorg from block %s: %d delivered events gone from the subgraph",
                c.cursor_name,
                first,
                len(gone),
            )
            for k in sorted(gone, key=lambda k: k.counter):
                removed = {**k.raw, "removed": True}
                await self.delivery.deliver(removed, c.source)
                handled += 1
                self.stats["removed"] += 1
                for eid in [eid for eid, kk in self.kept.items() if kk is k]:
                    del self.kept[eid]

        # new entities, in counterId order, up to the first unconfirmed one
        for eid, (counter, _name, raw) in sorted(current.items(), key=lambda kv: kv[1][0]):
            if eid in self.kept:
                continue
            if raw["blockNumber"] > confirmed:
                break
            await self.delivery.deliver(raw, c.source)
            self.kept[eid] = Kept(counter, raw["blockNumber"], str(raw.get("blockHash")), raw)
            handled += 1
            self.stats["entities"] += 1
        self.delivered_block = confirmed

        # the cursor: the newest counterId below the window, with everything before delivered
        final_below = head - c.reorg_window
        final = self.cursor or 0
        order = sorted(
            [(counter, eid, raw["blockNumber"]) for eid, (counter, _n, raw) in current.items()]
            + [(counter, "", -1) for counter in bad]
        )
        for counter, eid, block in order:
            if eid and (block > final_below or eid not in self.kept):
                break
            final = counter
        for eid in [eid for eid, k in self.kept.items() if k.counter <= final]:
            del self.kept[eid]
        if final != self.cursor:
            self.cursor = (
                final if self.live else await self.cursors.advance(c.cursor_name, c.chain_id, final)
            )
        self.stats["rounds"] += 1
        # lag in seconds: the age of the subgraph's head (its indexing lag, the failure mode
        # of a subgraph); in blocks: the confirmations held back
        observe_lag(
            c.source, head, max(0, confirmed), float(head_time) if head_time is not None else None
        )
        log.debug("%s: subgraph at %s (%s)", c.cursor_name, head, head_hash)
        return handled

    async def _audit(self, current: dict[str, tuple[int, str, dict[str, Any]]], high: int) -> int:
        """After a start: recorded events of the window's blocks that the subgraph no longer
        has were removed while the fetcher was down (only forms a subgraph stores)."""
        c = self.config
        low = max(0, high - c.reorg_window)
        if high < low:
            return 0
        try:
            recorded = await self.delivery.recorded_logs(low, high)
        except Exception as exc:  # noqa: BLE001 - the ledger is away: nothing to compare with
            log.warning("%s: cannot read chain_events to check for reorgs (%s)", c.cursor_name, exc)
            return 0
        oldest = min((raw["blockNumber"] for _, _, raw in current.values()), default=None)
        if oldest is None:
            return 0  # the subgraph returned nothing for the window: no evidence either way
        # only the types this fetcher reads, and above the oldest block it read (a block the
        # cursor splits has events the answer does not hold)
        candidates = [
            raw
            for raw in recorded
            if raw.get("topics")
            and str(raw["topics"][0]).lower() in self.topics0
            and int(raw.get("blockNumber") or 0) > oldest
        ]
        gone = vanished(candidates, [raw for _, _, raw in current.values()])
        for raw in gone:
            await self.delivery.deliver(raw, c.source)
        if gone:
            log.warning("%s: %d recorded events gone from the subgraph", c.cursor_name, len(gone))
        return len(gone)

    async def run(self, stop: asyncio.Event) -> None:
        c = self.config
        while not stop.is_set():
            try:
                await self.poll_once()
            except (SubgraphError, DeliveryError) as exc:
                kind = "subgraph" if isinstance(exc, SubgraphError) else "delivery"
                RECONNECTS.labels(c.source, kind).inc()
                log.warning("%s: round failed (%s), retrying: %s", c.cursor_name, kind, exc)
            except Exception as exc:  # noqa: BLE001 - e.g. Postgres down while saving the cursor
                RECONNECTS.labels(c.source, "other").inc()
                log.exception("%s: round failed, retrying: %s", c.cursor_name, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), c.interval)
