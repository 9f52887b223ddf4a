"""A step failing close to a protocol deadline raises a critical alert at once.

The hedge workflows alert a failing step after ALERT_AFTER_SECONDS (120 s) of retries. With
the quote's deadline (a locked intent: after it anyone may expire the quote, and the broker
hedge must be unwound) or a close request's deadline (after it PartyA may force-close) closer
than that, the operator heard of it only after the deadline. The workflows' fault handling
(`HedgeWorkflow._ride_out`) is driven directly here, on the workflows' own state, with the
workflow clock and the chain clock apart (anvil's runs ahead of the wall).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
from temporalio import workflow

from interfaces.ledger import AlertRow
from workflows.calls import StepFailed
from workflows.hedge_base import (
    ALERT_AFTER_SECONDS,
    DEADLINE_ALERT_PATCH,
    DEADLINE_ALERT_SECONDS,
    HedgeWorkflow,
)
from workflows.intent import IntentState, IntentWorkflow
from workflows.position import PositionState, PositionWorkflow

WALL = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CHAIN_AHEAD = 3_600  # the chain's clock an hour ahead of the workflow's


class Clock:
    def __init__(self) -> None:
        self.now = WALL

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _drive(
    monkeypatch: pytest.MonkeyPatch, wf: HedgeWorkflow[Any], *, patched: bool = True
) -> tuple[Clock, list[AlertRow], list[str]]:
    clock = Clock()
    asked: list[str] = []

    def fake_patched(patch_id: str) -> bool:
        asked.append(patch_id)
        return patched

    async def no_wait(*_: Any, **__: Any) -> None:
        return None

    monkeypatch.setattr(workflow, "now", lambda: clock.now)
    monkeypatch.setattr(workflow, "patched", fake_patched)
    monkeypatch.setattr(workflow, "info", lambda: SimpleNamespace(workflow_id="wf-1"))
    rows: list[AlertRow] = []
    wf._write = lambda row: rows.append(row)  # type: ignore[method-assign,assignment,return-value]
    wf._show = lambda doing: None  # type: ignore[method-assign]
    wf._wait = no_wait  # type: ignore[method-assign,assignment]
    return clock, rows, asked


W = TypeVar("W", IntentWorkflow, PositionWorkflow)


def _workflow(kind: type[W], status: str, deadline_in: float) -> W:
    """A workflow of `kind` on its own fresh state, the chain showing the quote in `status`."""
    wf = kind()
    wf._state = (IntentState if kind is IntentWorkflow else PositionState)(31337, 7)
    wf._state.quote = {
        "status": status,
        "deadline": int(WALL.timestamp()) + CHAIN_AHEAD + int(deadline_in),
    }
    return wf


def _intent(status: str, deadline_in: float) -> IntentWorkflow:
    return _workflow(IntentWorkflow, status, deadline_in)


def _position(status: str, deadline_in: float) -> PositionWorkflow:
    return _workflow(PositionWorkflow, status, deadline_in)


def _saw_chain(wf: HedgeWorkflow[Any]) -> None:
    wf._saw_chain_time(int(WALL.timestamp()) + CHAIN_AHEAD)


async def _fail(wf: HedgeWorkflow[Any]) -> None:
    await wf._ride_out(StepFailed("chain_open_position", "RpcUnavailable: connection refused"))


def _kinds(rows: list[AlertRow]) -> list[tuple[str, str]]:
    return [(r.kind, r.severity) for r in rows]


async def _one_failure(
    monkeypatch: pytest.MonkeyPatch, wf: HedgeWorkflow[Any], *, patched: bool = True,
    chain_seen: bool = True,
) -> tuple[list[AlertRow], list[str]]:  # fmt: skip
    """The alerts of one failure right after the chain was read, and the patches asked."""
    _, rows, asked = _drive(monkeypatch, wf, patched=patched)
    if chain_seen:
        _saw_chain(wf)
    await _fail(wf)
    return rows, asked


async def test_a_locked_intent_failing_60_s_before_its_deadline_alerts_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wf = _intent("LOCKED", deadline_in=60)
    clock, rows, asked = _drive(monkeypatch, wf)
    _saw_chain(wf)
    clock.advance(5)  # the chain was read 5 s before the failure
    await _fail(wf)
    assert _kinds(rows) == [("hedge_failing_near_deadline", "critical")]
    assert "deadline in 55 s" in rows[0].message and "connection refused" in rows[0].message
    assert asked == [DEADLINE_ALERT_PATCH]
    for _ in range(5):  # once per failure episode, and not the generic alert after it
        clock.advance(40)
        await _fail(wf)
    assert len(rows) == 1


async def test_a_new_failure_episode_alerts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    wf = _intent("LOCKED", deadline_in=30)
    clock, rows, _ = _drive(monkeypatch, wf)
    _saw_chain(wf)
    await _fail(wf)
    wf._recovered()
    clock.advance(1)
    await _fail(wf)
    assert [r.dedupe_key for r in rows] == ["wf-1:deadline:1", "wf-1:deadline:2"]


async def test_a_deadline_far_off_waits_for_the_usual_failing_alert(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wf = _intent("LOCKED", deadline_in=600)
    clock, rows, asked = _drive(monkeypatch, wf)
    _saw_chain(wf)
    await _fail(wf)
    assert rows == [] and asked == []  # no marker in the history of a run that never alerts
    clock.advance(ALERT_AFTER_SECONDS)
    await _fail(wf)
    assert _kinds(rows) == [("hedge_failing", "warning")]
    # the clock ran on: the deadline is now close, and that is worth the critical alert
    clock.advance(600 - ALERT_AFTER_SECONDS - DEADLINE_ALERT_SECONDS + 1)
    await _fail(wf)
    assert _kinds(rows)[-1] == ("hedge_failing_near_deadline", "critical")


async def test_a_deadline_already_past_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    rows, _ = await _one_failure(monkeypatch, _intent("CANCEL_PENDING", deadline_in=-10))
    assert "deadline passed 10 s ago" in rows[0].message


async def test_a_pending_intent_has_no_deadline_at_stake(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not locked by us yet: missing its deadline loses a trade, it leaves nothing unhedged."""
    rows, _ = await _one_failure(monkeypatch, _intent("PENDING", deadline_in=10))
    assert rows == []


async def test_a_position_failing_on_a_close_request_near_its_deadline_alerts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows, _ = await _one_failure(monkeypatch, _position("CLOSE_PENDING", deadline_in=45))
    assert _kinds(rows) == [("hedge_failing_near_deadline", "critical")]
    assert "close request" in rows[0].message


async def test_an_open_position_without_a_close_request_has_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the open deadline, long irrelevant
    rows, _ = await _one_failure(monkeypatch, _position("OPENED", deadline_in=5))
    assert rows == []


async def test_runs_started_before_the_patch_keep_their_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows, asked = await _one_failure(monkeypatch, _intent("LOCKED", deadline_in=30), patched=False)
    assert rows == [] and asked == [DEADLINE_ALERT_PATCH]


async def test_no_chain_time_seen_yet_means_no_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    rows, _ = await _one_failure(monkeypatch, _intent("LOCKED", deadline_in=30), chain_seen=False)
    assert rows == []
