"""Health scoring of several RPC endpoints (the chain activities' client and the listeners).

Each endpoint carries an `EndpointHealth`: consecutive failures, an exponentially growing rest
after failures, a latency average and the last head block it reported. `order` ranks them:

1. **healthy** — awake, not lagging, not slow — in the configured order of preference;
2. **slow** — its latency average is over `slow_seconds` and 3× the best healthy one;
3. **lagging** — its last head is more than `max_lag_blocks` behind the best head any endpoint
   reported in the last `head_ttl` seconds (an endpoint that answers with an old chain view);
4. **resting** — failed recently; the one whose rest ends first comes first.

So one dead endpoint costs one failed attempt and then rests (5 s, 10 s, 20 s … up to
`max_rest_seconds`), a lagging one is asked only when nothing better answers, and nothing is
ever excluded for good: when every endpoint is resting they are still tried, in order.
`score` (1 healthy, 0.5 slow, 0.25 lagging, 0 resting) is exported per endpoint as the gauge
`hedger_rpc_endpoint_score{client,url}`, with `hedger_rpc_endpoint_head_lag_blocks` and
`hedger_rpc_failovers_total{client}` (a call answered by another than the first-ranked endpoint).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from prometheus_client import Counter, Gauge

ENDPOINT_SCORE = Gauge(
    "hedger_rpc_endpoint_score",
    "RPC endpoint health: 1 healthy, 0.5 slow, 0.25 lagging, 0 resting after failures",
    ["client", "url"],
)
ENDPOINT_HEAD_LAG = Gauge(
    "hedger_rpc_endpoint_head_lag_blocks",
    "How far the endpoint's last reported head is behind the best head seen",
    ["client", "url"],
)
FAILOVERS = Counter(
    "hedger_rpc_failovers_total",
    "Calls answered by another endpoint than the first-ranked one (it failed)",
    ["client"],
)


def redact_url(url: str) -> str:
    """scheme://host[:port] only: RPC URLs often carry an API key in the path or query."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


@dataclass
class HealthPolicy:
    rest_seconds: float = 5.0  # first rest after a failure; doubles per consecutive failure
    max_rest_seconds: float = 60.0
    max_lag_blocks: int = 5
    head_ttl: float = 30.0  # a head older than this is not used to judge lag
    slow_seconds: float = 2.0
    latency_weight: float = 0.2  # EWMA weight of the newest sample


@dataclass
class EndpointHealth:
    url: str
    failures: int = 0  # total
    consecutive: int = 0
    resting_until: float = 0.0
    last_error: str | None = None
    latency: float | None = None  # EWMA, seconds
    head: int | None = None
    head_at: float = 0.0

    @property
    def label(self) -> str:
        return redact_url(self.url)


@dataclass
class HealthBook:
    """The health of a fixed list of endpoints (index = configured preference)."""

    urls: Sequence[str]
    client: str = "chain"
    policy: HealthPolicy = field(default_factory=HealthPolicy)
    entries: list[EndpointHealth] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.entries:
            self.entries = [EndpointHealth(url) for url in self.urls]
        for entry in self.entries:
            ENDPOINT_SCORE.labels(self.client, entry.label).set(1)

    # --- observations ----------------------------------------------------------------------

    def success(self, index: int, latency: float, now: float | None = None) -> None:
        entry = self.entries[index]
        entry.consecutive = 0
        entry.resting_until = 0.0
        w = self.policy.latency_weight
        entry.latency = latency if entry.latency is None else (1 - w) * entry.latency + w * latency
        self._export(now)

    def failure(self, index: int, error: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        entry = self.entries[index]
        entry.failures += 1
        entry.consecutive += 1
        entry.last_error = error
        rest = self.policy.rest_seconds * 2 ** min(entry.consecutive - 1, 16)
        cap = max(self.policy.max_rest_seconds, self.policy.rest_seconds)
        entry.resting_until = now + min(rest, cap)
        self._export(now)

    def saw_head(self, index: int, head: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        entry = self.entries[index]
        entry.head, entry.head_at = head, now
        self._export(now)

    def answered(self, index: int, first: int) -> None:
        """A call was answered by `index` after `first` (the top-ranked) failed."""
        if index != first:
            FAILOVERS.labels(self.client).inc()

    # --- judgement -------------------------------------------------------------------------

    def best_head(self, now: float | None = None) -> int | None:
        now = time.monotonic() if now is None else now
        heads = [
            e.head
            for e in self.entries
            if e.head is not None and now - e.head_at <= self.policy.head_ttl
        ]
        return max(heads) if heads else None

    def lag(self, index: int, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        entry, best = self.entries[index], self.best_head(now)
        if entry.head is None or best is None or now - entry.head_at > self.policy.head_ttl:
            return 0
        return max(0, best - entry.head)

    def resting(self, index: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return self.entries[index].resting_until > now

    def lagging(self, index: int, now: float | None = None) -> bool:
        return self.lag(index, now) > self.policy.max_lag_blocks

    def slow(self, index: int, now: float | None = None) -> bool:
        latency = self.entries[index].latency
        if latency is None or latency <= self.policy.slow_seconds:
            return False
        others = [
            e.latency
            for i, e in enumerate(self.entries)
            if i != index and e.latency is not None and not self.resting(i, now)
        ]
        return bool(others) and latency > 3 * min(others)

    def score(self, index: int, now: float | None = None) -> float:
        if self.resting(index, now):
            return 0.0
        if self.lagging(index, now):
            return 0.25
        if self.slow(index, now):
            return 0.5
        return 1.0

    def order(self, now: float | None = None) -> list[int]:
        """Endpoint indices, best first (see the module docstring)."""
        now = time.monotonic() if now is None else now

        def rank(i: int) -> tuple[int, float, int]:
            if self.resting(i, now):
                return (3, self.entries[i].resting_until, i)
            if self.lagging(i, now):
                return (2, float(self.lag(i, now)), i)
            if self.slow(i, now):
                return (1, self.entries[i].latency or 0.0, i)
            return (0, 0.0, i)

        return sorted(range(len(self.entries)), key=rank)

    def _export(self, now: float | None) -> None:
        for i, entry in enumerate(self.entries):
            ENDPOINT_SCORE.labels(self.client, entry.label).set(self.score(i, now))
            ENDPOINT_HEAD_LAG.labels(self.client, entry.label).set(self.lag(i, now))
