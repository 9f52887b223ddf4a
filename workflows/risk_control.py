"""`RiskControlWorkflow` (`risk-control-<chainId>`): the kill switch and the exposure book.

Long-running, one per chain; every hedge workflow reads the trading state from it (through the
`ops_trading_state` activity) and every intent reserves its notional in it before locking
(`ops_reserve_exposure`), so both are consistent and atomic without Postgres: an update runs to
completion before the next one starts. Each trading-state change is also written to the ledger
(in the background, as history). It continues-as-new, carrying the book and the state, before
its history grows large.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.converter import value_to_type
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.enums import TradingState
    from domain.risk_book import Reservation, open_interest, reserve, resize
    from interfaces.risk import (
        QUERY_BOOK,
        QUERY_TRADING_STATE,
        RISK_CONTROL_WORKFLOW,
        UPDATE_RESERVE,
        UPDATE_RESIZE,
        UPDATE_SET_TRADING_STATE,
        BookView,
        ExposureGrant,
        ExposureRequest,
        ExposureResize,
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


@dataclass
class RiskControlState:
    trading: TradingStateView = DEFAULT_STATE
    changes: list[TradingStateView] = field(default_factory=list)  # newest last
    book: dict[str, list[str]] = field(default_factory=dict)  # quote id -> [symbol, notional]


@workflow.defn(name=RISK_CONTROL_WORKFLOW)
class RiskControlWorkflow:
    def __init__(self) -> None:
        self._state = RiskControlState()
        self._chain_id = 0
        self._writes: list[Any] = []

    @workflow.run
    async def run(self, params: RiskControlInput) -> None:
        self._chain_id = params.chain_id
        if params.resume is not None:
            self._state = value_to_type(RiskControlState, params.resume, [])
        elif params.seed is not None:
            self._state.trading = params.seed
        await workflow.wait_condition(
            lambda: workflow.info().get_current_history_length() > HISTORY_LIMIT
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        pending = [w for w in self._writes if not w.done()]
        for write in pending:
            await write
        workflow.continue_as_new(RiskControlInput(params.chain_id, resume=asdict(self._state)))

    # ------------------------------------------------------------------ the book

    def _book(self) -> dict[int, Reservation]:
        return {int(q): Reservation(sym, Decimal(n)) for q, (sym, n) in self._state.book.items()}

    def _store(self, book: dict[int, Reservation]) -> None:
        self._state.book = {str(q): [r.symbol, str(r.notional)] for q, r in book.items()}

    @workflow.update(name=UPDATE_RESERVE)
    def reserve(self, request: ExposureRequest) -> ExposureGrant:
        trading = self._state.trading.state
        if trading != TradingState.ACTIVE.value:
            return ExposureGrant(False, "0", "0", trading, f"trading state is {trading}")
        book = self._book()
        outcome = reserve(
            book, request.quote_id, request.symbol, Decimal(request.notional),
            max_open_interest=Decimal(request.max_open_interest),
            max_notional_per_symbol=Decimal(request.max_notional_per_symbol),
        )  # fmt: skip
        self._store(book)
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
        self._store(book)

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
        allowed = ", ".join(s.value for s in TradingState)
        if change.state.strip().upper() not in {s.value for s in TradingState}:
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
        return self._state.trading

    @workflow.query(name="changes")
    def changes(self) -> list[TradingStateView]:
        return list(self._state.changes)
