"""Price history the oracle keeps for `priceRange` (the high/low/mean window a force close needs).

The devnet has no candle feed, so the oracle remembers what it observed: every price it reads to
answer a request, and every price set through `PUT /devnet/prices`, stamped with the chain's
latest block time. The price between two observations is the earlier one (a step function);
before the first observation of a symbol it is that first observation.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass

MAX_SAMPLES_PER_SYMBOL = 10_000


@dataclass(frozen=True, slots=True)
class PriceWindow:
    highest: int
    lowest: int
    mean: int  # time-weighted over [start, end]; the price at `start` when start == end


class PriceHistory:
    """Per-symbol (chain timestamp, 18-decimal price) observations, thread-safe."""

    def __init__(self, max_samples: int = MAX_SAMPLES_PER_SYMBOL) -> None:
        self._times: dict[str, list[int]] = {}
        self._prices: dict[str, list[int]] = {}
        self._max = max_samples
        self._lock = threading.Lock()

    def record(self, symbol: str, timestamp: int, price: int) -> None:
        with self._lock:
            times = self._times.setdefault(symbol, [])
            prices = self._prices.setdefault(symbol, [])
            i = bisect.bisect_right(times, timestamp)
            if i > 0 and times[i - 1] == timestamp:
                prices[i - 1] = price  # the latest observation of one second wins
                return
            times.insert(i, timestamp)
            prices.insert(i, price)
            if len(times) > self._max:
                del times[0], prices[0]

    def window(self, symbol: str, start: int, end: int) -> PriceWindow | None:
        """Highest, lowest and mean price over [start, end]; None if never observed."""
        if end < start:
            raise ValueError("window end before start")
        with self._lock:
            times = list(self._times.get(symbol, ()))
            prices = list(self._prices.get(symbol, ()))
        if not times:
            return None
        i = bisect.bisect_right(times, start) - 1
        current = prices[max(i, 0)]  # in effect at `start`
        points = [(start, current)]
        j = max(i + 1, 0)
        while j < len(times) and times[j] <= end:
            if times[j] > start:
                points.append((times[j], prices[j]))
            j += 1
        values = [p for _, p in points]
        if end == start:
            return PriceWindow(max(values), min(values), current)
        area = 0
        for k, (t, p) in enumerate(points):
            t_next = points[k + 1][0] if k + 1 < len(points) else end
            area += p * (t_next - t)
        return PriceWindow(max(values), min(values), area // (end - start))
