"""A client-side rate limiter for ccxt's REST calls that counts idle time.

ccxt throttles every REST request with a leaky bucket (`exchange.tokenBucket`: `refillRate`
tokens per millisecond, i.e. 1 / `rateLimit`, `capacity` 1, each endpoint's `cost`): a request
goes when the bucket holds at least 0 tokens and then takes its cost. ccxt 4.5's async
`Throttler` refills the bucket only while its loop runs, timed from the loop's start, so the
time between two bursts never counts (ccxt/ccxt#25556): every request after an idle spell waits
a whole `cost × rateLimit` (50 ms per order placement or look-up on Binance USD-M), however long
the client was quiet. `LeakyBucket` is the same bucket refilled by the wall clock: a request
after a quiet spell goes at once, and a burst is spaced exactly as ccxt spaces it, so the
average rate never exceeds the exchange's limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any


class LeakyBucket:
    """ccxt's leaky bucket (`tokenBucket` config), refilled by `clock` (monotonic seconds);
    awaited in FIFO order as ccxt's `Throttler` is (`await bucket(cost)`)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.refill_per_ms = float(config["refillRate"])
        self.capacity = float(config.get("capacity", 1.0))
        self.default_cost = float(config.get("cost", 1.0))
        self.tokens = float(config.get("tokens", 0.0))
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._turn = asyncio.Lock()  # FIFO: one request takes its tokens at a time

    def _refill(self) -> None:
        now = self._clock()
        elapsed_ms = (now - self._stamp) * 1000
        self._stamp = now
        self.tokens = min(self.tokens + elapsed_ms * self.refill_per_ms, self.capacity)

    async def __call__(self, cost: float | None = None) -> None:
        async with self._turn:
            self._refill()
            if self.tokens < 0:
                await self._sleep(-self.tokens / self.refill_per_ms / 1000)
                self._refill()
            self.tokens -= self.default_cost if cost is None else float(cost)


def install(exchange: Any) -> None:
    """Replace `exchange`'s REST throttler with a `LeakyBucket` of its own `tokenBucket`
    (ccxt's rolling-window limiter, which does keep its history, is left as it is)."""
    bucket = getattr(exchange, "tokenBucket", None)
    if not bucket or bucket.get("algorithm", "leakyBucket") != "leakyBucket":
        return
    exchange.throttler = LeakyBucket(bucket)
