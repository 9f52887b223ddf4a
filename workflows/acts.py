"""The workflows' only doors to the world: typed wrappers around activity calls.

Each wrapper names the activity, its task queue, timeouts and retry policy in one place, and
turns failures into two kinds the workflows reason about:

* `ActionImpossible` — a non-retryable application error (the chain state forbids the action,
  a transaction reverted for good, the broker rejected the order): the decision logic takes it
  as a fact and chooses the next step;
* `StepFailed` — automatic retries are exhausted (RPC down, broker unreachable): the workflow
  parks in STUCK and waits for an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.ledger import (
        AlertRow,
        DecisionRow,
        ExposureView,
        HedgeStatusUpdate,
        LimitsView,
        NotificationRow,
        OrderRow,
        PositionRow,
        QuoteRow,
    )
    from hedger.broker.types import OrderRequest, OrderSnapshot
    from hedger.temporal import TaskQueues

T = TypeVar("T")

# Automatic retries before a step is declared failed (and the workflow parks in STUCK).
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=6,
)
LEDGER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)


class ActionImpossible(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class StepFailed(Exception):
    def __init__(self, step: str, cause: str) -> None:
        super().__init__(f"{step} failed after retries: {cause}")
        self.step = step
        self.cause = cause


async def _run(
    name: str,
    arg: Any,
    *,
    queue: str,
    result_type: type[T] | None = None,
    timeout_seconds: float = 30.0,
    retry: RetryPolicy = STEP_RETRY,
    heartbeat: float | None = None,
) -> T:
    try:
        result = await workflow.execute_activity(
            name,
            args=[] if arg is None else [arg],
            task_queue=queue,
            start_to_close_timeout=timedelta(seconds=timeout_seconds),
            heartbeat_timeout=timedelta(seconds=heartbeat) if heartbeat else None,
            retry_policy=retry,
            result_type=result_type,
        )
    except ActivityError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.non_retryable:
            raise ActionImpossible(cause.type or "ApplicationError", cause.message) from exc
        raise StepFailed(name, str(cause or exc)) from exc
    return result  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------------- chain


@dataclass(frozen=True)
class QuoteIdInput:
    quote_id: int


async def chain_call(
    name: str, arg: Any, result_type: type[T] | None = None, timeout_seconds: float = 120.0
) -> T:
    return await _run(
        name, arg, queue=TaskQueues.CHAIN, result_type=result_type, timeout_seconds=timeout_seconds
    )


# ----------------------------------------------------------------------------------- broker


async def place_order(request: OrderRequest) -> OrderSnapshot:
    return await _run(
        "broker_place_order", request, queue=TaskQueues.BROKER, result_type=OrderSnapshot
    )


async def cancel_order(symbol: str, client_order_id: str) -> OrderSnapshot:
    from activities.broker import OrderRef

    return await _run(
        "broker_cancel_order",
        OrderRef(symbol, client_order_id),
        queue=TaskQueues.BROKER,
        result_type=OrderSnapshot,
    )


async def fetch_order(symbol: str, client_order_id: str) -> OrderSnapshot:
    from activities.broker import OrderRef

    return await _run(
        "broker_fetch_order",
        OrderRef(symbol, client_order_id),
        queue=TaskQueues.BROKER,
        result_type=OrderSnapshot,
    )


async def mark_price(symbol: str) -> Decimal:
    from activities.broker import MarkPriceInput

    return Decimal(
        await _run(
            "broker_fetch_mark_price",
            MarkPriceInput(symbol),
            queue=TaskQueues.BROKER,
            result_type=str,
        )
    )


# ----------------------------------------------------------------------------------- ledger


async def _ledger(name: str, arg: Any, result_type: type[T] | None = None) -> T:
    # Ledger writes retry for as long as it takes: a database outage must not fail a hedge.
    return await _run(name, arg, queue=TaskQueues.OPS, result_type=result_type, retry=LEDGER_RETRY)


async def upsert_quote(row: QuoteRow) -> None:
    await _ledger("ledger_upsert_quote", row)


async def set_hedge_status(update: HedgeStatusUpdate) -> None:
    await _ledger("ledger_set_hedge_status", update)


async def record_decision(row: DecisionRow) -> None:
    await _ledger("ledger_record_decision", row)


async def upsert_order(row: OrderRow) -> None:
    await _ledger("ledger_upsert_order", row)


async def upsert_position(row: PositionRow) -> None:
    await _ledger("ledger_upsert_position", row)


async def notify(row: NotificationRow) -> None:
    await _ledger("ledger_notify", row)


async def raise_alert(row: AlertRow) -> None:
    await _ledger("ops_raise_alert", row)


async def trading_state() -> str:
    return await _ledger("ops_trading_state", None, result_type=str)


async def exposure() -> ExposureView:
    return await _ledger("ops_exposure", None, result_type=ExposureView)


async def limits() -> LimitsView:
    return await _ledger("ops_limits", None, result_type=LimitsView)
