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
4. **Record** the event in `chain_events` with its source, after every target got it; the
   payload keeps the decoded fields, the block hash and the raw log. A log already recorded
   was already delivered by some listener, so by default it is not signalled again
   (`skip_recorded`). Duplicates are harmless either way: workflows apply an event once by
   (blockNumber, txHash, logIndex).

**Reorgs.** A log with ``removed: true`` (the node's own notice, or a listener's replay after
it saw a block hash change) is delivered as a plain signal to the workflows of its quotes with
``ChainLog.removed=True`` — never a start — and its `chain_events` row is updated: payload
``removed: true``, ``removed_at``, ``removed_by``. A second notice of the same removal (another
listener) is suppressed. The same log arriving again without ``removed`` from the orphaned
block (same block hash: a lagging source) is suppressed too; from a new block (the
transaction re-mined at the same position, another block hash) it is delivered again and the
row flips back to ``removed: false``. A removal naming another block hash than the row's
(the row already holds the re-mined version) is suppressed.

**Quotes that are not ours** are filtered before any Temporal call (`ownership`): no SYMMIO
event parameter is indexed, so the node cannot do it.

A Temporal failure raises `DeliveryError`; the caller retries (the poller does not advance its
cursor, the websocket listener reconnects and catches up from its cursor). The database never
holds a delivery up: when Postgres is away the event is kept and recorded once it is back (a
duplicate check that cannot ask the ledger delivers; duplicates are harmless). An event for a
quote whose workflow has finished updates that quote's chain status in the ledger.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from eth_account import Account
from prometheus_client import Counter, Gauge, Histogram
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
from domain.enums import QuoteStatus
from domain.ids import intent_workflow_id, position_workflow_id
from domain.quote import same_address
from domain.routing import PROTOCOL_EVENTS, Route, WorkflowKind, concerns_protocol_state, route
from interfaces.risk import (
    SIGNAL_PARTY_B_LIQUIDATION,
    SIGNAL_PROTOCOL_EVENT,
    PartyBLiquidationNote,
    risk_control_workflow_id,
)
from interfaces.temporal import SearchAttributes, TaskQueues
from interfaces.workflows import (
    INTENT_WORKFLOW,
    POSITION_WORKFLOW,
    SIGNAL_CHAIN_EVENT,
    SIGNAL_EMERGENCY_CLOSE,
    ChainLog,
    EmergencyClose,
    IntentInput,
    PositionInput,
)
from ledger.columns import utcnow
from ledger.market_tables import SymbolRecord
from ledger.models import ChainEvent, QuoteRecord
from workers.listeners.ownership import QuoteOwnership

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
# Events for the risk-control workflow (`_tell_risk_control`): the protocol's switches (it reads
# them again) and our PartyB's liquidation (an alert). The websocket and HTTP listeners carry
# them; the subgraph fetcher asks only for `ROUTED_EVENTS` (the schema it is tested against).
RISK_EVENTS: tuple[type[ev.SymmioEvent], ...] = (
    *PROTOCOL_EVENTS,
    ev.LiquidatePartyB,
    ev.FullyLiquidatedPartyB,
    ev.SetSymbolValidationState,  # made invalid: every position of it is emergency-closed
)


def listened_topic0s() -> list[str]:
    """topic0 filter of the log listeners: all forms of `ROUTED_EVENTS` and `RISK_EVENTS`."""
    return ev.topic0s(*ROUTED_EVENTS, *RISK_EVENTS)


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
EVENTS_UNRECORDED = Gauge(
    "hedger_listener_events_unrecorded",
    "Events delivered to workflows but not yet written to chain_events (ledger away)",
)
EVENTS_UNRECORDED_DROPPED = Counter(
    "hedger_listener_events_unrecorded_dropped_total",
    "Events never written to chain_events (the buffer overflowed during an outage)",
    ["source"],
)
EVENTS_REMOVED = Counter(
    "hedger_listener_events_removed_total",
    "Removed (reorged-out) logs delivered to workflows with removed=True, by listener",
    ["source"],
)
EVENTS_STALE = Counter(
    "hedger_listener_events_stale_total",
    "Logs of an orphaned block delivered again by a lagging source (suppressed)",
    ["source"],
)
EVENT_DELAY = Histogram(
    "hedger_listener_event_delay_seconds",
    "Wall clock when the listener handed a log to delivery minus its block timestamp",
    ["source"],
    buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120, 300),
)
EVENTS_PER_SECOND = Gauge(
    "hedger_listener_events_per_second",
    "Raw logs handed to delivery per second over the last minute, by listener",
    ["source"],
)
LAG_BLOCKS = Gauge(
    "hedger_listener_lag_blocks", "Chain head minus the listener's cursor", ["source"]
)
LAG_SECONDS = Gauge(
    "hedger_listener_lag_seconds",
    "Wall clock minus the timestamp of the newest block the listener fully delivered",
    ["source"],
)
CURSOR_BLOCK = Gauge("hedger_listener_cursor_block", "The listener's cursor", ["source"])
HEAD_BLOCK = Gauge("hedger_listener_head_block", "The chain head the listener last saw", ["source"])
RECONNECTS = Counter(
    "hedger_listener_reconnects_total",
    "Listener sessions or rounds that failed and were started again, by listener and reason",
    ["source", "reason"],
)
REORGS = Counter(
    "hedger_listener_reorgs_total",
    "Reorgs a listener detected (a block hash it delivered changed), by listener",
    ["source"],
)
REORG_DEPTH = Gauge(
    "hedger_listener_reorg_depth_blocks",
    "Blocks replayed after the last reorg the listener detected",
    ["source"],
)


