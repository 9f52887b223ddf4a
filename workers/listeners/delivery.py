"""From one raw SYMMIO log to the workflows that own it (DESIGN §2 "Blockchain Input Module", §3).

Every listener (websocket, HTTP poller, subgraph) hands each raw log to `Delivery.deliver`:

1. **Decode** with `domain.events.decode_log`. An unknown topic0 is ignored (counted). A
   malformed log (right topic0, wrong shape) is logged as a warning, counted in
   `hedger_listener_events_undecodable_total` and recorded in `chain_events` under the name
   ``UNDECODABLE`` with the raw log and the error, and then skipped: it never crashes the
   listener and never holds its cursor back, and nothing about it is silent.
2. **Route** with `domain.routing.route` (our PartyB address decides what is ours).
3. **Deliver** a `ChainLog` to each target: ``start=True`` → signal-with-start (`chain_event`)
   with conflict policy USE_EXISTING and reuse policy REJECT_DUPLICATE, search attributes set at
   start (QuoteId, PartyA, PartyB, Symbol when known, HedgeStatus=RECEIVED); a workflow that
   already finished is not restarted (logged at debug, counted). ``start=False`` → a plain
   signal; a workflow that does not exist (or finished) is ignored (counted).
4. **Record** the event in `chain_events` (insert, ignore the primary-key conflict) with its
   source, after every target got it. A log already recorded was already delivered by some
   listener, so by default it is not signalled again (`skip_recorded`); a reorg's
   ``removed`` log always is. Duplicates are harmless either way: workflows apply an event
   once by (blockNumber, txHash, logIndex).

A Temporal or database failure raises `DeliveryError`; the caller retries (the poller does not
advance its cursor, the websocket listener reconnects and catches up from its cursor).
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from eth_account import Account
from prometheus_client import Counter, Gauge
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain import events as ev
from domain.ids import intent_workflow_id, position_workflow_id
from domain.routing import Route, WorkflowKind, route
from interfaces.temporal import SearchAttributes, TaskQueues
from interfaces.workflows import (
    INTENT_WORKFLOW,
    POSITION_WORKFLOW,
    SIGNAL_CHAIN_EVENT,
    ChainLog,
    IntentInput,
    PositionInput,
)
from ledger.columns import utcnow
from ledger.market_tables import SymbolRecord
from ledger.models import ChainEvent, QuoteRecord

log = logging.getLogger(__name__)

UNDECODABLE_NAME = "UNDECODABLE"
INITIAL_HEDGE_STATUS = "RECEIVED"

# Events some workflow may own (domain.routing): the listeners filter eth_getLogs /
# eth_subscribe by the diamond address and these topic0s (current and legacy forms).
ROUTED_EVENTS: tuple[type[ev.SymmioEvent], ...] = (
    ev.SendQuote,
    ev.LockQuote,
    ev.UnlockQuote,
    ev.RequestToCancelQuote,
    ev.AcceptCancelRequest,
    ev.ExpireQuoteOpen,
    ev.ExpireQuoteClose,
    ev.ForceCancelQuote,
    ev.OpenPosition,
    ev.RequestToClosePosition,
    ev.RequestToCancelCloseRequest,
    ev.FillCloseRequest,
    ev.AcceptCancelCloseRequest,
    ev.ForceCancelCloseRequest,
    ev.EmergencyClosePosition,
    ev.ForceClosePosition,
    ev.LiquidatePendingPositionsPartyA,
    ev.LiquidatePositionsPartyA,
    ev.LiquidatePositionsPartyB,
)


def listened_topic0s() -> list[str]:
    """topic0 filter of every listener: all forms of the events in `ROUTED_EVENTS`."""
    return ev.topic0s(*ROUTED_EVENTS)


# --- metrics ---------------------------------------------------------------------------------

EVENTS_SEEN = Counter(
    "hedger_listener_events_seen_total", "Raw logs handed to delivery, by listener", ["source"]
)
EVENTS_DELIVERED = Counter(
    "hedger_listener_events_delivered_total",
    "chain_event signals delivered to a workflow, by listener, workflow kind and how",
    ["source", "kind", "mode"],
)
EVENTS_DUPLICATE = Counter(
    "hedger_listener_events_duplicate_total",
    "Logs already recorded (delivered earlier by this or another listener)",
    ["source"],
)
EVENTS_UNDECODABLE = Counter(
    "hedger_listener_events_undecodable_total",
    "Malformed logs with a known topic0 (recorded as UNDECODABLE and skipped)",
    ["source"],
)
EVENTS_IGNORED = Counter(
    "hedger_listener_events_ignored_total",
    "Logs not delivered anywhere, by reason (unknown_topic0, not_ours)",
    ["source", "reason"],
)
WORKFLOW_FINISHED = Counter(
    "hedger_listener_workflow_already_finished_total",
    "Deliveries to a workflow that already finished (not restarted) or does not exist",
    ["source", "kind", "mode"],
)
DELIVERY_ERRORS = Counter(
    "hedger_listener_delivery_errors_total",
    "Deliveries that failed (Temporal or database); the listener retries",
    ["source"],
)
LAG_BLOCKS = Gauge(
    "hedger_listener_lag_blocks", "Chain head minus the listener's cursor", ["source"]
)
CURSOR_BLOCK = Gauge("hedger_listener_cursor_block", "The listener's cursor", ["source"])
HEAD_BLOCK = Gauge("hedger_listener_head_block", "The chain head the listener last saw", ["source"])


def observe_lag(source: str, head: int, cursor: int) -> None:
    HEAD_BLOCK.labels(source).set(head)
    CURSOR_BLOCK.labels(source).set(cursor)
    LAG_BLOCKS.labels(source).set(max(0, head - cursor))


# --- results ---------------------------------------------------------------------------------


class Outcome(StrEnum):
    DELIVERED = "delivered"  # every target got it (possibly none were ours: see targets)
    DUPLICATE = "duplicate"  # already recorded: delivered before, not signalled again
    IGNORED = "ignored"  # unknown topic0
    UNDECODABLE = "undecodable"  # known topic0, malformed: recorded and skipped


class TargetResult(StrEnum):
    STARTED_OR_SIGNALLED = "signal_with_start"
    SIGNALLED = "signal"
    ALREADY_FINISHED = "already_finished"  # signal-with-start of a closed workflow: not restarted
    NOT_FOUND = "not_found"  # plain signal to a missing / finished workflow


@dataclass(frozen=True)
class Delivered:
    outcome: Outcome
    name: str | None = None
    key: ev.EventKey | None = None
    targets: tuple[tuple[str, TargetResult], ...] = ()  # (workflow id, result)
    error: str | None = None


class DeliveryError(RuntimeError):
    """Temporal or Postgres failed; nothing is lost: the listener retries the log."""


@dataclass
class DeliveryStats:
    """Per-instance counts (the Prometheus counters are process-wide)."""

    counts: Tally[str] = field(default_factory=Tally)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] += n


# --- helpers ---------------------------------------------------------------------------------


def party_b_address(private_key: str) -> str:
    """Our PartyB address (checksummed) from the signer key."""
    return str(Account.from_key(private_key).address)


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if hasattr(value, "hex") and not isinstance(value, str):
        text = str(value.hex())
        return text if text.startswith("0x") else "0x" + text
    text = str(value)
    return text.lower() if text.startswith(("0x", "0X")) else "0x" + text.lower()


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value, 16) if value[:2].lower() == "0x" else int(value)
    raise ValueError(f"not an integer: {value!r}")


def chain_log_from(raw: Mapping[str, Any], source: str) -> ChainLog:
    """Normalise a raw log (JSON-RPC hex, web3 types, or logs.json) into the signal payload.

    Raises ValueError when it lacks the fields every log has (address, block, tx, index)."""
    topics = raw.get("topics") or []
    if not isinstance(topics, list | tuple):
        raise ValueError("topics is not a list")
    block_hash = raw.get("blockHash")
    address = raw.get("address")
    if address is None:
        raise ValueError("log has no address")
    return ChainLog(
        address=address if isinstance(address, str) else _hex(address),
        topics=[_hex(t) for t in topics],
        data=_hex(raw.get("data") or b""),
        block_number=_int(raw.get("blockNumber")),
        tx_hash=_hex(raw.get("transactionHash")),
        log_index=_int(raw.get("logIndex")),
        source=source,
        block_hash=None if block_hash is None else _hex(block_hash),
        removed=bool(raw.get("removed", False)),
    )


def _jsonable(value: Any) -> Any:
    """Event fields for the JSON payload: enums by name, big integers as decimal strings."""
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, ev.EventKey):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        return {name: _jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


def event_payload(event: ev.SymmioEvent) -> dict[str, Any]:
    fields = {
        name: _jsonable(getattr(event, name))
        for name in event.__dataclass_fields__
        if name not in ("key", "address", "topic0", "block_hash")
    }
    return {"signature": event.signature, "args": fields}


def _quote_id(event: ev.SymmioEvent) -> int | None:
    value = getattr(event, "quote_id", None)
    return int(value) if isinstance(value, int) else None


# --- delivery --------------------------------------------------------------------------------


class Delivery:
    def __init__(
        self,
        client: Client,
        engine: AsyncEngine,
        *,
        chain_id: int,
        our_party_b: str,
        task_queue: str = TaskQueues.WORKFLOWS,
        skip_recorded: bool = True,
    ) -> None:
        self.client = client
        self.engine = engine
        self.chain_id = chain_id
        self.our_party_b = our_party_b
        self.task_queue = task_queue
        self.skip_recorded = skip_recorded
        self.stats = DeliveryStats()
        self._symbols: dict[int, str] = {}

    async def deliver(self, raw: Mapping[str, Any], source: str) -> Delivered:
        """Deliver one raw log; raises `DeliveryError` only for a retryable failure."""
        EVENTS_SEEN.labels(source).inc()
        self.stats.add("seen")
        try:
            event = ev.decode_log(raw)
        except ev.UnknownEvent:
            EVENTS_IGNORED.labels(source, "unknown_topic0").inc()
            self.stats.add("ignored")
            return Delivered(Outcome.IGNORED)
        except ev.UndecodableLog as exc:
            return await self._undecodable(raw, source, exc)

        chain_log = chain_log_from(raw, source)
        if self.skip_recorded and not event.removed and await self._recorded(event.key):
            EVENTS_DUPLICATE.labels(source).inc()
            self.stats.add("duplicate")
            return Delivered(Outcome.DUPLICATE, event.canonical_name, event.key)

        routes = route(event, self.our_party_b)
        if not routes:
            EVENTS_IGNORED.labels(source, "not_ours").inc()
            self.stats.add("not_ours")
        results: list[tuple[str, TargetResult]] = []
        try:
            for target in routes:
                results.append(await self._deliver_to(target, event, chain_log, source))
            inserted = await self._record(event, chain_log, source, [wid for wid, _ in results])
        except Exception as exc:  # Temporal RPC, asyncpg, SQLAlchemy: all retryable here
            DELIVERY_ERRORS.labels(source).inc()
            self.stats.add("error")
            raise DeliveryError(
                f"delivering {event.canonical_name} {event.key} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not inserted:
            EVENTS_DUPLICATE.labels(source).inc()
            self.stats.add("duplicate")
        self.stats.add("delivered")
        return Delivered(Outcome.DELIVERED, event.canonical_name, event.key, tuple(results))

    # --- targets ---------------------------------------------------------------------------

    def workflow_id(self, target: Route) -> str:
        if target.kind == WorkflowKind.INTENT:
            return intent_workflow_id(self.chain_id, target.quote_id)
        return position_workflow_id(self.chain_id, target.quote_id)

    async def _deliver_to(
        self, target: Route, event: ev.SymmioEvent, chain_log: ChainLog, source: str
    ) -> tuple[str, TargetResult]:
        workflow_id = self.workflow_id(target)
        kind = str(target.kind)
        if target.start:
            workflow = INTENT_WORKFLOW if target.kind == WorkflowKind.INTENT else POSITION_WORKFLOW
            arg: IntentInput | PositionInput = (
                IntentInput(self.chain_id, target.quote_id)
                if target.kind == WorkflowKind.INTENT
                else PositionInput(self.chain_id, target.quote_id)
            )
            try:
                await self.client.start_workflow(
                    workflow,
                    arg,
                    id=workflow_id,
                    task_queue=self.task_queue,
                    start_signal=SIGNAL_CHAIN_EVENT,
                    start_signal_args=[chain_log],
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    search_attributes=await self._search_attributes(target, event),
                )
            except WorkflowAlreadyStartedError:
                log.debug(
                    "%s %s: workflow %s already finished; not restarted",
                    event.canonical_name,
                    event.key,
                    workflow_id,
                )
                WORKFLOW_FINISHED.labels(source, kind, "start").inc()
                self.stats.add("already_finished")
                return workflow_id, TargetResult.ALREADY_FINISHED
            EVENTS_DELIVERED.labels(source, kind, "start").inc()
            self.stats.add("signalled")
            return workflow_id, TargetResult.STARTED_OR_SIGNALLED
        try:
            await self.client.get_workflow_handle(workflow_id).signal(SIGNAL_CHAIN_EVENT, chain_log)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            log.debug(
                "%s %s: no running workflow %s; ignored",
                event.canonical_name,
                event.key,
                workflow_id,
            )
            WORKFLOW_FINISHED.labels(source, kind, "signal").inc()
            self.stats.add("not_found")
            return workflow_id, TargetResult.NOT_FOUND
        EVENTS_DELIVERED.labels(source, kind, "signal").inc()
        self.stats.add("signalled")
        return workflow_id, TargetResult.SIGNALLED

    async def _search_attributes(
        self, target: Route, event: ev.SymmioEvent
    ) -> TypedSearchAttributes:
        pairs: list[SearchAttributePair[Any]] = [
            SearchAttributePair(SearchAttributes.QUOTE_ID, target.quote_id),
            SearchAttributePair(SearchAttributes.HEDGE_STATUS, INITIAL_HEDGE_STATUS),
            SearchAttributePair(
                SearchAttributes.PARTY_B, str(getattr(event, "party_b", None) or self.our_party_b)
            ),
        ]
        party_a = getattr(event, "party_a", None)
        if isinstance(party_a, str):
            pairs.append(SearchAttributePair(SearchAttributes.PARTY_A, party_a))
        symbol = await self._symbol(event, target.quote_id)
        if symbol:
            pairs.append(SearchAttributePair(SearchAttributes.SYMBOL, symbol))
        return TypedSearchAttributes(pairs)

    async def _symbol(self, event: ev.SymmioEvent, quote_id: int) -> str | None:
        """The symbol's name when the ledger knows it (never blocks a delivery)."""
        try:
            symbol_id = getattr(event, "symbol_id", None)
            async with AsyncSession(self.engine) as session:
                if isinstance(symbol_id, int):
                    if symbol_id not in self._symbols:
                        record = await session.get(SymbolRecord, symbol_id)
                        if record is None:
                            return None
                        self._symbols[symbol_id] = record.name
                    return self._symbols[symbol_id]
                quote = await session.get(QuoteRecord, (self.chain_id, quote_id))
                return quote.symbol if quote is not None else None
        except Exception as exc:  # noqa: BLE001 - a search attribute is not worth a failed delivery
            log.info("symbol lookup for quote %s failed: %s", quote_id, exc)
            return None

    # --- ledger ----------------------------------------------------------------------------

    async def _recorded(self, key: ev.EventKey) -> bool:
        try:
            async with AsyncSession(self.engine) as session:
                found = await session.scalar(
                    select(ChainEvent.log_index).where(  # type: ignore[call-overload]
                        ChainEvent.chain_id == self.chain_id,
                        ChainEvent.block_number == key.block_number,
                        ChainEvent.tx_hash == key.tx_hash,
                        ChainEvent.log_index == key.log_index,
                    )
                )
                return found is not None
        except Exception as exc:  # noqa: BLE001 - unknown: deliver (duplicates are harmless)
            log.warning("chain_events lookup failed (%s); delivering anyway", exc)
            return False

    async def _insert(self, values: dict[str, Any]) -> bool:
        table = ChainEvent.__table__  # type: ignore[attr-defined]
        stmt = (
            insert(table)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=["chain_id", "block_number", "tx_hash", "log_index"]
            )
            .returning(table.c.log_index)
        )
        async with AsyncSession(self.engine) as session:
            row = (await session.execute(stmt)).first()
            await session.commit()
        return row is not None

    async def _record(
        self, event: ev.SymmioEvent, chain_log: ChainLog, source: str, targets: list[str]
    ) -> bool:
        payload = event_payload(event)
        payload["targets"] = targets
        payload["removed"] = event.removed
        return await self._insert(
            {
                "chain_id": self.chain_id,
                "block_number": chain_log.block_number,
                "tx_hash": chain_log.tx_hash,
                "log_index": chain_log.log_index,
                "name": event.canonical_name + ("(legacy)" if event.legacy else ""),
                "quote_id": _quote_id(event),
                "source": source,
                "payload": payload,
                "seen_at": utcnow(),
            }
        )

    async def _undecodable(
        self, raw: Mapping[str, Any], source: str, exc: ev.UndecodableLog
    ) -> Delivered:
        EVENTS_UNDECODABLE.labels(source).inc()
        self.stats.add("undecodable")
        log.warning(
            "undecodable SYMMIO log from %s (skipped, recorded as %s): %s",
            source,
            UNDECODABLE_NAME,
            exc,
        )
        try:
            chain_log = chain_log_from(raw, source)
        except (ValueError, TypeError) as bad:
            log.error("undecodable log without a usable position (%s): %r", bad, dict(raw))
            return Delivered(Outcome.UNDECODABLE, error=str(exc))
        key = ev.EventKey(chain_log.block_number, chain_log.tx_hash, chain_log.log_index)
        try:
            await self._insert(
                {
                    "chain_id": self.chain_id,
                    "block_number": chain_log.block_number,
                    "tx_hash": chain_log.tx_hash,
                    "log_index": chain_log.log_index,
                    "name": UNDECODABLE_NAME,
                    "quote_id": None,
                    "source": source,
                    "payload": {"error": str(exc), "log": chain_log.as_log()},
                    "seen_at": utcnow(),
                }
            )
        except Exception as db_exc:  # noqa: BLE001 - the warning above already tells the story
            log.error("could not record undecodable log %s: %s", key, db_exc)
        return Delivered(Outcome.UNDECODABLE, key=key, error=str(exc))
