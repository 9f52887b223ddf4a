"""Per-client request rate limit: one token bucket per client key (pure logic, no I/O).

A client may make `burst` requests at once and `rate` per second after that. `take(key)` spends
one token and answers 0.0, or, when the bucket is empty, how many seconds until the next token
(nothing is spent). The clock is injected, so tests move time by hand.

Memory is bounded: at most `max_clients` buckets are kept, least recently used dropped first (a
dropped client starts again with a full bucket, as it would after being idle long enough).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float  # clock reading when `tokens` was last brought up to date


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 100_000,
    ) -> None:
        """`rate` tokens per second (0: no limit), buckets of `burst` tokens."""
        if rate < 0 or burst < 1 or max_clients < 1:
            raise ValueError("rate >= 0, burst >= 1 and max_clients >= 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Spend one of `key`'s tokens: 0.0 when there was one, else the seconds to wait."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
        else:
            elapsed = max(0.0, now - bucket.at)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.at = now
        self._buckets[key] = bucket  # most recently used last
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate
