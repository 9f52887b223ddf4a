"""The ccxt-free Binance USD-M reader answers as the ccxt path does: the same unified symbols,
the same `MarketRules`, the same mark price, the same error kinds (checked against the real ccxt
client on the simulator, and against ccxt's own parser on listings the simulator does not
have)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest
from broker_helpers import ExchangeUnderTest
from conftest import SYMMIO_ENTRIES

from activities.market_data import market_snapshot_of
from adapters.broker.adapter import BrokerAdapter
from adapters.broker.client import BrokerConfig
from adapters.broker.errors import BrokerError
from adapters.broker.market_data import market_data_for
from adapters.broker.symbols import SymbolMap
from adapters.broker.usdm import UsdmMarketData, base_url, parse_markets
from devnet.exchange.admin import ExchangeAdmin


@pytest.fixture
async def reader(exchange_under_test: ExchangeUnderTest) -> AsyncIterator[UsdmMarketData]:
    if exchange_under_test.broker.exchange_id != "binanceusdm":
        pytest.skip("the direct reader is Binance USD-M's")
    data = UsdmMarketData(exchange_under_test.broker, SYMMIO_ENTRIES)
    try:
        yield data
    finally:
        await data.close()


def _linear_contracts(markets: dict[str, Any]) -> list[str]:
    return sorted(s for s, m in markets.items() if m.get("contract") and m.get("linear"))


async def test_same_markets_rules_and_mark_as_the_ccxt_client(
    adapter: BrokerAdapter, reader: UsdmMarketData
) -> None:
    ours, theirs = await reader.symbols(), await adapter.symbols()
    listed = _linear_contracts(adapter.exchange.markets)
    assert listed, "the exchange lists no USD-M contract"
    for symbol in listed:
        market_id = adapter.exchange.markets[symbol]["id"]
        assert ours.resolve(symbol) == theirs.resolve(symbol)
        assert ours.resolve(market_id) == theirs.resolve(market_id)
    assert ours.symmio_symbols() == theirs.symmio_symbols()
    for symmio_id in ours.symmio_symbols():
        assert ours.resolve(symmio_id) == theirs.resolve(symmio_id)
    for name in ("BTCUSDT", "SOL/USDT:USDT", 2):
        assert await reader.fetch_mark_price(name) == await adapter.fetch_mark_price(name)


async def test_same_snapshot_as_the_broker_worker(
    adapter: BrokerAdapter, reader: UsdmMarketData
) -> None:
    for name in ("BTCUSDT", "ETHUSDT", "NOSUCHUSDT"):
        assert await market_snapshot_of(reader, name) == await market_snapshot_of(adapter, name)
    unlisted = await market_snapshot_of(reader, "NOSUCHUSDT")
    assert unlisted.rules is None and unlisted.unlisted


PREMIUM = r"/fapi/v1/premiumIndex$"


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "rate_limit", "status": 429, "retry_after": 3},
        {"kind": "rate_limit", "status": 418, "retry_after": 2},
        {"kind": "http_error", "status": 503},
        {"kind": "timeout", "delay": 2.5},  # the client's timeout is 1.5 s
        {"kind": "reject", "code": -1121, "msg": "Invalid symbol."},
        {"kind": "reject", "code": -1102, "msg": "Mandatory parameter 'symbol' was not sent."},
    ],
    ids=["429", "418", "503", "timeout", "invalid-symbol", "rejected"],
)
async def test_failures_classified_as_the_ccxt_client_classifies_them(
    adapter: BrokerAdapter,
    reader: UsdmMarketData,
    admin: ExchangeAdmin,
    fault: dict[str, Any],
) -> None:
    await adapter.symbols()
    await reader.symbols()
    kind = fault.pop("kind")
    errors: list[BrokerError] = []
    for source in (adapter, reader):
        await admin.add_fault(kind, path=PREMIUM, method="GET", **fault)
        with pytest.raises(BrokerError) as err:
            await source.fetch_mark_price("BTCUSDT")
        errors.append(err.value)
    ccxt_error, our_error = errors
    assert (our_error.kind, our_error.retryable, our_error.retry_after) == (
        ccxt_error.kind,
        ccxt_error.retryable,
        ccxt_error.retry_after,
    )
    # the fault window is spent: the next read answers
    assert await reader.fetch_mark_price("BTCUSDT") > 0


async def test_exchange_down_is_a_retryable_network_error() -> None:
    data = UsdmMarketData(BrokerConfig(rest_url="http://127.0.0.1:9", timeout_ms=1000))
    try:
        with pytest.raises(BrokerError) as err:
            await data.rules("BTCUSDT")
        assert err.value.retryable and err.value.kind == "BrokerNetworkError"
    finally:
        await data.close()


def _filters(step: str, tick: str, min_qty: str, max_qty: str, notional: str) -> list[Any]:
    return [
        {"filterType": "PRICE_FILTER", "tickSize": tick, "minPrice": tick, "maxPrice": "1000000"},
        {"filterType": "LOT_SIZE", "stepSize": step, "minQty": min_qty, "maxQty": max_qty},
        {"filterType": "MARKET_LOT_SIZE", "stepSize": step, "minQty": min_qty, "maxQty": max_qty},
        {"filterType": "MIN_NOTIONAL", "notional": notional},
    ]


def _symbol(market_id: str, base: str, quote: str, margin: str, **extra: Any) -> dict[str, Any]:
    raw = {
        "symbol": market_id,
        "pair": market_id,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "baseAsset": base,
        "quoteAsset": quote,
        "marginAsset": margin,
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "filters": _filters("0.001", "0.10", "0.001", "1000", "100"),
        "orderTypes": ["LIMIT", "MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }
    raw.update(extra)
    return raw


# Listings of the shapes Binance's exchangeInfo carries: perpetuals, a quarterly delivery
# contract, a USDC-margined perpetual, a perpetual without a contract type, a symbol still
# pending, a settling one, one without filters, a renamed currency code.
LISTINGS: dict[str, Any] = {
    "timezone": "UTC",
    "serverTime": 1764547200000,
    "symbols": [
        _symbol("BTCUSDT", "BTC", "USDT", "USDT"),
        _symbol(
            "1000PEPEUSDT",
            "1000PEPE",
            "USDT",
            "USDT",
            filters=_filters("1", "0.0000001", "1", "80000000", "5"),
        ),
        _symbol(
            "BTCUSDT_261225",
            "BTC",
            "USDT",
            "USDT",
            contractType="CURRENT_QUARTER",
            deliveryDate=1798185600000,
        ),
        _symbol("ETHUSDC", "ETH", "USDC", "USDC"),
        _symbol("BTCSTUSDT", "BTCST", "USDT", "USDT", contractType=""),
        _symbol("NEWUSDT", "NEW", "USDT", "USDT", status="PENDING_TRADING"),
        _symbol("OLDUSDT", "OLD", "USDT", "USDT", status="SETTLING"),
        _symbol("BARE1USDT", "BARE1", "USDT", "USDT", filters=[]),
        _symbol("XBTUSDT", "XBT", "USDT", "USDT"),
        _symbol("YOYOUSDT", "YOYO", "USDT", "USDT"),
    ],
}


def _ccxt_markets(listings: dict[str, Any]) -> dict[str, Any]:
    exchange = ccxt.binanceusdm()
    exchange.options["crossMarginPairsData"] = []
    exchange.options["isolatedMarginPairsData"] = []
    parsed = [m for m in exchange.parse_markets(listings["symbols"]) if m is not None]
    return {m["symbol"]: m for m in parsed}


async def test_same_markets_as_ccxt_parses_from_binance_shaped_listings() -> None:
    ours, theirs = parse_markets(LISTINGS), _ccxt_markets(LISTINGS)
    assert _linear_contracts(ours) == _linear_contracts(theirs)
    assert "BTC/USDT:USDT-261225" in ours and "ETH/USDC:USDC" in ours
    ours_map, theirs_map = SymbolMap(ours), SymbolMap(theirs)
    for symbol in _linear_contracts(theirs):
        assert ours_map.resolve(symbol) == theirs_map.resolve(symbol), symbol
        assert ours_map.resolve(theirs[symbol]["id"]) == theirs_map.resolve(theirs[symbol]["id"])
    bare = ours_map.resolve("BARE1USDT")  # no filters: the precision fields decide
    assert (bare.step_size, bare.tick_size) == (Decimal("0.001"), Decimal("0.01"))


def test_base_url_follows_the_configuration() -> None:
    assert base_url(BrokerConfig()) == "https://fapi.binance.com/fapi/v1"
    assert base_url(BrokerConfig(demo=True)) == "https://demo-fapi.binance.com/fapi/v1"
    assert base_url(BrokerConfig(sandbox=True)) == "https://testnet.binancefuture.com/fapi/v1"
    assert base_url(BrokerConfig(rest_url="http://127.0.0.1:8547/")) == (
        "http://127.0.0.1:8547/fapi/v1"
    )


async def test_other_exchanges_are_read_through_ccxt() -> None:
    assert isinstance(market_data_for(BrokerConfig()), UsdmMarketData)
    other = market_data_for(BrokerConfig(exchange_id="bybit"))
    try:
        assert isinstance(other, BrokerAdapter)
    finally:
        await other.close()


def test_the_workflow_worker_does_not_import_ccxt() -> None:
    """The workflow worker's modules, its local reads and its entry point load without ccxt."""
    probe = (
        "import sys\n"
        "import workers.workflows, workers.local_reads, workers.runtime, hedger.cli\n"
        "from adapters.broker.market_data import market_data_for\n"
        "from adapters.broker.client import BrokerConfig\n"
        "market_data_for(BrokerConfig())\n"
        "loaded = sorted(m for m in sys.modules if m == 'ccxt' or m.startswith('ccxt.'))\n"
        "assert not loaded, loaded[:5]\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)
