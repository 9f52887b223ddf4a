"""Run-time fault injection for the exchange simulator.

A fault is a rule: which requests it matches (HTTP method and a regular expression on the path),
how many matching requests it lets through first (`skip`), how many times it then fires (`count`,
None = until cleared), with what probability, and what it does.

kinds
- ``latency``          sleep ``delay`` seconds, then serve the request normally
- ``http_error``       answer ``status`` (default 503) with a non-JSON body, request not processed
- ``rate_limit``       answer ``status`` 429 (or 418) with ``Retry-After: retry_after`` seconds
- ``timeout``          sleep ``delay`` seconds (longer than the client's timeout), request not processed
- ``reject``           answer a Binance error ``code``/``msg`` (default -2010 NEW_ORDER_REJECTED)
- ``ack_then_timeout`` process the request (e.g. place the order), then hold the response ``delay``
                       seconds, so the client times out without knowing the result
- ``lookup_miss``      a query by id answers -2013 "Order does not exist." although the order exists
                       (read lag): a client that trusts one look-up will place a duplicate and meet
                       the duplicate-id error
"""

from __future__ import annotations

import random
import re
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
)


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
    id: int = 0
    fired: int = 0

    def matches(self, method: str, path: str, rng: random.Random) -> bool:
        if self.count is not None and self.count <= 0:
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
            if k in Fault.__dataclass_fields__ and k not in ("id", "fired")
        }
        self._next_id += 1
        fault = Fault(**known, id=self._next_id)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

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

    def describe(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self.faults]
