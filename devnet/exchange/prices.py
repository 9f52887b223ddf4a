"""Seeded price paths: a random walk, or a replay of a CSV of prices."""

from __future__ import annotations

import csv
import random
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path


def _quantize(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).to_integral_value(ROUND_HALF_EVEN) * tick


def load_csv_prices(path: Path) -> list[Decimal]:
    """Prices from a CSV: a column named `price` (or `close`), else the last column of each row."""
    prices: list[Decimal] = []
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return prices
    header = [h.strip().lower() for h in rows[0]]
    column = next((header.index(n) for n in ("price", "close", "mark") if n in header), None)
    body = rows[1:] if column is not None else rows
    for row in body:
        if not row:
            continue
        cell = row[column] if column is not None else row[-1]
        try:
            prices.append(Decimal(cell.strip()))
        except Exception:  # a header without a known name
            continue
    return prices


class PricePath:
    """The mid price of one market; `step()` moves it one tick along the path."""

    def __init__(
        self,
        initial: Decimal,
        tick: Decimal,
        volatility: Decimal,
        seed: int,
        replay: list[Decimal] | None = None,
    ) -> None:
        self.tick = tick
        self.volatility = float(volatility)
        self._rng = random.Random(seed)
        self._replay = replay or []
        self._index = 0
        self.frozen = False
        self.mid = _quantize(self._replay[0] if self._replay else initial, tick)
        self.open = self.mid
        self.high = self.mid
        self.low = self.mid

    def step(self) -> Decimal:
        if self.frozen:
            return self.mid
        if self._replay:
            self._index = (self._index + 1) % len(self._replay)
            new = self._replay[self._index]
        else:
            change = Decimal(repr(self._rng.gauss(0.0, self.volatility)))
            new = self.mid * (Decimal(1) + change)
        self._set(new)
        return self.mid

    def set(self, price: Decimal, freeze: bool = True) -> None:
        self._set(price)
        self.frozen = freeze

    def _set(self, price: Decimal) -> None:
        self.mid = max(_quantize(price, self.tick), self.tick)
        self.high = max(self.high, self.mid)
        self.low = min(self.low, self.mid)
