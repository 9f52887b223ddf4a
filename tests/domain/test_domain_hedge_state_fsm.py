"""Exhaustive checks of the explicit open/position state machines."""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from typing import Any

import pytest

from domain.enums import HedgeStatus
from domain.hedge_state import (
    OPEN_TERMINAL_STATES,
    OPEN_TRANSITIONS,
    POSITION_TRANSITIONS,
    InvalidTransition,
    OpenEvent,
    OpenHedge,
    OpenState,
    PositionEvent,
    PositionHedge,
    PositionState,
)

OE, OS = OpenEvent, OpenState
PE, PS = PositionEvent, PositionState


def _reachable(transitions: dict[tuple[Any, Any], Any], start: Any) -> set[Any]:
    seen = {start}
    todo = deque([start])
    while todo:
        s = todo.popleft()
        for (src, _), dst in transitions.items():
            if src == s and dst not in seen:
                seen.add(dst)
                todo.append(dst)
    return seen


@pytest.mark.parametrize("state", list(OpenState))
@pytest.mark.parametrize("event", list(OpenEvent))
def test_open_every_pair_transitions_or_raises(state: OpenState, event: OpenEvent) -> None:
    m = OpenHedge(state, OS.LOCKED if state is OS.STUCK else None)
    if m.can_apply(event):
        nxt = m.apply(event)
        assert isinstance(nxt.state, OpenState)
        assert isinstance(nxt.hedge_status, HedgeStatus)
        if nxt.state is OS.STUCK:
            assert nxt.resume is not None and nxt.resume is not OS.STUCK
    else:
        with pytest.raises(InvalidTransition) as exc:
            m.apply(event)
        assert exc.value.state is state and exc.value.event is event
        assert state.value in str(exc.value) and event.value in str(exc.value)


@pytest.mark.parametrize("state", list(PositionState))
@pytest.mark.parametrize("event", list(PositionEvent))
def test_position_every_pair_transitions_or_raises(
    state: PositionState, event: PositionEvent
) -> None:
    m = PositionHedge(state, PS.CLOSING if state is PS.STUCK else None)
    if m.can_apply(event):
        nxt = m.apply(event)
        assert isinstance(nxt.state, PositionState)
        if nxt.state is PS.STUCK:
            assert nxt.resume is not None and nxt.resume is not PS.STUCK
    else:
        with pytest.raises(InvalidTransition):
            m.apply(event)


def test_terminal_states_accept_nothing() -> None:
    for s in OPEN_TERMINAL_STATES:
        assert s.is_terminal
        assert not any(OpenHedge(s).can_apply(e) for e in OpenEvent)
    for ps in (PS.CLOSED, PS.FAILED):
        assert ps.is_terminal
        assert not any(PositionHedge(ps).can_apply(e) for e in PositionEvent)


@pytest.mark.parametrize(
    ("transitions", "start", "states", "terminals"),
    [
        (OPEN_TRANSITIONS, OS.RECEIVED, OpenState, OPEN_TERMINAL_STATES),
        (POSITION_TRANSITIONS, PS.OPEN, PositionState, {PS.CLOSED, PS.FAILED}),
    ],
)
def test_graph_is_sound(
    transitions: dict[tuple[Any, Any], Any],
    start: StrEnum,
    states: type[StrEnum],
    terminals: set[Any],
) -> None:
    # every state is reachable and every non-terminal state can still end
    assert _reachable(transitions, start) == set(states)
    for s in states:
        if s not in terminals:
            assert _reachable(transitions, s) & terminals, f"{s} cannot terminate"
    # no transition leaves a terminal state
    assert not any(src in terminals for (src, _) in transitions)


def test_every_state_has_a_hedge_status() -> None:
    assert {s.hedge_status for s in OpenState} <= set(HedgeStatus)
    assert OS.OPEN.hedge_status is HedgeStatus.OPEN
    assert OS.STUCK.hedge_status is HedgeStatus.STUCK
    assert PS.CLOSING.hedge_status is HedgeStatus.CLOSING
    assert PS.CLOSED.hedge_status is HedgeStatus.CLOSED


def _run(m: Any, *events: Any) -> Any:
    for e in events:
        m = m.apply(e)
    return m


def test_open_happy_path() -> None:
    m = _run(
        OpenHedge(),
        OE.POLICY_ACCEPTED,
        OE.LOCK_CONFIRMED,
        OE.BROKER_ORDER_PLACED,
        OE.BROKER_ORDER_DONE,
        OE.OPEN_SENT,
        OE.OPEN_CONFIRMED,
    )
    assert m.state is OS.OPEN and m.hedge_status is HedgeStatus.OPEN


