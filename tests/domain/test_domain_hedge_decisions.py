"""The "what next" decisions: a branch table plus randomized end-to-end simulations that check
every run ends hedged-and-open or flat (DESIGN §4 step 6, §5)."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest

from domain.enums import OrderType, QuoteStatus, TradingState
from domain.hedge_actions import (
    AcceptCancel,
    AcceptCancelClose,
    CancelBrokerOrder,
    Done,
    FillCloseOnChain,
    Idle,
    IncreaseBroker,
    Lock,
    OpenOnChain,
    Outcome,
    PlaceBrokerClose,
    PlaceBrokerOrder,
    ReduceBroker,
    Unlock,
    UnwindBroker,
    WaitForFills,
    is_hedged,
)
from domain.open_path import OpenSituation, next_open_action
from domain.position_path import PositionSituation, next_position_action

D = Decimal
QS = QuoteStatus
MKT, LMT = OrderType.MARKET, OrderType.LIMIT


def test_is_hedged() -> None:
    assert is_hedged(D(1), D(1))
    assert not is_hedged(D(1), D("0.999"))
    assert is_hedged(D(1), D("0.999"), tolerance=D("0.001"))
    assert is_hedged(D(0), D(0))


def osit(**over: Any) -> OpenSituation:
    base = OpenSituation(chain_status=QS.LOCKED, ours=True, order_type=MKT, quantity=D(1))
    return replace(base, **over)


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        # --- before the lock
        ({"chain_status": QS.PENDING, "ours": False}, Lock()),
        ({"chain_status": QS.PENDING, "ours": False, "want_open": False}, Done(Outcome.FLAT)),
        (
            {"chain_status": QS.PENDING, "ours": False, "trading_state": TradingState.HALTED},
            Done(Outcome.FLAT),
        ),
        ({"chain_status": QS.PENDING, "ours": False, "deadline_passed": True}, Done(Outcome.FLAT)),
        ({"chain_status": QS.LOCKED, "ours": False}, Done(Outcome.FLAT)),  # lost the race
        ({"chain_status": QS.CANCELED, "ours": False}, Done(Outcome.FLAT)),
        # --- locked by us, nothing done on the broker yet
        ({}, PlaceBrokerOrder(D(1))),
        ({"trading_state": TradingState.REDUCE_ONLY}, Unlock()),
        ({"trading_state": TradingState.HALTED}, Unlock()),
        ({"deadline_near": True}, Unlock()),
        ({"deadline_passed": True}, Unlock()),
        ({"broker_rejected": True}, Unlock()),
        ({"want_open": False}, Unlock()),
        # --- cancel requested while LOCKED (CANCEL_PENDING)
        ({"chain_status": QS.CANCEL_PENDING}, AcceptCancel()),
        ({"chain_status": QS.CANCEL_PENDING, "broker_order_open": True}, CancelBrokerOrder()),
        (
            {"chain_status": QS.CANCEL_PENDING, "order_type": LMT, "broker_filled": D("0.3")},
            OpenOnChain(D("0.3")),
        ),
        (
            {"chain_status": QS.CANCEL_PENDING, "broker_filled": D("0.3")},  # MARKET partial
            UnwindBroker(D("0.3")),
        ),
        ({"chain_status": QS.CANCEL_PENDING, "broker_filled": D(1)}, OpenOnChain(D(1))),
        # --- order working
        ({"broker_order_open": True}, WaitForFills()),
        ({"broker_order_open": True, "trading_state": TradingState.REDUCE_ONLY}, WaitForFills()),
        ({"broker_order_open": True, "trading_state": TradingState.HALTED}, CancelBrokerOrder()),
        ({"broker_order_open": True, "deadline_near": True}, CancelBrokerOrder()),
        ({"broker_order_open": True, "deadline_passed": True}, CancelBrokerOrder()),
        ({"broker_order_open": True, "want_open": False}, CancelBrokerOrder()),
        # --- fills, order done
        ({"broker_filled": D(1)}, OpenOnChain(D(1))),
        ({"broker_filled": D("1.2")}, OpenOnChain(D(1))),  # excess unwound after the open
        ({"broker_filled": D("0.4")}, PlaceBrokerOrder(D("0.6"))),  # MARKET top-up
        ({"broker_filled": D("0.4"), "broker_rejected": True}, UnwindBroker(D("0.4"))),
        ({"broker_filled": D("0.4"), "deadline_near": True}, UnwindBroker(D("0.4"))),
        ({"order_type": LMT, "broker_filled": D("0.4")}, OpenOnChain(D("0.4"))),
        (
            {"order_type": LMT, "broker_filled": D("0.4"), "trading_state": TradingState.HALTED},
            OpenOnChain(D("0.4")),  # reporting an existing fill reduces risk
        ),
        ({"broker_filled": D(1), "deadline_passed": True}, UnwindBroker(D(1))),
        ({"broker_filled": D(1), "open_failed": True}, UnwindBroker(D(1))),
        (
            {
                "order_type": LMT,
                "broker_filled": D("0.05"),
                "total_for_party_a": D(100),
                "min_acceptable_quote_value": D(10),
            },
            UnwindBroker(D("0.05")),  # filled part below minAcceptableQuoteValue
        ),
        # --- the chain moved on while we held fills
        ({"chain_status": QS.EXPIRED, "broker_filled": D(1)}, UnwindBroker(D(1))),
        ({"chain_status": QS.CANCELED, "broker_order_open": True}, CancelBrokerOrder()),
        ({"chain_status": QS.LIQUIDATED_PENDING, "broker_filled": D(1)}, UnwindBroker(D(1))),
        ({"chain_status": QS.PENDING, "ours": False, "broker_filled": D(1)}, UnwindBroker(D(1))),
        # --- opened on chain
        (
            {"chain_status": QS.OPENED, "chain_open_quantity": D(1), "broker_filled": D(1)},
            Done(Outcome.HEDGED_OPEN),
        ),
        # a difference is handed over: the position workflow alone trades from here
        (
            {"chain_status": QS.OPENED, "chain_open_quantity": D(1), "broker_filled": D("1.2")},
            Done(Outcome.HEDGED_OPEN),
        ),
        (
            {"chain_status": QS.OPENED, "chain_open_quantity": D(1), "broker_filled": D("0.9")},
            Done(Outcome.HEDGED_OPEN),
        ),
        (
            {"chain_status": QS.CLOSED, "chain_open_quantity": D(0), "broker_filled": D(1)},
            Done(Outcome.HEDGED_OPEN),  # closed before the hand-over: not unwound twice
        ),
        (
            {
                "chain_status": QS.OPENED,
                "chain_open_quantity": D("0.4"),
                "broker_filled": D("0.4"),
                "broker_order_open": True,
            },
            CancelBrokerOrder(),
        ),
        (
            {"chain_status": QS.CLOSE_PENDING, "chain_open_quantity": D(1), "broker_filled": D(1)},
            Done(Outcome.HEDGED_OPEN),
        ),
    ],
)
def test_open_branches(over: dict[str, Any], expected: object) -> None:
    assert next_open_action(osit(**over)) == expected


def psit(**over: Any) -> PositionSituation:
    base = PositionSituation(chain_status=QS.OPENED, chain_open_quantity=D(1), broker_quantity=D(1))
    return replace(base, **over)


CLOSE = {"chain_status": QS.CLOSE_PENDING, "quantity_to_close": D("0.4")}
CCLOSE = {"chain_status": QS.CANCEL_CLOSE_PENDING, "quantity_to_close": D("0.4")}


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({}, Idle()),
        ({"broker_quantity": D("1.1")}, ReduceBroker(D("0.1"))),
        ({"broker_quantity": D("0.9")}, IncreaseBroker(D("0.1"))),
        ({"close_order_open": True}, CancelBrokerOrder()),
        # close request
        ({**CLOSE}, PlaceBrokerClose(D("0.4"))),
        ({**CLOSE, "close_order_open": True}, WaitForFills()),
        (
            {
                **CLOSE,
                "close_order_open": True,
                "broker_quantity": D("0.8"),
                "unreported_close_fill": D("0.2"),
            },
            WaitForFills(),
        ),  # MARKET: wait for all
        (
            {
                **CLOSE,
                "close_order_type": LMT,
                "close_order_open": True,
                "broker_quantity": D("0.8"),
                "unreported_close_fill": D("0.2"),
            },
            FillCloseOnChain(D("0.2")),
        ),  # LIMIT partials reported as they come
        (
            {**CLOSE, "broker_quantity": D("0.6"), "unreported_close_fill": D("0.4")},
            FillCloseOnChain(D("0.4")),
        ),
        (
            {**CLOSE, "broker_quantity": D("0.8"), "unreported_close_fill": D("0.2")},
            PlaceBrokerClose(D("0.2")),
        ),  # MARKET under-fill: top up
        (
            {
                **CLOSE,
                "broker_quantity": D("0.8"),
                "unreported_close_fill": D("0.2"),
                "broker_rejected": True,
            },
            IncreaseBroker(D("0.2")),
        ),  # cannot report: re-hedge
        ({**CLOSE, "broker_rejected": True}, Idle()),  # request waits for cancel / expiry
        ({**CLOSE, "close_order_open": True, "deadline_near": True}, CancelBrokerOrder()),
        # cancel-close
        ({**CCLOSE}, AcceptCancelClose()),
        ({**CCLOSE, "close_order_open": True}, CancelBrokerOrder()),
        (
            {
                **CCLOSE,
                "close_order_type": LMT,
                "broker_quantity": D("0.9"),
                "unreported_close_fill": D("0.1"),
            },
            FillCloseOnChain(D("0.1")),
        ),
        (
            {**CCLOSE, "broker_quantity": D("0.9"), "unreported_close_fill": D("0.1")},
            IncreaseBroker(D("0.1")),
        ),  # MARKET partial cannot be reported
        # the request is dead: expired / fill failed
        ({**CLOSE, "deadline_passed": True, "close_order_open": True}, CancelBrokerOrder()),
        (
            {
                **CLOSE,
                "deadline_passed": True,
                "broker_quantity": D("0.7"),
                "unreported_close_fill": D("0.3"),
            },
            IncreaseBroker(D("0.3")),
        ),
        # a refused fill is tried again ...
        (
            {
                **CLOSE,
                "close_failed": True,
                "broker_quantity": D("0.6"),
                "unreported_close_fill": D("0.4"),
            },
            FillCloseOnChain(D("0.4")),
        ),
        # ... unless the trader asks to cancel the close: re-hedge, then accept the cancel
        (
            {
                **CLOSE,
                "chain_status": QS.CANCEL_CLOSE_PENDING,
                "close_failed": True,
                "broker_quantity": D("0.6"),
                "unreported_close_fill": D("0.4"),
            },
            IncreaseBroker(D("0.4")),
        ),
        (
            {**CLOSE, "chain_status": QS.CANCEL_CLOSE_PENDING, "close_failed": True},
            AcceptCancelClose(),
        ),
        # an operator gave the request up: the broker goes back to what the chain holds
        (
            {
                **CLOSE,
                "close_given_up": True,
                "broker_quantity": D("0.6"),
                "unreported_close_fill": D("0.4"),
            },
            IncreaseBroker(D("0.4")),
        ),
        ({**CLOSE, "close_given_up": True}, Idle()),
        # force close / emergency close / liquidation: match the chain
        ({"chain_open_quantity": D("0.5")}, ReduceBroker(D("0.5"))),
        ({"chain_status": QS.CLOSED, "chain_open_quantity": D(0)}, ReduceBroker(D(1))),
        (
            {"chain_status": QS.LIQUIDATED, "chain_open_quantity": D(0), "broker_quantity": D(0)},
            Done(Outcome.FLAT),
        ),
        (
            {
                "chain_status": QS.CLOSED,
                "chain_open_quantity": D(0),
                "broker_quantity": D(0),
                "close_order_open": True,
            },
            CancelBrokerOrder(),
        ),
    ],
)
def test_position_branches(over: dict[str, Any], expected: object) -> None:
    assert next_position_action(psit(**over)) == expected


# ====================================================================== open simulation


@dataclass
class OpenWorld:
    status: QuoteStatus = QS.PENDING
    ours: bool = False
    order_type: OrderType = MKT
    quantity: Decimal = D(1)
    filled: Decimal = D(0)
    order_open: bool = False
    order_left: Decimal = D(0)
    deadline_near: bool = False
    deadline_passed: bool = False
    trading_state: TradingState = TradingState.ACTIVE
    want_open: bool = True
    broker_rejected: bool = False
    open_failed: bool = False
    chain_open: Decimal = D(0)

    def situation(self) -> OpenSituation:
        return OpenSituation(
            chain_status=self.status,
            ours=self.ours,
            order_type=self.order_type,
            quantity=self.quantity,
            broker_filled=self.filled,
            broker_order_open=self.order_open,
            deadline_near=self.deadline_near,
            deadline_passed=self.deadline_passed,
            trading_state=self.trading_state,
            want_open=self.want_open,
            broker_rejected=self.broker_rejected,
            open_failed=self.open_failed,
            chain_open_quantity=self.chain_open,
        )


def _chunk(rng: random.Random, limit: Decimal) -> Decimal:
    return min(limit, D(rng.randrange(1, 11)) / 10)


def _exogenous(w: OpenWorld, rng: random.Random) -> None:
    r = rng.random()
    if r < 0.05 and w.status in (QS.PENDING, QS.LOCKED):  # trader cancels
        w.status = QS.CANCELED if w.status == QS.PENDING else QS.CANCEL_PENDING
    elif r < 0.10:
        if w.deadline_near:
            w.deadline_passed = True
        w.deadline_near = True
    elif r < 0.13:
        w.trading_state = rng.choice(list(TradingState))
    elif r < 0.16:
        w.broker_rejected = True
    elif r < 0.18 and w.status == QS.PENDING and not w.ours:  # another hedger locks it
        w.status = QS.LOCKED
    elif r < 0.19 and w.status in (QS.LOCKED, QS.CANCEL_PENDING) and w.ours:
        w.status = QS.LIQUIDATED_PENDING
    if w.order_open and rng.random() < 0.6:  # the broker fills part of the working order
        q = _chunk(rng, w.order_left)
        w.filled += q
        w.order_left -= q
        if w.order_left == 0 or w.order_type == MKT:  # IOC: done after one match
            w.order_open = False
        if rng.random() < 0.05:  # over-fill glitch
            w.filled += D("0.1")


def _apply_open(w: OpenWorld, a: object, rng: random.Random) -> None:
    match a:
        case Lock():
            assert w.status == QS.PENDING and not w.deadline_passed
            w.status, w.ours = QS.LOCKED, True
        case PlaceBrokerOrder(quantity=q):
            assert q > 0
            if w.status in (QS.LOCKED, QS.CANCEL_PENDING):
                assert w.trading_state == TradingState.ACTIVE
            w.order_open, w.order_left = True, q
        case WaitForFills():
            assert w.order_open
        case CancelBrokerOrder():
            assert w.order_open
            w.order_open, w.order_left = False, D(0)
        case OpenOnChain(amount=amt):
            assert 0 < amt <= w.quantity and amt <= w.filled
            if w.deadline_passed or rng.random() < 0.1:  # reverted
                w.open_failed = True
            else:
                w.status, w.chain_open = QS.OPENED, amt
        case UnwindBroker(quantity=q):
            assert 0 < q <= w.filled
            w.filled -= q
        case Unlock():
            assert w.ours and w.status == QS.LOCKED and w.filled == 0 and not w.order_open
            w.status = QS.EXPIRED if w.deadline_passed else QS.PENDING
            w.ours, w.want_open = False, False
        case AcceptCancel():
            assert w.status == QS.CANCEL_PENDING and w.filled == 0 and not w.order_open
            w.status = QS.CANCELED
        case _:
            raise AssertionError(a)


@pytest.mark.parametrize("seed", range(400))
def test_open_simulation_always_ends_hedged_or_flat(seed: int) -> None:
    rng = random.Random(seed)
    w = OpenWorld(order_type=rng.choice([MKT, LMT]))
    for _ in range(300):
        action = next_open_action(w.situation())
        if isinstance(action, Done):
            assert not w.order_open
            if action.outcome is Outcome.HEDGED_OPEN:
                assert w.status == QS.OPENED and w.ours
                # the position workflow's first step makes the broker equal the chain
                fix = next_position_action(
                    PositionSituation(
                        QS.OPENED, chain_open_quantity=w.chain_open, broker_quantity=w.filled
                    )
                )
                broker = w.filled
                if isinstance(fix, ReduceBroker):
                    broker -= fix.quantity
                elif isinstance(fix, IncreaseBroker):
                    broker += fix.quantity
                assert is_hedged(w.chain_open, broker)
            else:
                assert w.filled == 0
                assert not (w.ours and w.status in (QS.LOCKED, QS.CANCEL_PENDING, QS.OPENED))
            return
        _apply_open(w, action, rng)
        _exogenous(w, rng)
    raise AssertionError(f"no end after 300 steps: {w}")


# ================================================================== position simulation


@dataclass
class PosWorld:
    status: QuoteStatus = QS.OPENED
    chain_open: Decimal = D(1)
    broker: Decimal = D(1)
    close_type: OrderType = MKT
    qtc: Decimal = D(0)
    order_open: bool = False
    order_left: Decimal = D(0)
    unreported: Decimal = D(0)
    deadline_near: bool = False
    deadline_passed: bool = False
    close_failed: bool = False
    given_up: bool = False
    broker_rejected: bool = False

    def situation(self) -> PositionSituation:
        return PositionSituation(
            chain_status=self.status,
            chain_open_quantity=self.chain_open,
            broker_quantity=self.broker,
            close_order_type=self.close_type,
            quantity_to_close=self.qtc,
            close_order_open=self.order_open,
            unreported_close_fill=self.unreported,
            deadline_near=self.deadline_near,
            deadline_passed=self.deadline_passed,
            close_failed=self.close_failed,
            close_given_up=self.given_up,
            broker_rejected=self.broker_rejected,
        )

    def new_request(self, rng: random.Random) -> None:
        self.status = QS.CLOSE_PENDING
        self.qtc = _chunk(rng, self.chain_open)
        self.close_type = rng.choice([MKT, LMT])
        self.unreported = D(0)
        self.deadline_near = self.deadline_passed = False
        self.close_failed = self.broker_rejected = self.given_up = False


def _pos_exogenous(w: PosWorld, rng: random.Random) -> None:
    """Random chain/broker events."""
    r = rng.random()
    live = w.status in (QS.CLOSE_PENDING, QS.CANCEL_CLOSE_PENDING)
    if w.status == QS.OPENED and r < 0.3:
        w.new_request(rng)
    elif live and r < 0.08:
        w.status = QS.CANCEL_CLOSE_PENDING
    elif live and r < 0.14:
        if w.deadline_near:
            w.deadline_passed = True
        w.deadline_near = True
    elif live and r < 0.17:
        w.broker_rejected = True
    elif live and r < 0.175:  # an operator unwinds the request
        w.given_up = True
    elif live and r < 0.19:  # force close of the LIMIT request at the requested price
        q = w.qtc
        w.chain_open -= q
        w.status = QS.CLOSED if w.chain_open == 0 else QS.OPENED
    elif w.status in (QS.OPENED, QS.CLOSE_PENDING) and r < 0.21:
        w.status, w.chain_open = rng.choice([QS.CLOSED, QS.LIQUIDATED]), D(0)  # emergency/liq.
    if w.deadline_passed and live and rng.random() < 0.5:  # someone calls expireQuote
        w.status = QS.OPENED
    if w.order_open and rng.random() < 0.6:
        q = _chunk(rng, w.order_left)
        w.broker -= q
        w.unreported += q
        w.order_left -= q
        if w.order_left == 0 or w.close_type == MKT:
            w.order_open = False


def _apply_pos(w: PosWorld, a: object, rng: random.Random) -> None:
    live = w.status in (QS.CLOSE_PENDING, QS.CANCEL_CLOSE_PENDING)
    match a:
        case PlaceBrokerClose(quantity=q):
            assert live and 0 < q <= w.qtc and w.status == QS.CLOSE_PENDING
            w.order_open, w.order_left = True, q
        case WaitForFills():
            assert w.order_open
        case CancelBrokerOrder():
            assert w.order_open
            w.order_open, w.order_left = False, D(0)
        case FillCloseOnChain(amount=amt):
            assert live and 0 < amt <= w.qtc and amt <= w.unreported
            if rng.random() < 0.1:
                w.close_failed = True
                return
            w.chain_open -= amt
            w.qtc -= amt
            w.unreported -= amt
            if w.chain_open == 0:
                w.status = QS.CLOSED
            elif w.qtc == 0 or w.status == QS.CANCEL_CLOSE_PENDING:
                w.status, w.qtc = QS.OPENED, D(0)
        case AcceptCancelClose():
            assert w.status == QS.CANCEL_CLOSE_PENDING and not w.order_open
            w.status, w.qtc = QS.OPENED, D(0)
        case ReduceBroker(quantity=q):
            assert 0 < q <= w.broker
            w.broker -= q
        case IncreaseBroker(quantity=q):
            assert q > 0
            w.broker += q
            w.unreported = D(0)  # those fills are given back, no longer to report
        case _:
            raise AssertionError(a)


@pytest.mark.parametrize("seed", range(400))
def test_position_simulation_keeps_broker_matching_chain(seed: int) -> None:
    rng = random.Random(seed)
    w = PosWorld()
    for _ in range(400):
        action = next_position_action(w.situation())
        if isinstance(action, Done):
            assert action.outcome is Outcome.FLAT
            assert w.broker == 0 and w.chain_open == 0 and not w.order_open
            return
        if isinstance(action, Idle):
            # idle only when hedged (fills still to report aside)
            assert not w.order_open
            assert is_hedged(w.chain_open, w.broker)
            _pos_exogenous(w, rng)
            continue
        _apply_pos(w, action, rng)
        _pos_exogenous(w, rng)
    # long-lived positions are fine; but the broker must never be left unmatched while idle


def test_open_min_value_rules_in_decisions() -> None:
    from domain.quote import LockedValues

    exact = {
        "order_type": LMT,
        "min_acceptable_quote_value": D(10),
        "locked_values": LockedValues(D(10), D(5), D(85), D(5)),
        "expected_open_price": D(100),
        "requested_open_price": D(100),
        "step_size": D("0.01"),
    }
    # remainder would be too small: open less, the excess is then unwound (rule 1)
    assert next_open_action(osit(**exact, broker_filled=D("0.95"))) == OpenOnChain(D("0.9"))
    # CANCEL_PENDING: the remainder is cancelled, so it needs no minimum
    assert next_open_action(
        osit(**exact, broker_filled=D("0.95"), chain_status=QS.CANCEL_PENDING)
    ) == OpenOnChain(D("0.95"))
    # MARKET full fill that the contract would refuse: unwind, never a negative top-up
    bad = {**exact, "order_type": MKT, "min_acceptable_quote_value": D(101)}
    assert next_open_action(osit(**bad, broker_filled=D(1))) == UnwindBroker(D(1))


def test_position_remaining_value_guard_in_decisions() -> None:
    from domain.quote import LockedValues

    guard = {
        "locked_values": LockedValues(D(10), D(5), D(85), D(5)),
        "min_acceptable_quote_value": D(10),
        "step_size": D("0.01"),
        "chain_status": QS.CLOSE_PENDING,
        "quantity_to_close": D(1),
        "close_order_type": LMT,
    }
    # working LIMIT order, 0.95 of 1 filled: report only 0.9 so 0.1 (value 10) stays open
    s = psit(
        **guard, close_order_open=True, broker_quantity=D("0.05"), unreported_close_fill=D("0.95")
    )
    assert next_position_action(s) == FillCloseOnChain(D("0.9"))
    # MARKET fill the contract would refuse: never a zero top-up, re-hedge instead
    bad = {
        **guard,
        "close_order_type": MKT,
        "min_acceptable_quote_value": D(1000),
        "quantity_to_close": D("0.5"),
    }
    s = psit(**bad, broker_quantity=D("0.5"), unreported_close_fill=D("0.5"))
    assert next_position_action(s) == IncreaseBroker(D("0.5"))


def test_a_limit_close_the_market_reached_is_closed_at_market() -> None:
    from domain.enums import PositionType
    from domain.pricing import limit_close_reached

    tick = D("0.1")
    # closing a trader LONG sells: reached when the mark is at or above the limit
    assert limit_close_reached(PositionType.LONG, D(60_000), D(60_000), tick)
    assert not limit_close_reached(PositionType.LONG, D(60_000), D("59999.9"), tick)
    assert limit_close_reached(PositionType.SHORT, D(60_000), D("59999.9"), tick)
    assert not limit_close_reached(PositionType.SHORT, D(60_000), D("60000.1"), tick)

    resting = PositionSituation(
        chain_status=QS.CLOSE_PENDING, chain_open_quantity=D(1), broker_quantity=D(1),
        close_order_type=LMT, quantity_to_close=D(1), close_order_open=True,
    )  # fmt: skip
    assert next_position_action(resting) == WaitForFills()
    reached = replace(resting, limit_reached=True)
    assert next_position_action(reached) == CancelBrokerOrder()
    # a chunk that traded is reported first, then the rest goes
    assert next_position_action(replace(reached, unreported_close_fill=D("0.25"))) == (
        FillCloseOnChain(D("0.25"))
    )
    assert next_position_action(replace(reached, close_order_open=False)) == PlaceBrokerClose(D(1))
