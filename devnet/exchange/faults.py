"""Run-time fault injection for the exchange simulator.

A fault is a rule: which requests it matches (HTTP method and a regular expression on the path),
how many matching requests it lets through first (`skip`), how many times it then fires (`count`,
None = until cleared), for how long it stays open (`duration` seconds from when it was added,
None = no time limit), with what probability, and what it does. So every kind opens as a *window*:
"the next 3 order placements" (`count=3`) or "every order query for 20 s" (`count=None,
duration=20`).

kinds
- ``latency``          sleep ``delay`` seconds, then serve the request normally
- ``http_error``       answer ``status`` (default 503) with a non-JSON body, request not processed
- ``rate_limit``       answer ``status`` 429 (or 418) with ``Retry-After: retry_after`` seconds
- ``timeout``          sleep ``delay`` seconds (longer than the client's timeout), request not processed
- ``reject``           answer a Binance error ``code``/``msg`` (default -2010 NEW_ORDER_REJECTED)
- ``ack_then_timeout`` process the request (e.g. place the order), then hold the response ``delay``
                       seconds, so the client times out without knowing the result
- ``lookup_miss``      a query by id (``GET /fapi/v1/order``) answers -2013 "Order does not exist."
                       although the order exists (read lag): a client that trusts one look-up places
                       the order again, which Binance accepts once the first one is no longer open
- ``fill_delay``       marketable orders placed while the window is open fill ``delay`` seconds late
                       (not request-matched; ``count`` = orders delayed)
- ``event_delay``      user-stream events emitted while the window is open arrive ``delay`` s late
- ``ws_drop``          closes every user-data websocket when added and refuses new connections
                       while open (``count`` = connections refused, ``duration`` = seconds)
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = (
    "latency",
    "http_error",
    "rate_limit",
    "timeout",
    "reject",
    "ack_then_timeout",
    "lookup_miss",
    "fill_delay",
    "event_delay",
    "ws_drop",
)
# kinds that act on the engine or the streams, not on matching HTTP requests
STATE_KINDS = ("fill_delay", "event_delay", "ws_drop")


@dataclass
class Fault:
    kind: str
    path: str = ".*"  # regex searched in the request path, e.g. "/fapi/v1/order$"
    method: str | None = None  # GET/POST/DELETE/PUT; None = any
    count: int | None = 1  # fires this many times, None = until cleared
    skip: int = 0  # let this many matching requests through first
    probability: float = 1.0
    delay: float = 0.0
    status: int | None = None
    retry_after: int = 1
    code: int | None = None
    msg: str | None = None
    duration: float | None = None  # seconds the window stays open after it was added
    id: int = 0
    fired: int = 0
    opened_at: float = field(default_factory=time.time)

    @property
    def closes_at(self) -> float | None:
        return None if self.duration is None else self.opened_at + self.duration

    def is_open(self, now: float | None = None) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        closes = self.closes_at
        return closes is None or (time.time() if now is None else now) < closes

    def matches(self, method: str, path: str, rng: random.Random) -> bool:
        if not self.is_open():
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        if not re.search(self.path, path):
            return False
        return self.probability >= 1.0 or rng.random() < self.probability

    def consume(self) -> None:
        self.fired += 1
        if self.count is not None:
            self.count -= 1


@dataclass
class FaultBook:
    faults: list[Fault] = field(default_factory=list)
    closed: list[Fault] = field(default_factory=list)
    seed: int = 7
    _next_id: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(self, spec: dict[str, Any]) -> Fault:
        if spec.get("kind") not in KINDS:
            raise ValueError(f"unknown fault kind {spec.get('kind')!r}; kinds: {', '.join(KINDS)}")
        known = {
            k: v
            for k, v in spec.items()
            if k in Fault.__dataclass_fields__ and k not in ("id", "fired", "opened_at")
        }
        if known.get("duration") is not None and float(known["duration"]) <= 0:
            raise ValueError("duration must be positive (seconds)")
        self.prune()
        self._next_id += 1
        fault = Fault(**known, id=self._next_id)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()
        self.closed.clear()

    def take(self, method: str, path: str, kinds: tuple[str, ...]) -> Fault | None:
        """The first live fault of one of `kinds` matching this request, consumed."""
        for fault in self.faults:
            if fault.kind in kinds and fault.matches(method, path, self._rng):
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.consume()
                return fault
        return None

    def active(self, kind: str, consume: bool = False) -> Fault | None:
        """The first open window of a state kind (fill_delay, event_delay, ws_drop); `consume`
        counts one use against its `count`."""
        for fault in self.faults:
            if fault.kind == kind and fault.is_open():
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    return None
                if consume:
                    fault.consume()
                return fault
        return None

    def prune(self) -> None:
        """Forget windows that have closed (their history stays in `closed`)."""
        still = [f for f in self.faults if f.is_open()]
        self.closed.extend(f for f in self.faults if not f.is_open())
        self.faults = still

    def describe(self) -> list[dict[str, Any]]:
        now = time.time()
        return [asdict(f) | {"open": f.is_open(now)} for f in [*self.closed, *self.faults]]
