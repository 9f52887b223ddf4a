"""The broker client's REST rate limiter (`adapters.broker.throttle`): ccxt's leaky bucket,
refilled by the clock while the client is idle too (ccxt/ccxt#25556)."""

from __future__ import annotations

import asyncio
import time

from adapters.broker.client import BrokerConfig, make_exchange
from adapters.broker.throttle import LeakyBucket

RATE_LIMIT_MS = 50.0
BUCKET = {"refillRate": 1 / RATE_LIMIT_MS, "capacity": 1, "cost": 1, "tokens": 0}


class FakeTime:
    """A clock that moves only when told to or when the bucket sleeps (what it slept: `slept`)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def _bucket(clock: FakeTime) -> LeakyBucket:
    return LeakyBucket(BUCKET, clock=clock.clock, sleep=clock.sleep)


async def test_a_request_after_an_idle_spell_goes_at_once() -> None:
    t = FakeTime()
    bucket = _bucket(t)
    await bucket(1)
    t.now += 1.0  # quiet for a second: the bucket refilled (to its capacity)
    await bucket(1)
    await bucket(1)
    assert t.slept == []


async def test_a_burst_is_spaced_by_cost_times_the_rate_limit() -> None:
    t = FakeTime()
    bucket = _bucket(t)
    for _ in range(4):
        await bucket(1)  # the first goes at once, each next one waits for its predecessor's
    await bucket(4)  # a request of cost 4 waits for the previous one's token, as any other
    await bucket(1)  # and the next waits for the cost-4 one's four
    assert t.slept == [0.05, 0.05, 0.05, 0.05, 0.2]


async def test_the_refill_stops_at_the_capacity() -> None:
    t = FakeTime()
    bucket = _bucket(t)
    t.now += 3600.0  # an hour idle banks one token, not 72,000
    for _ in range(3):
        await bucket(1)
    assert t.slept == [0.05]


async def test_concurrent_requests_take_their_turn_in_order() -> None:
    t = FakeTime()
    bucket = _bucket(t)
    order: list[int] = []

    async def request(i: int) -> None:
        await bucket(1)
        order.append(i)

    await asyncio.gather(*(request(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert t.slept == [0.05, 0.05, 0.05, 0.05]


async def test_the_broker_client_does_not_wait_after_a_quiet_spell() -> None:
    """The real ccxt client `make_exchange` builds: one request, a quiet spell longer than the
    rate limit, and the next request is not held back (ccxt's own throttler held it for the
    whole rate limit)."""
    exchange = make_exchange(BrokerConfig(rest_url="http://127.0.0.1:9", rate_limit_ms=400))
    try:
        await exchange.throttle(1)
        await asyncio.sleep(0.6)
        started = time.monotonic()
        await exchange.throttle(1)
        waited = time.monotonic() - started
    finally:
        await exchange.close()
    assert waited < 0.2, f"held back {waited:.3f} s after a 0.6 s pause (rate limit 0.4 s)"
