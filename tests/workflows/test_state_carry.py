"""What a workflow carries over continue-as-new comes back whole (nested legs and snapshots)."""

from __future__ import annotations

import json
from dataclasses import asdict

from temporalio.converter import value_to_type

from interfaces.broker import OrderSnapshot
from workflows.broker_legs import BrokerLeg
from workflows.intent import IntentState
from workflows.position import PositionState


def _through_json(value: object) -> object:
    return json.loads(json.dumps(value))


def test_intent_state_survives_continue_as_new() -> None:
    leg = BrokerLeg("h7o1", "open", "BTC/USDT:USDT", "buy", "0.01",
                    OrderSnapshot("h7o1", "42", "BTC/USDT:USDT", "closed", filled="0.01", average_price="60000"))  # fmt: skip
    state = IntentState(
        31337, 7, hedge_status="HEDGING", legs=[leg], events_applied=["1:0xab:0"], want_open=False
    )
    back = value_to_type(IntentState, _through_json(asdict(state)), [])
    assert back == state
    assert back.legs[0].filled == leg.filled


def test_position_state_survives_continue_as_new() -> None:
    state = PositionState(
        31337,
        9,
        broker_quantity="0.02",
        close_id=3,
        reported={"3": "0.01"},
        leg_close_ids={"h9c3n1": 3},
    )
    assert value_to_type(PositionState, _through_json(asdict(state)), []) == state
