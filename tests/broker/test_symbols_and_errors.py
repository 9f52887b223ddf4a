"""Pure checks: size/price rounding with Decimal, symbol resolution, ccxt error classification."""

from __future__ import annotations

from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

from adapters.broker.errors import BrokerError, classify, is_duplicate_client_id
from adapters.broker.symbols import MarketRules, SymbolEntry, SymbolMap

BTC = {
    "id": "BTCUSDT",
    "symbol": "BTC/USDT:USDT",
    "settle": "USDT",
    "contract": True,
    "linear": True,
    "precision": {"amount": 0.001, "price": 0.1},
    "limits": {"amount": {"min": 0.001}, "cost": {"min": 100}},
    "info": {
        "filters": [
            {"filterType": "PRICE_FILTER", "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "stepSize": "0.001", "minQty": "0.001", "maxQty": "1000"},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
        ]
    },
}


def test_rules_round_with_decimal_exactness() -> None:
    r = MarketRules.from_ccxt_market(BTC)
    assert r.round_amount(Decimal("0.0129")) == Decimal("0.012")
    assert r.round_amount(Decimal("0.3")) == Decimal("0.3")  # no float drift
    assert r.round_price(Decimal("50000.07"), "buy") == Decimal("50000.0")
    assert r.round_price(Decimal("50000.01"), "sell") == Decimal("50000.1")
    r.check(Decimal("0.002"), Decimal("50000"))
    with pytest.raises(BrokerError) as err:
        r.check(Decimal("0.001"), Decimal("50000"))
    assert err.value.kind == "InvalidOrder"
    r.check(
        Decimal("0.001"), Decimal("50000"), reduce_only=True
    )  # reduce-only is exempt from min notional
    with pytest.raises(BrokerError):
        r.check(Decimal("1001"), Decimal("1"))


def test_symbol_map_resolves_symmio_ids_names_and_broker_symbols() -> None:
    m = SymbolMap(
        {"BTC/USDT:USDT": BTC},
        [
            SymbolEntry(1, "BTCUSDT"),
            SymbolEntry(9, "XBT", "BTC/USDT:USDT"),
            SymbolEntry(5, "DOGEUSDT"),
        ],
    )
    assert m.resolve(1).symbol == m.resolve(9).symbol == m.resolve("xbt").symbol == "BTC/USDT:USDT"
    assert m.resolve("BTCUSDT").market_id == "BTCUSDT"
    assert (
        5 not in m
        and "DOGEUSDT" not in m
        and m.symmio_symbols() == {1: "BTC/USDT:USDT", 9: "BTC/USDT:USDT"}
    )


@pytest.mark.parametrize(
    ("exc", "kind", "retryable"),
    [
        (
            ccxt.InsufficientFunds('binanceusdm {"code":-2019,"msg":"Margin is insufficient."}'),
            "InsufficientMargin",
            False,
        ),
        (ccxt.BadSymbol("x"), "UnknownSymbol", False),
        (ccxt.InvalidOrder("x"), "InvalidOrder", False),
        (ccxt.OrderNotFound("x"), "OrderNotFound", False),
        (ccxt.AuthenticationError("x"), "BrokerAuthFailed", False),
        (ccxt.BadRequest("x"), "BrokerRejected", False),
        (ccxt.ExchangeError("x"), "BrokerRejected", False),
        (ccxt.DDoSProtection("x"), "BrokerRateLimited", True),
        (ccxt.RateLimitExceeded("x"), "BrokerRateLimited", True),
        (ccxt.RequestTimeout("x"), "BrokerTimeout", True),
        (ccxt.ExchangeNotAvailable("x"), "BrokerUnavailable", True),
        (ccxt.InvalidNonce("x"), "BrokerClockSkew", True),
        (ccxt.NetworkError("x"), "BrokerNetworkError", True),
        (TimeoutError(), "BrokerTimeout", True),
    ],
)
def test_classification(exc: Exception, kind: str, retryable: bool) -> None:
    err = classify(exc, retry_after=5)
    assert (err.kind, err.retryable) == (kind, retryable)
    assert err.retry_after == (5 if kind == "BrokerRateLimited" else None)


def test_binance_code_and_duplicate_detection() -> None:
    assert classify(ccxt.InsufficientFunds('binanceusdm {"code":-2019,"msg":"x"}')).code == "-2019"
    assert is_duplicate_client_id(
        ccxt.InvalidOrder('binanceusdm {"code":-4116,"msg":"ClientOrderId is duplicated."}')
    )
    assert is_duplicate_client_id(
        ccxt.BadRequest('binanceusdm {"code":-4015,"msg":"Client order id is not valid."}')
    )
    assert not is_duplicate_client_id(
        ccxt.InvalidOrder('binanceusdm {"code":-4164,"msg":"notional"}')
    )
