from __future__ import annotations

import json

import pytest

from domain.enums import TradingState
from domain.errors import (
    ERROR_CODES,
    SolverErrorCode,
    error_code_response,
    error_codes_response,
    message_for,
)
from domain.trading_state import (
    allows_closes,
    allows_new_opens,
    allows_unwinds,
    keeps_resting_opening_orders,
    permissions,
)


def test_published_codes_are_stable() -> None:
    # These numbers are what front-ends know; they must never change.
    assert int(SolverErrorCode.PARTY_B_SOLVENCY_OR_MAX_OPEN_INTEREST) == 4001
    assert int(SolverErrorCode.PARTY_A_SOLVENCY_QUOTE_LEFT) == 4002
    assert int(SolverErrorCode.PARTY_B_SOLVENCY_QUOTE_LEFT) == 4003
    assert int(SolverErrorCode.OVER_MAX_CAPACITY) == 4012
    assert int(SolverErrorCode.MARKET_MOVEMENT) == 4104
    assert int(SolverErrorCode.LOCKED_VALUES_OUT_OF_BOUNDS) == 4105


def test_every_code_has_a_message_and_response_is_json() -> None:
    assert set(ERROR_CODES) == {int(c) for c in SolverErrorCode}
    body = error_codes_response()
    assert json.loads(json.dumps(body)) == body
    assert all(k.isdigit() and v for k, v in body.items())
    assert list(body) == sorted(body, key=int)
    assert message_for(4104) == body["4104"]
    assert error_code_response(4012) == {"4012": ERROR_CODES[4012]}
    assert error_code_response(9999) is None
    with pytest.raises(KeyError):
        message_for(1)


def test_trading_state_matrix() -> None:
    assert allows_new_opens(TradingState.ACTIVE)
    assert not allows_new_opens(TradingState.REDUCE_ONLY)
    assert not allows_new_opens(TradingState.HALTED)
    for state in TradingState:
        # risk-reducing actions are always allowed
        assert allows_closes(state) and allows_unwinds(state)
        p = permissions(state)
        assert p.report_existing_fills and p.cancels_and_unlocks
        assert p.place_opening_orders == p.lock_new_quotes
    assert keeps_resting_opening_orders(TradingState.REDUCE_ONLY)
    assert not keeps_resting_opening_orders(TradingState.HALTED)
    assert permissions("HALTED") == permissions(TradingState.HALTED)  # type: ignore[arg-type]


def test_protocol_flags_make_the_effective_state() -> None:
    from domain.trading_state import ProtocolFlags, effective_state

    active, halted = TradingState.ACTIVE, TradingState.HALTED
    assert effective_state(active, ProtocolFlags()) == (active, None)
    paused = ProtocolFlags(party_b_actions_paused=True)
    assert effective_state(halted, paused) == (
        TradingState.PROTOCOL_PAUSED,
        "protocol paused: partyB actions",
    )
    assert (
        effective_state(active, ProtocolFlags(global_paused=True))[1] == "protocol paused: global"
    )
    emergency = ProtocolFlags(party_b_emergency=True)
    assert effective_state(active, emergency)[0] == TradingState.REDUCE_ONLY
    assert effective_state(halted, emergency) == (halted, None)  # the operator's is stricter


def test_during_a_pause_nothing_is_sent() -> None:
    from decimal import Decimal

    from domain.hedge_actions import (
        AcceptCancel,
        CancelBrokerOrder,
        Done,
        FillCloseOnChain,
        Idle,
        Lock,
        OpenOnChain,
        Outcome,
        PlaceBrokerClose,
        PlaceBrokerOrder,
        ReduceBroker,
        UnwindBroker,
        WaitForFills,
        WaitForProtocol,
    )
    from domain.trading_state import hold_during_pause

    one = Decimal(1)
    for held in (Lock(), PlaceBrokerOrder(one), OpenOnChain(one), AcceptCancel(),
                 PlaceBrokerClose(one), FillCloseOnChain(one)):  # fmt: skip
        assert hold_during_pause(held) == WaitForProtocol()
    assert hold_during_pause(WaitForFills()) == CancelBrokerOrder()
    for runs in (CancelBrokerOrder(), UnwindBroker(one), ReduceBroker(one), Idle(),
                 Done(Outcome.FLAT)):  # fmt: skip
        assert hold_during_pause(runs) == runs
