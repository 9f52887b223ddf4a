"""Connector fixtures: the exchange configurations the connector suite runs against.

`simulator` — our devnet exchange on a free port, driven through the real ccxt client.
`live`      — a real exchange account (e.g. Binance USD-M demo/testnet), only when
              HEDGER_TEST_BROKER_API_KEY / _API_SECRET are set (plus optional _EXCHANGE,
              _REST_URL, _WS_URL, _SANDBOX, _DEMO (default 1: Binance demo
              trading), _SYMBOL); absent otherwise. Fault tests need
              the simulator's admin endpoint and are skipped on a live exchange.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest
from broker_helpers import ExchangeUnderTest

from adapters.broker.adapter import BrokerAdapter
from adapters.broker.client import BrokerConfig
from adapters.broker.symbols import SymbolEntry
from devnet.exchange.admin import ExchangeAdmin
from devnet.exchange.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, ExchangeConfig
from devnet.exchange.server import BackgroundExchange

SYMMIO_ENTRIES = (
    SymbolEntry(1, "BTCUSDT"),
    SymbolEntry(2, "ETHUSDT"),
    SymbolEntry(3, "SOLUSDT", "SOL/USDT:USDT"),
)


@pytest.fixture(scope="session")
def simulator() -> Iterator[BackgroundExchange]:
    server = BackgroundExchange(
        ExchangeConfig(tick_interval=0)
    ).start()  # prices move only when a test moves them
    try:
        yield server
    finally:
        server.stop()


def _live_config() -> ExchangeUnderTest | None:
    env = os.environ
    key, secret = env.get("HEDGER_TEST_BROKER_API_KEY"), env.get("HEDGER_TEST_BROKER_API_SECRET")
    if not key or not secret:
        return None
    cfg = BrokerConfig(
        exchange_id=env.get("HEDGER_TEST_BROKER_EXCHANGE", "binanceusdm"),
        api_key=key,
        api_secret=secret,
        rest_url=env.get("HEDGER_TEST_BROKER_REST_URL") or None,
        ws_url=env.get("HEDGER_TEST_BROKER_WS_URL") or None,
        sandbox=env.get("HEDGER_TEST_BROKER_SANDBOX", "0") == "1",
        demo=env.get("HEDGER_TEST_BROKER_DEMO", "1") == "1",
    )
    return ExchangeUnderTest(
        "live", cfg, env.get("HEDGER_TEST_BROKER_SYMBOL", "BTC/USDT:USDT"), None
    )


# The live configuration joins the parametrisation only when its credentials are present.
_CONFIGS = ["simulator"] + (["live"] if _live_config() is not None else [])


@pytest.fixture(scope="session", params=_CONFIGS)
def exchange_under_test(request: pytest.FixtureRequest) -> ExchangeUnderTest:
    if request.param == "live":
        live = _live_config()
        assert live is not None
        return live
    sim: BackgroundExchange = request.getfixturevalue("simulator")
    cfg = BrokerConfig(
        api_key=DEFAULT_API_KEY,
        api_secret=DEFAULT_API_SECRET,
        rest_url=sim.rest_url,
        ws_url=sim.ws_url,
        timeout_ms=1500,
    )
    return ExchangeUnderTest("simulator", cfg, "BTC/USDT:USDT", sim.rest_url)


@pytest.fixture
async def admin(exchange_under_test: ExchangeUnderTest) -> AsyncIterator[ExchangeAdmin]:
    """The simulator's admin client, reset for this test (skips on a live exchange)."""
    if exchange_under_test.admin_url is None:
        pytest.skip("needs the simulator's admin endpoint (fault injection / price control)")
    client = ExchangeAdmin(exchange_under_test.admin_url)
    await client.reset()
    await client.set_price("BTCUSDT", "50000")
    await client.set_price("ETHUSDT", "3000")
    await client.set_price("SOLUSDT", "150")
    try:
        yield client
    finally:
        await client.clear_faults()
        await client.aclose()


@pytest.fixture
async def adapter(exchange_under_test: ExchangeUnderTest) -> AsyncIterator[BrokerAdapter]:
    if exchange_under_test.admin_url is not None:
        reset = ExchangeAdmin(exchange_under_test.admin_url)
        await reset.reset()
        for sym, price in (("BTCUSDT", "50000"), ("ETHUSDT", "3000"), ("SOLUSDT", "150")):
            await reset.set_price(sym, price)
        await reset.aclose()
    a = BrokerAdapter.from_config(exchange_under_test.broker, SYMMIO_ENTRIES)
    a.lookup_delay = 0.05
    try:
        yield a
    finally:
        await a.close()


def with_timeout(eut: ExchangeUnderTest, timeout_ms: int) -> BrokerConfig:
    return replace(eut.broker, timeout_ms=timeout_ms)
