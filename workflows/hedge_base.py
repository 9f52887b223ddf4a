"""What the intent and position workflows share: the reconciliation loop, operator and event
signals, the `state` query, waiting, ledger writes in the background, riding out
infrastructure faults, parking in STUCK, continue-as-new and finishing.

The loop (`_loop`) runs the workflow's `_step` (refresh the facts, decide, act) until it
returns an outcome:

* a `StepFailed` (automatic retries of one step exhausted: RPC, broker or oracle down) is
  ridden out: back off, read the facts again, decide again — the decisions themselves handle
  deadlines, so an outage never parks a hedge while its quote can still be worked; an alert
  goes out once the failures have lasted `ALERT_AFTER_SECONDS`;
* a `NeedsOperator` (or an `ActionImpossible` the step did not handle: a step that must happen
  was refused for good) parks the workflow in STUCK: an alert, then it waits for `retry`,
  `unwind` or `abandon`, and meanwhile re-reads the facts every `STUCK_RECHECK_SECONDS`, leaving
  STUCK by itself once nothing is left to do (chain and broker agree).

Ledger writes never hold the hedge up: they are started in the background (`_write`), carry
an order (`seq`) so an older write never overwrites a newer one, and are awaited only before
continue-as-new and before the workflow ends.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from typing import Any, ClassVar, Generic, TypeVar

from temporalio import workflow
from temporalio.converter import value_to_type
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain import events as ev
    from domain.enums import HedgeStatus
    from domain.ledger_order import next_ledger_seq
    from interfaces.broker import OrderSnapshot
    from interfaces.ledger import BATCHED_ROW_TYPES, AlertRow, HedgeStatusUpdate, NotificationRow
    from interfaces.temporal import SearchAttributes
    from interfaces.workflows import ChainLog, OperatorCommand

# Other workflow modules are imported by the sandbox like this one (never passed
# through), so every class in them, exceptions included, is one object per workflow.
from workflows import calls
from workflows.broker_legs import BrokerLeg
from workflows.calls import ActionImpossible, StepFailed

EVENT_KEYS_KEPT = 200  # applied event keys remembered for dedupe (carried over continue-as-new)
NOTICES_KEPT = 50  # keys of front-end notifications sent once (carried over continue-as-new)
HISTORY_LIMIT = 8_000  # continue-as-new beyond this many history events (unless the input says)
ALERT_AFTER_SECONDS = 120.0  # failures lasting this long raise an alert (the hedge goes on)
# A step failing with a protocol deadline (`_deadline_at_stake`) this close raises a critical
# alert at once: waiting ALERT_AFTER_SECONDS would tell the operator after the deadline.
DEADLINE_ALERT_SECONDS = 90.0
# Runs started before it never raised that alert; the marker is written only by a run that does.
DEADLINE_ALERT_PATCH = "deadline-alert"
MAX_BACKOFF_SECONDS = 30.0
STUCK_RECHECK_SECONDS = 60.0
# Runs started before it cleared the wake-up flag when a fill wait began, which dropped a
# broker or chain signal that arrived between reading the facts and waiting (a LIMIT hedge's
# partial fill then waited out the whole poll window); from it on the flag is cleared when the
# facts are read (`_drain_logs`) and a fill wait ends at once on anything that came in since.
# The open and close path's cuts of issue 16 share one patch id: none of them was released on
# its own, and each distinct id costs every new run a marker and a TemporalChangeVersion
# upsert (with its visibility write). Each keeps its own name where it is tested.
FAST_PATH_PATCH = "fast-open-and-close-path"
# From it on, the intent's first round and the position's facts are read in local activities,
# run by the workflow worker inside the workflow task that asks for them (`workers.local_reads`):
# no activity dispatch and no workflow task of their own.
LOCAL_READS_PATCH = "local-reads"
WAKE_KEPT_PATCH = FAST_PATH_PATCH  # developed as "wake-kept-until-facts-read"
# Runs started before it wrote every ledger row in an activity of its own (three history events
# and a workflow task each); from it on, the rows a workflow task writes go in one batch.
BATCH_WRITES_PATCH = FAST_PATH_PATCH  # developed as "batched-ledger-writes"
# Runs started before it woke on every chain_event signal, a copy of a log already applied
# included: three listeners deliver each log, and a lagging one's copy (its chain_events
# record not yet visible) cost a whole look at the chain and the broker. From it on such a copy
# is still queued (`_drain_logs` skips it) but wakes nothing. The marker is written only by a
# run that receives such a copy.
QUIET_DUPLICATE_LOGS_PATCH = "quiet-duplicate-logs"
POLL_WINDOW_SECONDS = 30.0  # one fill-poll activity waits at most this long
PAUSE_RECHECK_SECONDS = 5.0  # while the protocol pauses PartyB actions, look again this often


def _log_key(log: ChainLog) -> str:
    """A log's identity across listeners: (block, tx, log index)."""
    return f"{log.block_number}:{log.tx_hash}:{log.log_index}"