def observe_lag(source: str, head: int, cursor: int, cursor_time: float | None = None) -> None:
    """Head lag in blocks, and in seconds when the cursor block's timestamp is known."""
    HEAD_BLOCK.labels(source).set(head)
    CURSOR_BLOCK.labels(source).set(cursor)
    LAG_BLOCKS.labels(source).set(max(0, head - cursor))
    if cursor_time is not None:
        LAG_SECONDS.labels(source).set(max(0.0, time.time() - cursor_time))


class _Rate:
    """Events per second over a sliding window (exported through a callback gauge)."""

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self.times: deque[float] = deque()

    def add(self) -> None:
        now = time.monotonic()
        self.times.append(now)
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self.times and now - self.times[0] > self.window:
            self.times.popleft()

    def per_second(self) -> float:
        self._trim(time.monotonic())
        return len(self.times) / self.window


_RATES: dict[str, _Rate] = {}


def _rate(source: str) -> _Rate:
    if source not in _RATES:
        rate = _RATES[source] = _Rate()
        EVENTS_PER_SECOND.labels(source).set_function(rate.per_second)
    return _RATES[source]


def _block_time(raw: Mapping[str, Any]) -> float | None:
    value = raw.get("blockTimestamp")
    try:
        return None if value is None else float(_int(value))
    except ValueError:
        return None


# --- results ---------------------------------------------------------------------------------


class Outcome(StrEnum):
    DELIVERED = "delivered"  # every target got it (possibly none were ours: see targets)
    DUPLICATE = "duplicate"  # already recorded: delivered before, not signalled again
    STALE = "stale"  # a log of an orphaned block, from a lagging source: suppressed
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


@dataclass(frozen=True)
class RecordedState:
    """What `chain_events` holds for one log."""

    removed: bool
    block_hash: str | None

    def same_block(self, block_hash: str | None) -> bool:
        return self.block_hash is None or block_hash is None or self.block_hash == block_hash


@dataclass
class DeliveryStats:
    """Per-instance counts (the Prometheus counters are process-wide)."""

    counts: Tally[str] = field(default_factory=Tally)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] += n


# --- helpers ---------------------------------------------------------------------------------


def emergency_close_for(event: ev.SymmioEvent, our_party_b: str) -> EmergencyClose | None:
    """The emergency close an event asks of our positions: a symbol made invalid (its
    positions), our PartyB put in emergency status (all of them); None otherwise."""
    if isinstance(event, ev.SetSymbolValidationState) and not event.is_valid:
        return EmergencyClose(
            f"symbol {event.symbol_id} made invalid on chain", "protocol", event.symbol_id
        )
    if (
        isinstance(event, ev.SetPartyBEmergencyStatus)
        and event.status
        and same_address(event.party_b, our_party_b)
    ):
        return EmergencyClose("PartyB emergency status set on chain", "protocol")
    return None


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


