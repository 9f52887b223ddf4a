"""Every fault kind of the simulator, met through the real ccxt client and the adapter."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

import pytest
from broker_helpers import ExchangeUnderTest, limit, market, new_cid

from adapters.broker.adapter import BrokerAdapter
from adapters.broker.errors import BrokerError
from devnet.exchange.admin import ExchangeAdmin

T = TypeVar("T")
ORDER = r"/fapi/v1/order$"


async def retrying(fn: Callable[[], Awaitable[T]], attempts: int = 5) -> tuple[T, int]:
    """What Temporal does with a retryable failure: call again (no delay needed here)."""
    for attempt in range(1, attempts + 1):
        try:
            return await fn(), attempt
        except BrokerError as exc:
            if not exc.retryable or attempt == attempts:
                raise
    raise AssertionError("unreachable")


async def orders_with(admin: ExchangeAdmin, cid: str) -> list[dict[str, object]]:
    return [o for o in (await admin.state())["orders"] if o["clientOrderId"] == cid]


async def test_latency(adapter: BrokerAdapter, admin: ExchangeAdmin) -> None:
    await adapter.symbols()
    await admin.add_fault("latency", path=ORDER, method="POST", delay=0.4)
    started = time.monotonic()
    snap = await adapter.create_order(market("BTCUSDT", "buy", "0.01"))
    assert snap.status == "closed" and time.monotonic() - started >= 0.4


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_retryable_and_places_nothing(
    adapter: BrokerAdapter, admin: ExchangeAdmin, status: int
) -> None:
    cid = new_cid()
    await admin.add_fault("http_error", path=ORDER, method="POST", status=status)
    with pytest.raises(BrokerError) as err:
        await adapter.create_order(market("BTCUSDT", "buy", "0.01", cid))
    assert err.value.retryable and err.value.kind in ("BrokerUnavailable", "BrokerTimeout")
    assert await orders_with(admin, cid) == []
    snap = await adapter.create_order(market("BTCUSDT", "buy", "0.01", cid))
    assert snap.status == "closed" and len(await orders_with(admin, cid)) == 1


async def test_5xx_on_query_is_retryable(adapter: BrokerAdapter, admin: ExchangeAdmin) -> None:
    await admin.add_fault("http_error", path=ORDER, method="GET", status=503)
    with pytest.raises(BrokerError) as err:
        await adapter.fetch_order("BTCUSDT", new_cid())
    assert err.value.retryable and err.value.kind == "BrokerUnavailable"


@pytest.mark.parametrize("status", [429, 418])
async def test_rate_limit_carries_retry_after(
    adapter: BrokerAdapter, admin: ExchangeAdmin, status: int
) -> None:
    await adapter.symbols()
    await admin.add_fault("rate_limit", path="/fapi/v3/account", status=status, retry_after=2)
    with pytest.raises(BrokerError) as err:
        await adapter.fetch_balance()
    assert (
        err.value.kind == "BrokerRateLimited" and err.value.retryable and err.value.retry_after == 2
    )
    assert (await adapter.fetch_balance()).asset == "USDT"


async def test_timeout_is_retryable_and_places_nothing(
    adapter: BrokerAdapter, admin: ExchangeAdmin
) -> None:
    cid = new_cid()
    await admin.add_fault("timeout", path=ORDER, method="POST", delay=2.5)  # client timeout 1.5 s
    with pytest.raises(BrokerError) as err:
        await adapter.create_order(market("BTCUSDT", "buy", "0.01", cid))
    assert err.value.kind == "BrokerTimeout" and err.value.retryable
    assert await orders_with(admin, cid) == []


@pytest.mark.parametrize(
    ("code", "msg", "kind"),
    [
        (-2010, "Order would immediately trigger.", "InvalidOrder"),
        (-2019, "Margin is insufficient.", "InsufficientMargin"),
        (-1121, "Invalid symbol.", "UnknownSymbol"),
        (
            -4131,
            "The counterparty's best price does not meet the PERCENT_PRICE filter limit.",
            "BrokerRejected",
        ),
        (-1022, "Signature for this request is not valid.", "BrokerAuthFailed"),
    ],
)
async def test_rejections_are_terminal(
    adapter: BrokerAdapter, admin: ExchangeAdmin, code: int, msg: str, kind: str
) -> None:
    await admin.add_fault("reject", path=ORDER, method="POST", code=code, msg=msg)
    with pytest.raises(BrokerError) as err:
        await adapter.create_order(market("BTCUSDT", "buy", "0.01"))
    assert err.value.kind == kind and not err.value.retryable and err.value.code == str(code)


async def test_create_idempotent_under_response_loss(
    adapter: BrokerAdapter, admin: ExchangeAdmin
) -> None:
    cid = new_cid()
    await admin.add_fault("ack_then_timeout", path=ORDER, method="POST", delay=2.5)
    snap, attempts = await retrying(
        lambda: adapter.create_order(market("BTCUSDT", "buy", "0.01", cid))
    )
    assert (
        attempts == 1 and snap.client_order_id == cid and snap.status == "closed"
    )  # found by look-up
    again = await adapter.create_order(market("BTCUSDT", "buy", "0.01", cid))
    assert again.exchange_order_id == snap.exchange_order_id
    assert len(await orders_with(admin, cid)) == 1


async def test_create_idempotent_when_response_and_lookup_are_lost(
    adapter: BrokerAdapter, admin: ExchangeAdmin
) -> None:
    cid = new_cid()
    await adapter.symbols()
    await admin.add_fault("ack_then_timeout", path=ORDER, method="POST", delay=2.5)
    # the pre-check look-up passes; the look-up after the lost response fails too
    await admin.add_fault("http_error", path=ORDER, method="GET", status=503, skip=1, count=1)
    snap, attempts = await retrying(
        lambda: adapter.create_order(limit("BTCUSDT", "buy", "0.01", "40000", cid))
    )
    assert attempts == 2 and snap.status == "open"
    assert len(await orders_with(admin, cid)) == 1


async def test_cancel_idempotent_under_response_loss(
    adapter: BrokerAdapter, admin: ExchangeAdmin
) -> None:
    cid = new_cid()
    await adapter.create_order(limit("BTCUSDT", "buy", "0.01", "40000", cid))
    await admin.add_fault("ack_then_timeout", path=ORDER, method="DELETE", delay=2.5)
    await admin.add_fault("http_error", path=ORDER, method="GET", status=503, count=1)
    snap, attempts = await retrying(lambda: adapter.cancel_order("BTCUSDT", cid))
    assert attempts == 2 and snap.status == "canceled"  # 2nd attempt: -2011, resolved by look-up


@pytest.mark.parametrize("code", [-4116, -4015])
async def test_duplicate_id_resolves_to_existing_order(
    adapter: BrokerAdapter, admin: ExchangeAdmin, code: int
) -> None:
    cid = new_cid()
    await adapter.symbols()
    # the first attempt reached the exchange, its answer was lost
    first = await adapter.exchange.create_order(
        "BTC/USDT:USDT",
        "limit",
        "buy",
        "0.01",
        "40000",
        {"clientOrderId": cid, "timeInForce": "GTC"},
    )
    await admin.add_fault("lookup_miss", count=1)  # the retry's look-up does not see it yet
    if code == -4015:  # venues that answer a reused id with "not valid"
        await admin.add_fault(
            "reject", path=ORDER, method="POST", code=-4015, msg="Client order id is not valid."
        )
    snap = await adapter.create_order(limit("BTCUSDT", "buy", "0.01", "40000", cid))
    assert snap.exchange_order_id == str(first["id"])
    assert len(await orders_with(admin, cid)) == 1


async def test_bad_credentials_are_terminal(
    adapter: BrokerAdapter, exchange_under_test: ExchangeUnderTest
) -> None:
    await adapter.symbols()
    bad = BrokerAdapter.from_config(replace(exchange_under_test.broker, api_secret="wrong"))
    try:
        with pytest.raises(BrokerError) as err:
            await bad.fetch_balance()
        assert (
            err.value.kind == "BrokerAuthFailed"
            and not err.value.retryable
            and err.value.code == "-1022"
        )
    finally:
        await bad.close()


async def test_stale_timestamp_is_rejected(adapter: BrokerAdapter) -> None:
    await adapter.symbols()
    adapter.exchange.options["timeDifference"] = 70_000  # our clock 70 s behind: outside recvWindow
    with pytest.raises(BrokerError) as err:
        await adapter.fetch_balance()
    assert err.value.kind == "BrokerClockSkew" and err.value.retryable and err.value.code == "-1021"


async def test_create_idempotent_when_a_filled_order_meets_read_lag(
    adapter: BrokerAdapter, admin: ExchangeAdmin
) -> None:
    cid = new_cid()
    await adapter.symbols()
    # the MARKET order fills, its response is lost, and the next two look-ups miss (read lag)
    await admin.add_fault("ack_then_timeout", path=ORDER, method="POST", delay=2.5)
    await admin.add_fault("lookup_miss", path=ORDER, method="GET", count=None, duration=3.0)
    try:
        await retrying(lambda: adapter.create_order(market("BTCUSDT", "buy", "0.01", cid)))
    except BrokerError:
        pass  # giving up is safe; placing twice is not
    assert len(await orders_with(admin, cid)) == 1, "the hedge was placed twice"