class NeedsOperator(Exception):
    """A step that must happen was refused for good (e.g. the broker rejects an unwind)."""


@dataclass
class HedgeState:
    """What every hedge workflow knows; carried whole over continue-as-new."""

    chain_id: int
    quote_id: int
    hedge_status: str = HedgeStatus.RECEIVED.value
    chain_status: str | None = None
    quote: dict[str, Any] | None = None  # the chain quote as last read (`quote_summary`)
    legs: list[BrokerLeg] = field(default_factory=list)
    events_applied: list[str] = field(default_factory=list)
    event_hashes: dict[str, str] = field(default_factory=dict)  # applied key -> block hash
    events_removed: list[str] = field(default_factory=list)  # "<key>@<block hash>" of reorged logs
    last_error: str | None = None
    operator_log: list[str] = field(default_factory=list)
    outcome: str | None = None
    abandoned: bool = False
    # carried over continue-as-new: signals not yet handled
    pending_logs: list[ChainLog] = field(default_factory=list)
    pending_commands: list[list[str]] = field(default_factory=list)  # [name, reason, operator]
    pending_writes: list[list[Any]] = field(default_factory=list)  # [row type, row fields]
    ledger_seq: int = 0
    stuck_count: int = 0
    failing_since: float | None = None  # workflow time of the first of the current failures
    failing_alerted: bool = False
    deadline_alerted: bool = False  # this failure episode raised the deadline alert
    # the chain's clock minus the workflow's, at the last read of the chain's time
    chain_offset: float | None = None
    failures: int = 0  # consecutive StepFailed
    failure_episodes: int = 0
    continued: int = 0  # continue-as-new so far
    history_limit: int | None = None
    notified: list[str] = field(default_factory=list)  # keys of once-only front-end notices


S = TypeVar("S", bound=HedgeState)


