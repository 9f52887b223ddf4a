from __future__ import annotations

from collections.abc import Iterator

import pytest

from devnet.exchange.config import ExchangeConfig
from devnet.exchange.server import BackgroundExchange


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundExchange]:
    """A simulator with a live random walk (ticks every 20 ms)."""
    server = BackgroundExchange(ExchangeConfig(tick_interval=0.02, seed=5)).start()
    try:
        yield server
    finally:
        server.stop()
