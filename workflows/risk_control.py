"""`RiskControlWorkflow` (`risk-control-<chainId>`): the kill switch and the exposure book.

Long-running, one per chain; every hedge workflow reads the trading state from it (through the
`ops_trading_state` activity) and every intent reserves its notional in it before locking
(`ops_reserve_exposure`), so both are consistent and atomic without Postgres: an update runs to
completion before the next one starts. Each trading-state change is also written to the ledger
(in the background, as history). It continues-as-new, carrying the book and the state, before
its history grows large.

It also watches the protocol's own switches (`interfaces.risk`): it reads them from the chain at
its start, on every `protocol_event` signal from the listeners and every
`PROTOCOL_RECHECK_SECONDS`, and answers the effective trading state
(`domain.trading_state.effective_state`), so "protocol paused: partyB actions" reaches every
hedge the way the kill switch does, and clears by itself when the admin unpauses. A change of
the protocol's restriction raises an alert.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.converter import value_to_type
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.enums import TradingState
    from domain.risk_book import Reservation, open_interest, reserve, resize
    from domain.trading_state import OPERATOR_STATES, ProtocolFlags, effective_state
    from interfaces.chain import ProtocolStateView
    from interfaces.ledger import AlertRow
    from interfaces.risk import (
        QUERY_BOOK,
        QUERY_PROTOCOL,
        QUERY_TRADING_STATE,
        RISK_CONTROL_WORKFLOW,
        SIGNAL_PARTY_B_LIQUIDATION,
        SIGNAL_PROTOCOL_EVENT,
        UPDATE_RESERVE,
        UPDATE_RESIZE,
        UPDATE_SET_TRADING_STATE,
        BookView,
        ExposureGrant,
        ExposureRequest,
        ExposureResize,
        PartyBLiquidationNote,
        ProtocolView,
        RiskControlInput,
        TradingStateChange,
        TradingStateView,
    )

# Other workflow modules are imported by the sandbox like this one (never passed
# through), so every class in them, exceptions included, is one object per workflow.
from workflows import calls

HISTORY_LIMIT = 4_000
CHANGES_KEPT = 50
DEFAULT_STATE = TradingStateView(TradingState.ACTIVE.value, "default (never set)", "", None)
PATCH_PROTOCOL = "protocol-state"  # runs started before it never read the protocol's switches
PROTOCOL_RECHECK_SECONDS = 60.0


@dataclass
class RiskControlState:
    trading: TradingStateView = DEFAULT_STATE
    changes: list[TradingStateView] = field(default_factory=list)  # newest last
    book: dict[str, list[str]] = field(default_factory=dict)  # quote id -> [symbol, notional]
    protocol: ProtocolView = field(default_factory=ProtocolView)


@workflow.defn(name=RISK_CONTROL_WORKFLOW)
class RiskControlWorkflow:
    @workflow.init
    def __init__(self, params: RiskControlInput) -> None:
        # The state is the input's before any handler runs: set in `run`, an update delivered
        # with a new run's first task ran first, on an empty book, and its reservation was
        # lost when `run` replaced the state (tests/workflows/test_risk_control.py).
        self._state = RiskControlState()
        if params.resume is not None:
            self._state = value_to_type(RiskControlState, params.resume, [])
        elif params.seed is not None:
            self._state.trading = params.seed
        self._chain_id = params.chain_id
        self._writes: list[Any] = []
        # the book between updates (built from the state once per run, written back to it only
        # to continue as new): converting the whole book on every update cost 44 ms per
        # reservation at 10,000 open positions, on every lock's critical path
        self._reservations: dict[int, Reservation] | None = None
        self._protocol_dirty = False

    @workflow.run
    async def run(self, params: RiskControlInput) -> None:
        if workflow.patched(PATCH_PROTOCOL):
            await self._watch_protocol()
        else:
            await workflow.wait_condition(self._history_full)
        await workflow.wait_condition(workflow.all_handlers_finished)
        pending = [w for w in self._writes if not w.done()]
        for write in pending:
            await write
        if self._reservations is not None:
            self._state.book = {
                str(q): [r.symbol, str(r.notional)] for q, r in self._reservations.items()
            }
        workflow.continue_as_new(RiskControlInput(params.chain_id, resume=asdict(self._state)))

    @staticmethod
    def _history_full() -> bool:
        return workflow.info().get_current_history_length() > HISTORY_LIMIT

    # ------------------------------------------------------------------ the protocol's switches

    async def _watch_protocol(self) -> None:
        while not self._history_full():
            self._protocol_dirty = False
            await self._read_protocol()
            try:
                await workflow.wait_condition(
                    lambda: self._protocol_dirty or self._history_full(),
                    timeout=timedelta(seconds=PROTOCOL_RECHECK_SECONDS),
                )
            except TimeoutError:
                pass

    async def _read_protocol(self) -> None:
        try:
            view: ProtocolStateView = await calls.protocol_state()
        except (calls.StepFailed, calls.ActionImpossible) as exc:
            workflow.logger.warning("protocol switches not read (%s); keeping the last", exc)
            return
        old = self._state.protocol
        now = workflow.now().isoformat()
        flags = (view.global_paused, view.party_b_actions_paused, view.emergency_mode,
                 view.party_b_emergency)  # fmt: skip
        changed = flags != (old.global_paused, old.party_b_actions_paused, old.emergency_mode,
                            old.party_b_emergency)  # fmt: skip
        before = self._effective()
        self._state.protocol = ProtocolView(
            *flags, view.block_number, now, now if changed else old.changed_at
        )
        after = self._effective()
        if changed and (before.state, before.reason) != (after.state, after.reason):
            if after.changed_by == "protocol":
                message = f"trading state {after.state}: {after.reason} (block {view.block_number})"
            else:
                message = f"protocol restriction cleared (block {view.block_number}); trading state {after.state}"
            self._writes = [w for w in self._writes if not w.done()]
            self._writes.append(
                calls.start_raise_alert(
                    AlertRow(
                        "protocol_state", "critical" if after.changed_by == "protocol" else "info",
                        message, {"protocol": asdict(self._state.protocol)},
                        dedupe_key=f"{workflow.info().workflow_id}:protocol:{view.block_number}:{after.state}",
                    )
                )
            )  # fmt: skip

    def _effective(self) -> TradingStateView:
        """The operator's state, or the protocol's when that is stricter."""
        operator, p = self._state.trading, self._state.protocol
        flags = ProtocolFlags(
            p.global_paused, p.party_b_actions_paused, p.emergency_mode, p.party_b_emergency
        )
        state, reason = effective_state(TradingState(operator.state), flags)
        if reason is None:
            return operator
        return TradingStateView(state.value, reason, "protocol", p.changed_at, operator.version)

    @workflow.signal(name=SIGNAL_PROTOCOL_EVENT)
    def protocol_event(self, name: str = "") -> None:
        """A listener saw a pause / emergency event (`name`): read the switches again."""
        self._protocol_dirty = True

    @workflow.signal(name=SIGNAL_PARTY_B_LIQUIDATION)
    def party_b_liquidation(self, note: PartyBLiquidationNote) -> None:
        """Our PartyB was liquidated for a PartyA: a critical alert (once per event). Each
        position the liquidation closes flattens its own broker hedge (its workflow sees
        LIQUIDATED on chain)."""
        if note.event == "LiquidatePartyB":
            message = (
                f"PartyB liquidated for PartyA {note.party_a} (allocation {_wad(note.allocated)},"
                f" uPnL {_wad(note.upnl)}): its positions are liquidated next and their broker"
                " hedges flattened"
            )
        else:
            message = f"PartyB liquidation for PartyA {note.party_a} complete: nothing left open"
        self._writes = [w for w in self._writes if not w.done()]
        self._writes.append(
            calls.start_raise_alert(
                AlertRow(
                    "party_b_liquidated", "critical", message, asdict(note),
                    dedupe_key=f"{workflow.info().workflow_id}:{note.event}:{note.key}",
                )
            )
        )  # fmt: skip

    @workflow.query(name=QUERY_PROTOCOL)
    def protocol(self) -> ProtocolView:
        return self._state.protocol

    # ------------------------------------------------------------------ the book

    def _book(self) -> dict[int, Reservation]:
        """The live book: the reserve and resize updates change it in place."""
        if self._reservations is None:
            self._reservations = {
                int(q): Reservation(sym, Decimal(n)) for q, (sym, n) in self._state.book.items()
            }
        return self._reservations

    @workflow.update(name=UPDATE_RESERVE)
    def reserve(self, request: ExposureRequest) -> ExposureGrant:
        trading = self._effective().state
        if trading != TradingState.ACTIVE.value:
            return ExposureGrant(False, "0", "0", trading, f"trading state is {trading}")
        book = self._book()
        outcome = reserve(
            book, request.quote_id, request.symbol, Decimal(request.notional),
            max_open_interest=Decimal(request.max_open_interest),
            max_notional_per_symbol=Decimal(request.max_notional_per_symbol),
        )  # fmt: skip
        return ExposureGrant(
            outcome.granted, str(outcome.open_interest), str(outcome.symbol_notional), trading,
            outcome.reason,
        )  # fmt: skip

    @reserve.validator
    def _check_reserve(self, request: ExposureRequest) -> None:
        for name in ("notional", "max_open_interest", "max_notional_per_symbol"):
            value = Decimal(getattr(request, name))
            if not value.is_finite() or value < 0:
                raise ValueError(f"{name} must be a finite amount >= 0")

    @workflow.update(name=UPDATE_RESIZE)
    def resize(self, change: ExposureResize) -> None:
        book = self._book()
        resize(book, change.quote_id, change.symbol, Decimal(change.notional))

    @workflow.query(name=QUERY_BOOK)
    def book(self) -> BookView:
        book = self._book()
        by_symbol: dict[str, Decimal] = {}
        for r in book.values():
            by_symbol[r.symbol] = by_symbol.get(r.symbol, Decimal(0)) + r.notional
        return BookView(
            str(open_interest(book)), {k: str(v) for k, v in by_symbol.items()}, len(book)
        )

    # ------------------------------------------------------------------ the kill switch

    @workflow.update(name=UPDATE_SET_TRADING_STATE)
    def set_trading_state(self, change: TradingStateChange) -> TradingStateView:
        view = TradingStateView(
            TradingState(change.state.strip().upper()).value,
            change.reason.strip(),
            change.changed_by[:64],
            workflow.now().isoformat(),
            self._state.trading.version + 1,
        )
        self._state.trading = view
        self._state.changes = [*self._state.changes, view][-CHANGES_KEPT:]
        self._writes = [w for w in self._writes if not w.done()]
        self._writes.append(calls.start_record_trading_state(view))
        return view

    @set_trading_state.validator
    def _check_change(self, change: TradingStateChange) -> None:
        allowed = ", ".join(s.value for s in OPERATOR_STATES)
        if change.state.strip().upper() not in {s.value for s in OPERATOR_STATES}:
            raise ApplicationError(
                f"unknown trading state {change.state!r}; expected one of {allowed}",
                type="InvalidArgument",
            )
        if not change.reason.strip():
            raise ApplicationError(
                "a reason is required to change the trading state", type="InvalidArgument"
            )

    @workflow.query(name=QUERY_TRADING_STATE)
    def trading_state(self) -> TradingStateView:
        return self._effective()

    @workflow.query(name="changes")
    def changes(self) -> list[TradingStateView]:
        return list(self._state.changes)


def _wad(value: str | None) -> str:
    """An 18-decimal integer as a decimal string (for messages)."""
    if value is None:
        return "?"
    return format(Decimal(int(value)).scaleb(-18).normalize(), "f")
