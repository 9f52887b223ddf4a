"""Classify broker (ccxt) failures: retry it, or stop and say why.

The `kind` is the Temporal ApplicationError type a workflow sees; it is chosen so that a person
reading "InsufficientMargin" in the UI knows what happened without the stack trace.

ccxt is imported lazily, so workflow code may import `BrokerError` and the kinds (through
`activities.broker`) without pulling ccxt into the workflow sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

# terminal kinds
INSUFFICIENT_MARGIN = "InsufficientMargin"
INVALID_ORDER = "InvalidOrder"
UNKNOWN_SYMBOL = "UnknownSymbol"
ORDER_NOT_FOUND = "OrderNotFound"
AUTH_FAILED = "BrokerAuthFailed"
BROKER_REJECTED = "BrokerRejected"
# retryable kinds
RATE_LIMITED = "BrokerRateLimited"
UNAVAILABLE = "BrokerUnavailable"
TIMEOUT = "BrokerTimeout"
CLOCK_SKEW = "BrokerClockSkew"
NETWORK = "BrokerNetworkError"


class BrokerError(Exception):
    """A classified broker failure; `retryable` decides whether Temporal tries again."""

    def __init__(
        self,
        kind: str,
        message: str,
        retryable: bool,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code

    def __repr__(self) -> str:
        return f"BrokerError({self.kind}, retryable={self.retryable}, {self.message!r})"


@dataclass(frozen=True, slots=True)
class Classification:
    kind: str
    retryable: bool


@cache
def _table() -> tuple[tuple[type[BaseException], Classification], ...]:
    """ccxt exception class -> classification; the first match wins (subclasses before bases)."""
    from adapters.broker.ccxt_lean import errors

    ccxt = errors()

    return (
        (ccxt.InsufficientFunds, Classification(INSUFFICIENT_MARGIN, False)),
        (ccxt.BadSymbol, Classification(UNKNOWN_SYMBOL, False)),
        (ccxt.OrderNotFound, Classification(ORDER_NOT_FOUND, False)),
        (ccxt.InvalidOrder, Classification(INVALID_ORDER, False)),
        (ccxt.AuthenticationError, Classification(AUTH_FAILED, False)),
        (ccxt.DDoSProtection, Classification(RATE_LIMITED, True)),
        (ccxt.RateLimitExceeded, Classification(RATE_LIMITED, True)),
        (ccxt.RequestTimeout, Classification(TIMEOUT, True)),
        (ccxt.ExchangeNotAvailable, Classification(UNAVAILABLE, True)),
        (ccxt.InvalidNonce, Classification(CLOCK_SKEW, True)),
        (
            ccxt.OperationFailed,
            Classification(NETWORK, True),
        ),  # NetworkError, BadResponse, server busy
        (ccxt.BadRequest, Classification(BROKER_REJECTED, False)),
        (ccxt.ExchangeError, Classification(BROKER_REJECTED, False)),
    )


def classify_exception(exc: BaseException) -> Classification:
    for klass, result in _table():
        if isinstance(exc, klass):
            return result
    if isinstance(exc, TimeoutError):
        return Classification(TIMEOUT, True)
    if isinstance(exc, OSError):
        return Classification(NETWORK, True)
    return Classification(BROKER_REJECTED, False)


def _binance_code(message: str) -> str | None:
    marker = '"code":'
    at = message.find(marker)
    if at < 0:
        return None
    rest = message[at + len(marker) :].lstrip()
    end = 0
    while end < len(rest) and (rest[end].isdigit() or (end == 0 and rest[end] == "-")):
        end += 1
    return rest[:end] or None


def classify(exc: BaseException, retry_after: float | None = None) -> BrokerError:
    """The BrokerError for a ccxt (or transport) exception."""
    if isinstance(exc, BrokerError):
        return exc
    c = classify_exception(exc)
    message = f"{type(exc).__name__}: {exc}"
    return BrokerError(
        c.kind,
        message,
        c.retryable,
        retry_after if c.kind == RATE_LIMITED else None,
        _binance_code(str(exc)),
    )


def is_duplicate_client_id(exc: BaseException) -> bool:
    """Binance USD-M answers -4116 for a reused client order id (-4015 "not valid" on some venues)."""
    from adapters.broker.ccxt_lean import errors

    ccxt = errors()

    text = str(exc)
    return isinstance(exc, ccxt.ExchangeError) and (
        '"code":-4116' in text or '"code":-4015' in text or "duplicat" in text.lower()
    )
