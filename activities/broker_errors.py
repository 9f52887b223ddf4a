"""A classified broker failure as the Temporal error a workflow sees (no ccxt here).

A `BrokerError` becomes an `ApplicationError` whose `type` names it ("InsufficientMargin",
"UnknownSymbol", "BrokerRateLimited", ...); terminal kinds are non-retryable, and a rate limit
carries the exchange's Retry-After as the next delay.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from prometheus_client import Counter
from temporalio.exceptions import ApplicationError

from adapters.broker.errors import BrokerError

# Broker errors the activities met, by kind (rate limit, outage, rejection...); alert rule
# HedgerBrokerErrors.
BROKER_ERRORS = Counter("hedger_broker_errors_total", "Broker errors met by activities", ["kind"])


def to_application_error(exc: BrokerError) -> ApplicationError:
    BROKER_ERRORS.labels(exc.kind).inc()
    delay = timedelta(seconds=exc.retry_after) if exc.retry_after else None
    details = (exc.code,) if exc.code else ()
    return ApplicationError(
        exc.message,
        *details,
        type=exc.kind,
        non_retryable=not exc.retryable,
        next_retry_delay=delay,
    )


P = ParamSpec("P")
R = TypeVar("R")


def translated(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """An activity body whose `BrokerError`s surface as their `ApplicationError`s."""

    @wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except BrokerError as exc:
            raise to_application_error(exc) from exc

    return wrapper