_Record = tuple[ev.SymmioEvent, ChainLog, str, list[str]]
UNRECORDED_KEPT = 100_000  # events kept for the ledger while Postgres is away
UNRECORDED_RETRY_SECONDS = 5.0


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
        history_limit: int | None = None,
    ) -> None:
        self.client = client
        self.engine = engine
        self.chain_id = chain_id
        self.our_party_b = our_party_b
        self.task_queue = task_queue
        self.skip_recorded = skip_recorded
        self.history_limit = history_limit
        self.stats = DeliveryStats()
        self._symbols: dict[int, str] = {}
        self._unrecorded: list[_Record] = []  # events delivered but not yet in chain_events
        self._retry_at = 0.0
        self.ownership = QuoteOwnership(our_party_b)

    async def deliver(self, raw: Mapping[str, Any], source: str) -> Delivered:
        """Deliver one raw log; raises `DeliveryError` only for a retryable failure."""
        EVENTS_SEEN.labels(source).inc()
        _rate(source).add()
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
        block_time = None if chain_log.removed else _block_time(raw)
        if block_time is not None:  # this listener's latency, whoever delivers first
            EVENT_DELAY.labels(source).observe(max(0.0, time.time() - block_time))
        state = await self._recorded(event.key) if self.skip_recorded else None
        if state is not None:
            same = state.same_block(chain_log.block_hash)
            if chain_log.removed and (state.removed or not same):
                # told already (another listener), or the row holds the re-mined version
                return self._duplicate(event, source)
            if not chain_log.removed and not state.removed:
                if not same:
                    await self._note_block_hash(event.key, chain_log.block_hash)
                return self._duplicate(event, source)
            if not chain_log.removed and state.removed and same:
                EVENTS_STALE.labels(source).inc()
                self.stats.add("stale")
                log.info(
                    "%s %s: log of an orphaned block (suppressed)", event.canonical_name, event.key
                )
                return Delivered(Outcome.STALE, event.canonical_name, event.key)

        routes = self.ownership.filter(event, route(event, self.our_party_b))
        protocol = concerns_protocol_state(event, self.our_party_b) or (
            isinstance(event, ev.LiquidatePartyB | ev.FullyLiquidatedPartyB)
            and same_address(event.party_b, self.our_party_b)
            and not chain_log.removed
        )
        emergency = None if chain_log.removed else emergency_close_for(event, self.our_party_b)
        if not routes and not protocol and emergency is None:
            EVENTS_IGNORED.labels(source, "not_ours").inc()
            self.stats.add("not_ours")
        results: list[tuple[str, TargetResult]] = []
        try:
            for target in routes:
                results.append(await self._deliver_to(target, event, chain_log, source))
            if protocol:
                results.append(await self._tell_risk_control(event, source))
            if emergency is not None:
                results.extend(await self._emergency_close_positions(event, emergency, source))
        except Exception as exc:  # Temporal RPC: retryable (the cursor does not move)
            DELIVERY_ERRORS.labels(source).inc()
            self.stats.add("error")
            raise DeliveryError(
                f"delivering {event.canonical_name} {event.key} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if chain_log.removed:
            EVENTS_REMOVED.labels(source).inc()
            self.stats.add("removed")
            log.warning(
                "%s %s removed by a reorg (%d workflows told)",
                event.canonical_name,
                event.key,
                len(results),
            )
        # The ledger records, it never holds a delivery up: without Postgres the record waits.
        record = (event, chain_log, source, [wid for wid, _ in results])
        finished = not chain_log.removed and any(
            r in (TargetResult.ALREADY_FINISHED, TargetResult.NOT_FOUND) for _, r in results
        )
        inserted = await self._record_or_keep(record, finished)
        if not inserted:
            EVENTS_DUPLICATE.labels(source).inc()
            self.stats.add("duplicate")
        self.stats.add("delivered")
        return Delivered(Outcome.DELIVERED, event.canonical_name, event.key, tuple(results))

    async def _emergency_close_positions(
        self, event: ev.SymmioEvent, command: EmergencyClose, source: str
    ) -> list[tuple[str, TargetResult]]:
        """Every running position workflow gets `emergency_close` (those of another symbol
        ignore one naming a symbol). A duplicate (another listener) is harmless: a closed
        position ignores it."""
        log.warning("%s %s: emergency close of our positions (%s)", event.canonical_name,
                    event.key, command.reason)  # fmt: skip
        query = f'WorkflowType="{POSITION_WORKFLOW}" AND ExecutionStatus="Running"'
        results = []
        async for execution in self.client.list_workflows(query):
            try:
                await self.client.get_workflow_handle(execution.id).signal(
                    SIGNAL_EMERGENCY_CLOSE, command
                )
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                results.append((execution.id, TargetResult.NOT_FOUND))
                continue
            EVENTS_DELIVERED.labels(source, "position", "signal").inc()
            results.append((execution.id, TargetResult.SIGNALLED))
        return results

    async def _tell_risk_control(
        self, event: ev.SymmioEvent, source: str
    ) -> tuple[str, TargetResult]:
        """A pause / emergency switch moved: the risk-control workflow reads them again (one
        that is not running reads them when it starts)."""
        workflow_id = risk_control_workflow_id(self.chain_id)
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            if isinstance(event, ev.LiquidatePartyB | ev.FullyLiquidatedPartyB):
                log.warning("%s %s: our PartyB liquidated for %s", event.canonical_name,
                            event.key, event.party_a)  # fmt: skip
                note = PartyBLiquidationNote(
                    event.canonical_name, event.party_a, str(event.key),
                    *(
                        (str(event.party_b_allocated_balance), str(event.upnl))
                        if isinstance(event, ev.LiquidatePartyB)
                        else (None, None)
                    ),
                )  # fmt: skip
                await handle.signal(SIGNAL_PARTY_B_LIQUIDATION, note)
            else:
                log.warning("%s %s: protocol switch changed", event.canonical_name, event.key)
                await handle.signal(SIGNAL_PROTOCOL_EVENT, event.canonical_name)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            WORKFLOW_FINISHED.labels(source, "risk_control", "signal").inc()
            return workflow_id, TargetResult.NOT_FOUND
        EVENTS_DELIVERED.labels(source, "risk_control", "signal").inc()
        self.stats.add("signalled")
        return workflow_id, TargetResult.SIGNALLED

    def _duplicate(self, event: ev.SymmioEvent, source: str) -> Delivered:
        EVENTS_DUPLICATE.labels(source).inc()
        self.stats.add("duplicate")
        return Delivered(Outcome.DUPLICATE, event.canonical_name, event.key)

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
                IntentInput(self.chain_id, target.quote_id, history_limit=self.history_limit)
                if target.kind == WorkflowKind.INTENT
                else PositionInput(self.chain_id, target.quote_id, history_limit=self.history_limit)
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

    def _pk(self, key: ev.EventKey) -> Any:
        table = ChainEvent.__table__  # type: ignore[attr-defined]
        return (
            (table.c.chain_id == self.chain_id)
            & (table.c.block_number == key.block_number)
            & (table.c.tx_hash == key.tx_hash)
            & (table.c.log_index == key.log_index)
        )

    async def _recorded(self, key: ev.EventKey) -> RecordedState | None:
        """The log's row (None when absent, or when the ledger cannot say)."""
        table = ChainEvent.__table__  # type: ignore[attr-defined]
        try:
            async with AsyncSession(self.engine) as session:
                row = (await session.execute(select(table.c.payload).where(self._pk(key)))).first()
        except Exception as exc:  # noqa: BLE001 - unknown: deliver (duplicates are harmless)
            log.warning("chain_events lookup failed (%s); delivering anyway", exc)
            return None
        if row is None:
            return None
        payload = row.payload if isinstance(row.payload, dict) else {}
        block_hash = payload.get("block_hash")
        return RecordedState(bool(payload.get("removed")), block_hash if block_hash else None)

    async def _note_block_hash(self, key: ev.EventKey, block_hash: str | None) -> None:
        """The same log (same key) now sits in a block with another hash: keep the newest."""
        if block_hash is None:
            return
        table = ChainEvent.__table__  # type: ignore[attr-defined]
        try:
            async with AsyncSession(self.engine) as session:
                row = (
                    await session.execute(
                        select(table.c.payload).where(self._pk(key)).with_for_update()
                    )
                ).first()
                if row is not None and not row.payload.get("removed"):
                    payload = {**row.payload, "block_hash": block_hash}
                    await session.execute(
                        table.update().where(self._pk(key)).values(payload=payload)
                    )
                await session.commit()
        except Exception as exc:  # noqa: BLE001 - informational only
            log.info("chain_events block hash of %s not updated: %s", key, exc)

    async def recorded_logs(self, low_block: int, high_block: int) -> list[dict[str, Any]]:
        """The raw logs `chain_events` holds as delivered (not removed) in [low, high], in chain
        order — a restarted listener checks them against the chain (reorgs while it was away).
        Raises when the ledger cannot answer."""
        table = ChainEvent.__table__  # type: ignore[attr-defined]
        async with AsyncSession(self.engine) as session:
            rows = (
                await session.execute(
                    select(table.c.payload)
                    .where(
                        (table.c.chain_id == self.chain_id)
                        & (table.c.block_number >= low_block)
                        & (table.c.block_number <= high_block)
                        & (table.c.name != UNDECODABLE_NAME)
                    )
                    .order_by(table.c.block_number, table.c.log_index)
                )
            ).all()
        out = []
        for row in rows:
            payload = row.payload if isinstance(row.payload, dict) else {}
            raw = payload.get("log")
            if isinstance(raw, dict) and not payload.get("removed"):
                out.append(raw)
        return out

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

    async def _record_or_keep(self, record: _Record, finished: bool) -> bool:
        """Record the event (and those kept while the database was away); True if it is new."""
        if self._unrecorded:
            await self._flush_unrecorded()
        if self._unrecorded:  # still away: keep this one too, in order
            self._keep(record)
            return True
        try:
            inserted = await self._record(*record)
            if finished:
                await self._update_chain_status(record[0])
            return inserted
        except Exception as exc:  # noqa: BLE001 - asyncpg, SQLAlchemy: the ledger is behind
            log.warning("chain_events write failed (%s); kept for later", exc)
            self._keep(record)
            return True

    def _keep(self, record: _Record) -> None:
        self._unrecorded.append(record)
        if len(self._unrecorded) > UNRECORDED_KEPT:
            del self._unrecorded[0]
            EVENTS_UNRECORDED_DROPPED.labels(record[2]).inc()
        EVENTS_UNRECORDED.set(len(self._unrecorded))

    async def _flush_unrecorded(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at:
            return
        try:
            while self._unrecorded:
                await self._record(*self._unrecorded[0])
                self._unrecorded.pop(0)
        except Exception as exc:  # noqa: BLE001
            self._retry_at = loop.time() + UNRECORDED_RETRY_SECONDS
            log.info("ledger still unavailable (%s); %d events kept", exc, len(self._unrecorded))
        EVENTS_UNRECORDED.set(len(self._unrecorded))

    async def _update_chain_status(self, event: ev.SymmioEvent) -> None:
        """An event for a quote whose workflow has finished (a later expiry, a force-cancel):
        the ledger's chain status follows it, since no workflow will write it any more."""
        status = getattr(event, "quote_status", None)
        quote_id = _quote_id(event)
        if not isinstance(status, QuoteStatus) or quote_id is None:
            return
        table = QuoteRecord.__table__  # type: ignore[attr-defined]
        async with AsyncSession(self.engine) as session:
            await session.execute(
                table.update()
                .where(table.c.chain_id == self.chain_id, table.c.quote_id == quote_id)
                .values(chain_status=status.name, updated_at=utcnow())
            )
            await session.commit()

    async def _record(
        self, event: ev.SymmioEvent, chain_log: ChainLog, source: str, targets: list[str]
    ) -> bool:
        """Write the event's row; True if it is new (or flipped between removed and not)."""
        payload = event_payload(event)
        payload["targets"] = targets
        payload["removed"] = chain_log.removed
        payload["block_hash"] = chain_log.block_hash
        payload["log"] = {**chain_log.as_log(), "removed": False}
        values = {
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
        if await self._insert(values):
            return True
        return await self._flip(event.key, chain_log, source, values)

    async def _flip(
        self, key: ev.EventKey, chain_log: ChainLog, source: str, values: dict[str, Any]
    ) -> bool:
        """The row exists: mark it removed (a reorg), or back (the log re-mined elsewhere)."""
        table = ChainEvent.__table__  # type: ignore[attr-defined]
        async with AsyncSession(self.engine) as session:
            row = (
                await session.execute(
                    select(table.c.payload).where(self._pk(key)).with_for_update()
                )
            ).first()
            if row is None:
                await session.commit()
                return False
            current: dict[str, Any] = dict(row.payload) if isinstance(row.payload, dict) else {}
            state = RecordedState(bool(current.get("removed")), current.get("block_hash"))
            update: dict[str, Any] | None = None
            if chain_log.removed and not state.removed and state.same_block(chain_log.block_hash):
                update = {
                    "payload": {
                        **current,
                        "removed": True,
                        "removed_at": utcnow().isoformat(),
                        "removed_by": source,
                        "block_hash": current.get("block_hash") or chain_log.block_hash,
                    }
                }
            elif (
                not chain_log.removed
                and state.removed
                and not state.same_block(chain_log.block_hash)
            ):
                update = {
                    "payload": {**values["payload"], "reincluded_after": current.get("block_hash")},
                    "name": values["name"],
                    "source": source,
                    "seen_at": values["seen_at"],
                }
            if update is not None:
                await session.execute(table.update().where(self._pk(key)).values(**update))
            await session.commit()
        return update is not None

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