class HedgeWorkflow(Generic[S]):
    KIND: ClassVar[str] = "hedge"  # how alerts name this workflow ("intent", "position")
    SEQ_BASE: ClassVar[int] = 0  # orders ledger writes across workflows of one quote
    # While the chain shows the quote in one of these statuses, its deadline is at stake
    # (`_deadline_at_stake`), and this is what beating it decides.
    DEADLINE_STATUSES: ClassVar[frozenset[str]] = frozenset()
    DEADLINE_MEANS: ClassVar[str] = ""

    def __init__(self) -> None:
        self._state: S | None = None
        self._wake = asyncio.Event()
        self._pending_logs: list[ChainLog] = []
        self._commands: list[tuple[str, OperatorCommand]] = []
        self._writes: list[tuple[Any, calls.Write]] = []  # background writes: (handle, row)
        self._batch: list[calls.Write] = []  # ledger rows of this workflow task, not yet sent

    # ------------------------------------------------------------------ signals and queries

    @workflow.signal(name="chain_event")
    def chain_event(self, log: ChainLog) -> None:
        self._pending_logs.append(log)
        if self._applied_already(log) and workflow.patched(QUIET_DUPLICATE_LOGS_PATCH):
            return
        self._wake.set()

    def _applied_already(self, log: ChainLog) -> bool:
        """Is `log` a copy of one `_drain_logs` applied (same key, same block)?"""
        s = self._state
        if s is None or log.removed:
            return False
        key = _log_key(log)
        return key in s.events_applied and s.event_hashes.get(key) == log.block_hash

    @workflow.signal(name="broker_order_update")
    def broker_order_update(self, snapshot: OrderSnapshot) -> None:
        if self._state is None:
            return
        for leg in self._state.legs:
            if leg.client_order_id == snapshot.client_order_id:
                leg.observe(snapshot, workflow.now().timestamp())
        self._wake.set()

    @workflow.signal(name="retry")
    def retry(self, command: OperatorCommand) -> None:
        self._commands.append(("retry", command))
        self._wake.set()

    @workflow.signal(name="unwind")
    def unwind(self, command: OperatorCommand) -> None:
        self._commands.append(("unwind", command))
        self._on_unwind()
        self._wake.set()

    @workflow.signal(name="abandon")
    def abandon(self, command: OperatorCommand) -> None:
        self._commands.append(("abandon", command))
        if self._state is not None:
            self._state.abandoned = True
        self._wake.set()

    @workflow.query(name="state")
    def state(self) -> dict[str, Any]:
        return asdict(self._state) if self._state else {}

    # ------------------------------------------------------------------ hooks

    def _on_unwind(self) -> None:
        """What `unwind` changes beyond waking the loop (nothing by default)."""

    def _apply_event(self, event: ev.SymmioEvent, log: ChainLog) -> None:
        """What a newly seen chain event means to this workflow (the facts are re-read anyway)."""

    def _unapply_event(self, event: ev.SymmioEvent, log: ChainLog) -> None:
        """What an applied event removed by a reorg takes back (nothing by default)."""

    async def _step(self) -> str | None:
        """Refresh the facts, decide, act once; the outcome when the workflow is done."""
        raise NotImplementedError

    async def _settled(self) -> bool:
        """Re-read the facts: is there nothing left to do (chain and broker agree)?"""
        raise NotImplementedError

    def _resume_input(self) -> Any:
        """The input that continues this workflow as new, carrying its state."""
        raise NotImplementedError

    # ------------------------------------------------------------------ start and loop

    def _begin(self, state: S) -> S:
        """Adopt `state` (fresh or carried over continue-as-new) with its unhandled signals."""
        self._state = state
        self._pending_logs = [*state.pending_logs, *self._pending_logs]
        carried = [
            (name, OperatorCommand(reason, who)) for name, reason, who in state.pending_commands
        ]
        self._commands = [*carried, *self._commands]
        carried_writes = [
            value_to_type(calls.WRITE_TYPES[kind], fields, [])
            for kind, fields in state.pending_writes
        ]
        state.pending_logs, state.pending_commands, state.pending_writes = [], [], []
        for row in carried_writes:  # written again by this run (idempotent, ordered by seq)
            self._write(row)
        if any(name == "abandon" for name, _ in self._commands):
            state.abandoned = True
        if any(name == "unwind" for name, _ in self._commands):
            self._on_unwind()
        return state

    async def _loop(self) -> str:
        s = self._state
        assert s is not None
        while True:
            self._take_commands()
            if s.abandoned:
                return await self._finish(HedgeStatus.FAILED, "abandoned by operator")
            limit = s.history_limit or HISTORY_LIMIT
            if workflow.info().get_current_history_length() > limit:
                await self._continue_as_new()
            try:
                outcome = await self._step()
            except (NeedsOperator, ActionImpossible) as exc:
                await self._park_stuck(str(exc))
                continue
            except StepFailed as exc:
                await self._ride_out(exc)
                continue
            if outcome is not None:
                return outcome
            self._recovered()

    async def _continue_as_new(self) -> None:
        """Carry everything unfinished into the next run; never wait for the ledger here."""
        s = self._state
        assert s is not None
        s.pending_writes = [
            [type(row).__name__, asdict(row)] for handle, row in self._writes if not handle.done()
        ] + [[type(row).__name__, asdict(row)] for row in self._batch]
        self._batch = []
        s.continued += 1
        s.pending_logs = list(self._pending_logs)
        s.pending_commands = [[name, c.reason, c.operator] for name, c in self._commands]
        workflow.continue_as_new(self._resume_input())

    # ------------------------------------------------------------------ commands

    def _take_commands(self) -> list[str]:
        """Log and consume the operator commands received so far; their names."""
        s = self._state
        assert s is not None
        names = []
        for name, command in self._commands:
            s.operator_log.append(f"{name} by {command.operator}: {command.reason}")
            names.append(name)
        self._commands.clear()
        return names

    # ------------------------------------------------------------------ faults

    async def _ride_out(self, exc: StepFailed) -> None:
        """A step's automatic retries ran out (infrastructure): back off, then decide again."""
        s = self._state
        assert s is not None
        now = workflow.now().timestamp()
        s.last_error = str(exc)
        if s.failing_since is None:
            s.failing_since = now
            s.failure_episodes += 1
        s.failures += 1
        self._show(f"retrying after a fault (failing for {now - s.failing_since:.0f} s)")
        self._alert_deadline_at_risk(now, exc)
        if not s.failing_alerted and now - s.failing_since >= ALERT_AFTER_SECONDS:
            s.failing_alerted = True
            self._alert("hedge_failing", "warning", f"failing for {now - s.failing_since:.0f} s, still retrying: {exc}",
                        f"failing:{s.failure_episodes}")  # fmt: skip
        await self._wait(min(MAX_BACKOFF_SECONDS, 2.0 ** min(s.failures, 5)))

    def _alert_deadline_at_risk(self, now: float, exc: StepFailed) -> None:
        """Once per failure episode: a critical alert if the failing step races a protocol
        deadline that is now DEADLINE_ALERT_SECONDS away or less (or already past)."""
        s = self._state
        assert s is not None
        at_stake = self._deadline_at_stake()
        if s.deadline_alerted or at_stake is None or s.chain_offset is None:
            return
        what, deadline = at_stake
        left = deadline - (now + s.chain_offset)
        if left > DEADLINE_ALERT_SECONDS or not workflow.patched(DEADLINE_ALERT_PATCH):
            return
        s.deadline_alerted = s.failing_alerted = True  # it says all the later one would
        when = f"in {left:.0f} s" if left > 0 else f"passed {-left:.0f} s ago"
        self._alert("hedge_failing_near_deadline", "critical",
                    f"failing for {now - (s.failing_since or now):.0f} s; deadline {when} ({what}): {exc}",
                    f"deadline:{s.failure_episodes}")  # fmt: skip

    def _deadline_at_stake(self) -> tuple[str, int] | None:
        """The protocol deadline (chain time) the hedge's next step must beat, and what it
        decides; None when no deadline is at stake (`DEADLINE_STATUSES`)."""
        s = self._state
        assert s is not None
        if s.quote is None or s.quote.get("status") not in self.DEADLINE_STATUSES:
            return None
        return self.DEADLINE_MEANS, int(s.quote["deadline"])

    def _saw_chain_time(self, chain_now: int) -> None:
        """Remember the chain's clock against the workflow's (for `_deadline_at_stake`)."""
        s = self._state
        assert s is not None
        s.chain_offset = chain_now - workflow.now().timestamp()

    def _recovered(self) -> None:
        s = self._state
        assert s is not None
        s.failing_since, s.failing_alerted, s.failures = None, False, 0
        s.deadline_alerted = False

    async def _park_stuck(self, reason: str) -> None:
        """STUCK: alert, then wait for an operator's command, re-reading the facts meanwhile;
        leave by itself once nothing is left to do."""
        s = self._state
        assert s is not None
        s.last_error = reason
        s.stuck_count += 1
        await self._set_status(HedgeStatus.STUCK)
        self._show("waiting for an operator (re-reading the facts every minute)")
        self._alert("hedge_stuck", "critical", f"STUCK: {reason}", f"stuck:{s.stuck_count}")
        while True:
            if self._take_commands():
                return  # retry / unwind / abandon: the loop takes it from here
            try:
                await workflow.wait_condition(
                    lambda: bool(self._commands), timeout=timedelta(seconds=STUCK_RECHECK_SECONDS)
                )
            except TimeoutError:
                try:
                    if await self._settled():
                        s.operator_log.append("left STUCK by itself: nothing left to do")
                        return
                except (StepFailed, ActionImpossible, NeedsOperator) as exc:
                    s.last_error = f"{reason} (recheck: {exc})"

    # ------------------------------------------------------------------ events and waiting

    def _drain_logs(self) -> None:
        """Decode each pending log once per (block, tx, log index) and hand it to `_apply_event`.

        A reorg's `removed` log is never applied: it un-applies its key (so the same event
        re-mined in another block counts again), goes to `_unapply_event`, and a late copy of
        the orphaned log (same block hash) is ignored. The facts are re-read from the chain
        before every decision anyway."""
        s = self._state
        assert s is not None
        if workflow.patched(WAKE_KEPT_PATCH):
            self._wake.clear()  # what woke us is read now; a signal from here on is news
        for log in self._pending_logs:
            key = _log_key(log)
            orphan = f"{key}@{log.block_hash}"
            if log.removed:
                if key in s.events_applied and s.event_hashes.get(key) in (None, log.block_hash):
                    s.events_applied.remove(key)
                    s.event_hashes.pop(key, None)
                    decoded = self._decode(log)
                    if decoded is not None:
                        self._unapply_event(decoded, log)
                if orphan not in s.events_removed:
                    s.events_removed.append(orphan)
                continue
            if key in s.events_applied or (log.block_hash and orphan in s.events_removed):
                continue
            s.events_applied.append(key)
            if log.block_hash:
                s.event_hashes[key] = log.block_hash
            decoded = self._decode(log)
            if decoded is not None:
                self._apply_event(decoded, log)
        self._pending_logs.clear()
        if len(s.events_applied) > EVENT_KEYS_KEPT:
            for old in s.events_applied[:-EVENT_KEYS_KEPT]:
                s.event_hashes.pop(old, None)
            del s.events_applied[:-EVENT_KEYS_KEPT]
        del s.events_removed[:-EVENT_KEYS_KEPT]

    def _decode(self, log: ChainLog) -> ev.SymmioEvent | None:
        s = self._state
        assert s is not None
        try:
            return ev.decode_log(log.as_log())
        except ev.UndecodableLog as exc:
            s.last_error = f"undecodable event ignored: {exc}"
            return None

    async def _wait(self, seconds: float, *, clear_first: bool = False) -> None:
        """Sleep up to `seconds`, waking early on a signal (one that arrived before counts
        unless `clear_first`)."""
        if clear_first:
            self._wake.clear()
        try:
            await workflow.wait_condition(
                lambda: self._wake.is_set(), timeout=timedelta(seconds=max(0.1, seconds))
            )
        except TimeoutError:
            pass
        self._wake.clear()

    async def _hold_for_protocol(self, what: str) -> None:
        """The protocol pauses PartyB actions (`domain.trading_state.hold_during_pause`): send
        nothing, look again shortly (any signal looks at once)."""
        s = self._state
        assert s is not None
        self._show(f"protocol paused (partyB actions): {what} waits; nothing is sent meanwhile")
        await self._wait(PAUSE_RECHECK_SECONDS, clear_first=True)

    async def _wait_for_fills(self, seconds: float) -> None:
        """Wait for a working leg to fill: one heartbeating poll activity on the broker (REST),
        cut short by any signal (an order-monitor update, a chain event, an operator)."""
        s = self._state
        assert s is not None
        leg = next((leg for leg in s.legs if not leg.final), None)
        if leg is None:
            return
        if not workflow.patched(WAKE_KEPT_PATCH):
            self._wake.clear()  # lost a fill signal that came in after the facts were read
        window = max(1.0, min(POLL_WINDOW_SECONDS, seconds))
        self._show(f"waiting for fills of broker order {leg.client_order_id}")
        poll = calls.start_poll_fills(leg.symbol, leg.client_order_id, window)
        woken = asyncio.ensure_future(workflow.wait_condition(lambda: self._wake.is_set()))
        await workflow.wait([poll, woken], return_when=asyncio.FIRST_COMPLETED)
        if poll.done():
            try:
                leg.observe(poll.result().order, workflow.now().timestamp())
            except ActivityError as exc:  # the next refresh reads the order again
                s.last_error = f"fill poll: {exc.cause or exc}"
        else:
            poll.cancel()
        if not woken.done():
            woken.cancel()
        self._wake.clear()

    # ------------------------------------------------------------------ what the Temporal UI shows

    UNWIND_MEANS: ClassVar[str] = "give up the hedge and bring the broker back to the chain"

    def _show(self, doing: str) -> None:
        """The workflow's current details in the Temporal UI: status, what it waits for, its
        last error in one line and, when STUCK, the signals it accepts."""
        s = self._state
        assert s is not None
        lines = [f"**{s.hedge_status}** {self.KIND} of quote {s.quote_id}: {doing}"]
        if s.last_error:
            lines.append(f"last error: {s.last_error.splitlines()[0][:300]}")
        if s.hedge_status == HedgeStatus.STUCK.value:
            lines += [
                'Signals (payload `{"reason": "..."}`):',
                "- `retry`: try the refused step again",
                f"- `unwind`: {self.UNWIND_MEANS}",
                "- `abandon`: stop here; an operator handles the quote by hand",
            ]
        workflow.set_current_details("\n".join(lines))

    # ------------------------------------------------------------------ ledger and alerts

    def _seq(self) -> int:
        s = self._state
        assert s is not None
        # No patch: the number is an activity's input, which a replay does not compare, and a
        # run that counted 1, 2, 3, ... before this numbering jumps up to the clock, never down.
        s.ledger_seq = next_ledger_seq(s.ledger_seq, workflow.now())
        return self.SEQ_BASE + s.ledger_seq

    def _write(self, row: calls.Write) -> None:
        """Record `row` in the background (the hedge goes on); awaited before the workflow
        ends, carried over continue-as-new."""
        if isinstance(row, NotificationRow) and row.seq == 0:
            row = replace(row, seq=self._seq())  # the front-end gets a quote's notices in order
        self._writes = [(h, r) for h, r in self._writes if not h.done()]
        if isinstance(row, BATCHED_ROW_TYPES) and workflow.patched(BATCH_WRITES_PATCH):
            if not self._batch:  # sent once what runs now yields: after its own commands
                asyncio.ensure_future(self._send_batch())
            self._batch.append(row)
            return
        self._writes.append((calls.start_write(row), row))

    async def _send_batch(self) -> None:
        """The ledger rows written since the last batch, in one activity."""
        rows, self._batch = self._batch, []
        if rows:
            handle = calls.start_write_batch(rows)
            self._writes.extend((handle, row) for row in rows)

    def _notify_once(self, key: str, row: NotificationRow) -> None:
        """Tell the front-end `row` unless a notice with `key` went out already. Like every
        ledger write it is best-effort and in the background: a failing notify never holds up
        or fails the hedge."""
        s = self._state
        assert s is not None
        if key in s.notified:
            return
        s.notified.append(key)
        del s.notified[:-NOTICES_KEPT]
        self._write(row)

    async def _drain_writes(self) -> None:
        await self._send_batch()
        pending = [h for h, _ in self._writes if not h.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        self._writes = []

    def _alert(self, kind: str, severity: str, message: str, key: str) -> None:
        s = self._state
        assert s is not None
        info = workflow.info()
        self._write(
            AlertRow(
                kind, severity, f"{self.KIND} {s.quote_id}: {message}",
                {"workflow_id": info.workflow_id, "quote_id": s.quote_id},
                dedupe_key=f"{info.workflow_id}:{key}",
            )
        )  # fmt: skip

    async def _set_status(self, status: HedgeStatus) -> None:
        s = self._state
        assert s is not None
        if s.hedge_status == status.value:
            return
        s.hedge_status = status.value
        workflow.upsert_search_attributes([SearchAttributes.HEDGE_STATUS.value_set(status.value)])
        self._show({
            HedgeStatus.LOCKING: "locking the quote on chain",
            HedgeStatus.HEDGING: "hedging on the broker",
            HedgeStatus.OPENING: "opening the position on chain",
            HedgeStatus.OPEN: "open and hedged; waiting for a close request",
            HedgeStatus.CLOSING: "working a close request",
            HedgeStatus.UNWINDING: "bringing the broker to what the chain holds",
        }.get(status, "finished" if s.outcome else status.value.lower()))  # fmt: skip
        update = HedgeStatusUpdate(
            s.chain_id, s.quote_id, status.value, s.chain_status, s.last_error, seq=self._seq()
        )
        self._write(update)

    async def _finish(self, status: HedgeStatus, outcome: str) -> str:
        s = self._state
        assert s is not None
        s.outcome = outcome
        await self._set_status(status)
        await self._drain_writes()
        return outcome