def test_open_compensation_paths() -> None:
    # cancel request while hedging → cancel order → nothing filled → accept cancel
    m = _run(
        OpenHedge(),
        OE.POLICY_ACCEPTED,
        OE.LOCK_CONFIRMED,
        OE.BROKER_ORDER_PLACED,
        OE.CANCEL_REQUESTED,
    )
    assert m.state is OS.CANCELLING and m.hedge_status is HedgeStatus.UNWINDING
    m = _run(m, OE.BROKER_ORDER_DONE, OE.UNLOCK_SENT, OE.CHAIN_CANCELED)
    assert m.state is OS.CANCELLED
    # fills but the open reverted → unwind → unlock → expired
    m = _run(
        OpenHedge(),
        OE.POLICY_ACCEPTED,
        OE.LOCK_CONFIRMED,
        OE.BROKER_ORDER_PLACED,
        OE.BROKER_ORDER_DONE,
        OE.OPEN_SENT,
        OE.OPEN_FAILED,
        OE.UNWIND_DONE,
        OE.CHAIN_EXPIRED,
    )
    assert m.state is OS.EXPIRED
    # another hedger won the lock race
    assert _run(OpenHedge(), OE.POLICY_ACCEPTED, OE.LOCK_LOST).state is OS.LOST
    # rejected by policy
    assert OpenHedge().apply(OE.POLICY_REJECTED).state is OS.REJECTED


def test_stuck_and_operator_actions() -> None:
    m = _run(OpenHedge(), OE.POLICY_ACCEPTED, OE.LOCK_CONFIRMED, OE.BROKER_ORDER_PLACED)
    stuck = m.apply(OE.RETRIES_EXHAUSTED)
    assert stuck.state is OS.STUCK and stuck.resume is OS.HEDGING
    assert stuck.apply(OE.RETRIES_EXHAUSTED).resume is OS.HEDGING  # keeps the origin
    assert stuck.apply(OE.OPERATOR_RETRY) == OpenHedge(OS.HEDGING)
    assert stuck.apply(OE.OPERATOR_UNWIND).state is OS.UNWINDING
    assert stuck.apply(OE.OPERATOR_ABANDON).state is OS.FAILED
    with pytest.raises(InvalidTransition):
        OpenHedge(OS.HEDGING).apply(OE.OPERATOR_RETRY)

    p = _run(PositionHedge(), PE.CLOSE_REQUESTED, PE.RETRIES_EXHAUSTED)
    assert p.state is PS.STUCK and p.resume is PS.CLOSING
    assert p.apply(PE.OPERATOR_RETRY) == PositionHedge(PS.CLOSING)
    assert p.apply(PE.FORCE_CLOSED).state is PS.STUCK


def test_position_paths() -> None:
    # partial LIMIT close, then the rest, position closed
    m = _run(
        PositionHedge(),
        PE.CLOSE_REQUESTED,
        PE.BROKER_ORDER_PLACED,
        PE.CLOSE_FILL_SENT,
        PE.CLOSE_FILLED_PARTIAL,
        PE.BROKER_ORDER_DONE,
        PE.CLOSE_FILLED_POSITION,
    )
    assert m.state is PS.CLOSED
    # cancel-close accepted
    m = _run(
        PositionHedge(),
        PE.CLOSE_REQUESTED,
        PE.BROKER_ORDER_PLACED,
        PE.CANCEL_CLOSE_REQUESTED,
        PE.BROKER_ORDER_DONE,
        PE.CANCEL_CLOSE_ACCEPTED,
    )
    assert m.state is PS.OPEN
    # force actions / liquidation always lead to a rebalance
    for e in (PE.FORCE_CLOSED, PE.CLOSE_EXPIRED, PE.FORCE_CANCEL_CLOSE, PE.LIQUIDATED):
        m = _run(PositionHedge(), PE.CLOSE_REQUESTED, e)
        assert m.state is PS.REBALANCING
        assert m.apply(PE.REBALANCED_FLAT).state is PS.CLOSED
    assert _run(PositionHedge(), PE.EMERGENCY_CLOSED, PE.REBALANCED_FLAT).state is PS.CLOSED
    assert _run(PositionHedge(), PE.MISMATCH_FOUND, PE.REBALANCED_OPEN).state is PS.OPEN
