"""What the intent and position workflows share: operator and event signals, the `state` query,
waiting for a wake-up, status bookkeeping, parking in STUCK and finishing.

Each workflow supplies its state dataclass (the `HedgeStateLike` fields below), its STUCK alert
wording (`KIND`) and what a decoded chain event means to it (`_apply_event`).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import timedelta
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import events as ev
    from domain.enums import HedgeStatus
    from interfaces.broker import OrderSnapshot
    from interfaces.ledger import AlertRow, HedgeStatusUpdate
    from interfaces.temporal import SearchAttributes
    from interfaces.workflows import ChainLog, OperatorCommand
    from workflows import calls

EVENT_KEYS_KEPT = 200  # applied event keys remembered for dedupe (carried over continue-as-new)


class LegLike(Protocol):
    client_order_id: str
    snapshot: OrderSnapshot | None

    @property
    def filled(self) -> Decimal: ...


class HedgeStateLike(Protocol):
    chain_id: int
    quote_id: int
    hedge_status: str
    chain_status: str | None
    last_error: str | None
    outcome: str | None
    events_applied: list[str]
    operator_log: list[str]

    @property
    def legs(self) -> Any: ...  # list of legs (LegLike)


S = TypeVar("S", bound=HedgeStateLike)


class HedgeWorkflow(Generic[S]):
    KIND = "hedge"  # how alerts name this workflow ("intent", "position")

    def __init__(self) -> None:
        self._state: S | None = None
        self._wake = asyncio.Event()
        self._pending_logs: list[ChainLog] = []
        self._operator: tuple[str, OperatorCommand] | None = None
        self._abandoned = False

    # ------------------------------------------------------------------ signals and queries

    @workflow.signal(name="chain_event")
    def chain_event(self, log: ChainLog) -> None:
        self._pending_logs.append(log)
        self._wake.set()

    @workflow.signal(name="broker_order_update")
    def broker_order_update(self, snapshot: OrderSnapshot) -> None:
        if self._state is None:
            return
        for leg in self._state.legs:
            if leg.client_order_id == snapshot.client_order_id and (
                leg.snapshot is None or Decimal(snapshot.filled) >= leg.filled
            ):
                leg.snapshot = snapshot
        self._wake.set()

    @workflow.signal(name="retry")
    def retry(self, command: OperatorCommand) -> None:
        self._operator = ("retry", command)
        self._wake.set()

    @workflow.signal(name="unwind")
    def unwind(self, command: OperatorCommand) -> None:
        self._operator = ("unwind", command)
        self._on_unwind()
        self._wake.set()

    @workflow.signal(name="abandon")
    def abandon(self, command: OperatorCommand) -> None:
        self._operator = ("abandon", command)
        self._abandoned = True
        self._wake.set()

    @workflow.query(name="state")
    def state(self) -> dict[str, Any]:
        return asdict(self._state) if self._state else {}  # type: ignore[call-overload]

    # ------------------------------------------------------------------ hooks

    def _on_unwind(self) -> None:
        """What `unwind` changes beyond waking the loop (nothing by default)."""

    def _apply_event(self, event: ev.SymmioEvent, log: ChainLog) -> None:
        """What a newly seen chain event means to this workflow (the facts are re-read anyway)."""

    # ------------------------------------------------------------------ plumbing

    def _drain_logs(self) -> None:
        """Decode each pending log once per (block, tx, log index) and hand it to `_apply_event`."""
        s = self._state
        assert s is not None
        for log in self._pending_logs:
            key = f"{log.block_number}:{log.tx_hash}:{log.log_index}"
            if key in s.events_applied:
                continue
            s.events_applied.append(key)
            try:
                decoded = ev.decode_log(log.as_log())
            except ev.UndecodableLog as exc:
                s.last_error = f"undecodable event ignored: {exc}"
                continue
            self._apply_event(decoded, log)
        self._pending_logs.clear()
        if len(s.events_applied) > EVENT_KEYS_KEPT:
            del s.events_applied[:-EVENT_KEYS_KEPT]

    async def _wait(self, seconds: float, *, clear_first: bool = False) -> None:
        """Sleep up to `seconds`, waking early on a signal (one that arrived before counts
        unless `clear_first`)."""
        if clear_first:
            self._wake.clear()
        try:
            await workflow.wait_condition(
                lambda: self._wake.is_set(), timeout=timedelta(seconds=seconds)
            )
        except TimeoutError:
            pass
        self._wake.clear()

    async def _set_status(self, status: HedgeStatus) -> None:
        s = self._state
        assert s is not None
        if s.hedge_status == status.value:
            return
        s.hedge_status = status.value
        workflow.upsert_search_attributes([SearchAttributes.HEDGE_STATUS.value_set(status.value)])
        await calls.set_hedge_status(
            HedgeStatusUpdate(s.chain_id, s.quote_id, status.value, s.chain_status, s.last_error)
        )

    async def _park_stuck(self, reason: str) -> str:
        """STUCK: alert, then wait for an operator's `retry` / `unwind` / `abandon`; returns it."""
        s = self._state
        assert s is not None
        s.last_error = reason
        await self._set_status(HedgeStatus.STUCK)
        await calls.raise_alert(
            AlertRow("hedge_stuck", "critical", f"{self.KIND} {s.quote_id} is STUCK: {reason}",
                     {"workflow_id": workflow.info().workflow_id, "quote_id": s.quote_id})
        )  # fmt: skip
        self._operator = None
        await workflow.wait_condition(lambda: self._operator is not None)
        assert self._operator is not None
        command, payload = self._operator
        s.operator_log.append(f"{command} by {payload.operator}: {payload.reason}")
        self._operator = None
        return command

    async def _finish(self, status: HedgeStatus, outcome: str) -> str:
        s = self._state
        assert s is not None
        s.outcome = outcome
        await self._set_status(status)
        return outcome
