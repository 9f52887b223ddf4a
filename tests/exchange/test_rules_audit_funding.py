"""Binance USD-M's client-order-id rule, the simulator's audit trail, funding, fault windows.

Orders and funding go through the real ccxt client (the hedger's own `make_exchange`), exactly
as the hedger would see them; the audit trail is read from the simulator's admin API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import ccxt
import httpx
import pytest
import websockets

from adapters.broker.client import BrokerConfig, make_exchange
from devnet.exchange.admin import ExchangeAdmin
from devnet.exchange.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, ExchangeConfig
from devnet.exchange.faults import KINDS
from devnet.exchange.server import BackgroundExchange

BTC = "BTC/USDT:USDT"


def _client(server: BackgroundExchange) -> Any:
    return make_exchange(
        BrokerConfig(
            api_key=DEFAULT_API_KEY,
            api_secret=DEFAULT_API_SECRET,
            rest_url=server.rest_url,
            ws_url=server.ws_url,
            timeout_ms=3000,
        )
    )


@pytest.fixture(scope="module")
def frozen() -> Iterator[BackgroundExchange]:
    """A simulator whose prices move only when a test moves them; funding every second."""
    server = BackgroundExchange(ExchangeConfig(tick_interval=0, funding_interval=1.0)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def admin(frozen: BackgroundExchange) -> AsyncIterator[ExchangeAdmin]:
    client = ExchangeAdmin(frozen.rest_url)
    await client.reset()
    await client.set_price("BTCUSDT", "50000")
    try:
        yield client
    finally:
        await client.clear_faults()
        await client.aclose()


@pytest.fixture
async def ex(frozen: BackgroundExchange) -> AsyncIterator[Any]:
    client = _client(frozen)
    await client.load_markets()
    try:
        yield client
    finally:
        await client.close()


async def test_a_client_id_is_unique_among_open_orders_only(ex: Any, admin: ExchangeAdmin) -> None:
    first = await ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "h7o1"})
    assert first["status"] == "closed"
    # filled: Binance accepts the same id again, as a new order (a second hedge!)
    second = await ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "h7o1"})
    assert second["id"] != first["id"] and second["status"] == "closed"
    assert [o["orderId"] for o in await admin.orders(client_order_id="h7o1")] == [
        int(first["id"]),
        int(second["id"]),
    ]
    # a query by client id answers the newest order under it
    assert (await ex.fetch_order(None, BTC, {"origClientOrderId": "h7o1"}))["id"] == second["id"]

    # open: the id is refused with Binance's duplicate code while that order rests
    resting = await ex.create_order(
        BTC, "limit", "buy", 0.01, 40000, {"clientOrderId": "h8o1", "timeInForce": "GTC"}
    )
    with pytest.raises(ccxt.BaseError, match="-4116"):
        await ex.create_order(
            BTC, "limit", "buy", 0.01, 40000, {"clientOrderId": "h8o1", "timeInForce": "GTC"}
        )
    await ex.cancel_order(resting["id"], BTC)
    again = await ex.create_order(
        BTC, "limit", "buy", 0.01, 40000, {"clientOrderId": "h8o1", "timeInForce": "GTC"}
    )
    assert again["id"] != resting["id"] and again["status"] == "open"
    placed = await admin.placements(client_order_id="h8o1")
    assert [p["accepted"] for p in placed] == [True, False, True]
    assert placed[1]["code"] == -4116


@pytest.mark.parametrize(
    ("config", "reused_after_fill", "code"),
    [
        (ExchangeConfig(tick_interval=0, duplicate_client_id_code=-4015), True, "-4015"),
        (ExchangeConfig(tick_interval=0, client_ids_unique_forever=True), False, "-4116"),
    ],
)
async def test_duplicate_code_and_strict_mode_are_configurable(
    config: ExchangeConfig, reused_after_fill: bool, code: str
) -> None:
    server = BackgroundExchange(config).start()
    client = _client(server)
    try:
        await client.load_markets()
        await client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "h1o1"})
        if reused_after_fill:
            await client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "h1o1"})
        else:
            with pytest.raises(ccxt.BaseError, match=code):
                await client.create_order(
                    BTC, "market", "buy", 0.01, None, {"clientOrderId": "h1o1"}
                )
        params = {"clientOrderId": "h2o1", "timeInForce": "GTC"}
        await client.create_order(BTC, "limit", "buy", 0.01, 40000, params)
        with pytest.raises(ccxt.BaseError, match=code):
            await client.create_order(BTC, "limit", "buy", 0.01, 40000, params)
    finally:
        await client.close()
        server.stop()


async def test_audit_counts_orders_and_trades_per_client_id_and_quote(
    ex: Any, admin: ExchangeAdmin
) -> None:
    await ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "h11o1"})
    await ex.create_order(BTC, "market", "sell", 0.004, None, {"clientOrderId": "h11c5n1"})
    await ex.create_order(BTC, "market", "sell", 0.006, None, {"clientOrderId": "h11c5n2"})
    await ex.create_order(BTC, "market", "buy", 0.02, None, {"clientOrderId": "h111o1"})
    await ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "h11o1"})  # again
    await ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "manual-1"})

    trades = await admin.trades(quote=11)
    assert sorted(t["clientOrderId"] for t in trades) == ["h11c5n1", "h11c5n2", "h11o1", "h11o1"]
    assert all({"qty", "side", "price", "orderId"} <= set(t) for t in trades)
    assert [o["clientOrderId"] for o in await admin.orders(prefix="h111")] == ["h111o1"]

    audit = await admin.audit()
    q11 = audit["quotes"]["11"]
    assert q11["orders"] == 4 and Decimal(q11["bought"]) == Decimal("0.02")
    assert Decimal(q11["sold"]) == Decimal("0.01") and Decimal(q11["net"]) == Decimal("0.01")
    assert (
        audit["client_ids"]["h11o1"]["orders"] == 2 and audit["client_ids"]["h11o1"]["trades"] == 2
    )
    assert Decimal(audit["quotes"]["111"]["net"]) == Decimal("0.02")
    assert "manual-1" in audit["client_ids"] and set(audit["quotes"]) == {"11", "111"}
    # Binance's own userTrades rows stay as Binance shapes them (no client order id)
    mine = await ex.fetch_my_trades(BTC)
    assert mine and all("clientOrderId" not in t["info"] for t in mine)


async def _funding_rows(ex: Any, since: int, *, at_least: int) -> list[Any]:
    """The funding payments since `since`, once at least `at_least` epochs (1 s each) have paid:
    polled, not slept for, so a loaded machine is slower but never wrong."""
    deadline = time.monotonic() + 20
    while True:
        rows = list(await ex.fetch_funding_history(BTC, since))
        if len(rows) >= at_least or time.monotonic() > deadline:
            assert len(rows) >= at_least, rows
            return rows
        await asyncio.sleep(0.2)


async def test_funding_rate_history_and_payments_through_ccxt(
    ex: Any, admin: ExchangeAdmin
) -> None:
    await admin.set_funding_rate("BTCUSDT", "0.001")
    rate = await ex.fetch_funding_rate(BTC)
    assert rate["fundingRate"] == 0.001
    now = time.time() * 1000
    # the next funding time (1-s epochs); it may have passed while the answer travelled
    assert now - 1000 < rate["fundingTimestamp"] <= now + 1000

    await ex.create_order(BTC, "market", "buy", 0.1, None, {"clientOrderId": "h21o1"})
    since = int(time.time() * 1000)
    # epochs keep paying while the test reads (and ccxt spaces its income calls 1.5 s apart),
    # so the wallet is compared with the epochs its own snapshot says it has paid: each state
    # read gives the wallet and the next funding time together
    before = await admin.state()
    await _funding_rows(ex, since, at_least=3)
    after = await admin.state()
    rows = list(await ex.fetch_funding_history(BTC, since))  # read after: it has every epoch
    # a long pays a positive rate: 0.1 BTC x 50000 x 0.001 = 5 USDT per epoch
    assert all(Decimal(str(p["amount"])) == Decimal("-5") for p in rows)
    assert all(p["info"]["incomeType"] == "FUNDING_FEE" for p in rows)
    assert len({p["id"] for p in rows}) == len(rows)
    start, end = before["next_funding_time"], after["next_funding_time"]
    paid = [p for p in rows if start <= p["timestamp"] < end]
    assert len(paid) >= 2
    wallet_moved = Decimal(after["wallet"]) - Decimal(before["wallet"])
    assert wallet_moved == sum(Decimal(str(p["amount"])) for p in paid)

    history = await ex.fetch_funding_rate_history(BTC, since)
    times = [h["timestamp"] for h in history]
    assert len(history) >= 2 and all(h["fundingRate"] == 0.001 for h in history)
    assert times == sorted(set(times)) and all(t % 1000 == 0 for t in times)  # each epoch once

    await admin.set_funding_rate("BTCUSDT", "-0.002")  # shorts pay, the long receives
    since = int(time.time() * 1000)
    received = await _funding_rows(ex, since, at_least=1)
    assert all(Decimal(str(p["amount"])) == Decimal("10") for p in received)
    assert (await ex.fetch_funding_rate(BTC))["fundingRate"] == -0.002


async def test_a_symbol_on_its_own_funding_interval_and_a_funding_event_on_demand(
    ex: Any, admin: ExchangeAdmin
) -> None:
    """ETHUSDT moved to 4-h funding (as Binance's adjusted symbols): `fundingInfo` lists it (and
    only it) for ccxt's `fetch_funding_intervals`, its next funding time is 4-h aligned, and a
    funding event applied now (admin) pays amount x mark x rate as FUNDING_FEE income."""
    eth = "ETH/USDT:USDT"
    await admin.set_price("ETHUSDT", "3000")
    await admin.set_funding_rate("ETHUSDT", "0.0005", interval_hours=4)
    intervals = await ex.fetch_funding_intervals()
    assert {k: v["interval"] for k, v in intervals.items()} == {eth: "4h"}
    nxt = (await ex.fetch_funding_rate(eth))["fundingTimestamp"]
    assert nxt % (4 * 3600_000) == 0 and nxt > time.time() * 1000
    await ex.create_order(eth, "market", "sell", 1.0, None, {"clientOrderId": "h22o1"})
    since = int(time.time() * 1000)
    rows = await admin.settle_funding("ETHUSDT")
    assert [r["incomeType"] for r in rows] == ["FUNDING_FEE"]
    paid = await ex.fetch_funding_history(eth, since)
    # a short receives a positive rate: 1 ETH x 3000 x 0.0005 = 1.5 USDT
    assert [Decimal(str(p["amount"])) for p in paid] == [Decimal("1.5")]
    assert (await ex.fetch_funding_rate(eth))["fundingTimestamp"] == nxt  # schedule unchanged
    with pytest.raises(httpx.HTTPStatusError):
        await admin.set_funding_rate("ETHUSDT", "0.0005", interval_hours=0)


async def test_every_fault_kind_opens_as_a_window(admin: ExchangeAdmin) -> None:
    for kind in KINDS:
        fault = await admin.add_fault(kind, count=None, duration=0.4, path=r"^/nothing$")
        assert fault["duration"] == 0.4
    assert {f["kind"] for f in await admin.faults() if f["open"]} == set(KINDS)
    await asyncio.sleep(0.5)
    assert not [f for f in await admin.faults() if f["open"]]
    counted = await admin.add_fault("http_error", count=2, path=r"^/fapi/v1/ping$")
    async with httpx.AsyncClient(base_url=admin.base_url) as http:
        codes = [(await http.get("/fapi/v1/ping")).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert next(f for f in await admin.faults() if f["id"] == counted["id"])["fired"] == 2


async def test_lookup_miss_window_on_order_queries(ex: Any, admin: ExchangeAdmin) -> None:
    placed = await ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "h31o1"})
    await admin.add_fault(
        "lookup_miss", path=r"/fapi/v1/order$", method="GET", count=None, duration=0.8
    )
    for _ in range(3):  # every look-up inside the window misses (read lag)
        with pytest.raises(ccxt.OrderNotFound):
            await ex.fetch_order(None, BTC, {"origClientOrderId": "h31o1"})
    await asyncio.sleep(0.9)
    assert (await ex.fetch_order(None, BTC, {"origClientOrderId": "h31o1"}))["id"] == placed["id"]


async def test_fill_delay_window(ex: Any, admin: ExchangeAdmin) -> None:
    await admin.set_fill_delay(0.5, duration=1.0)
    order = await ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "h41o1"})
    assert order["status"] == "open"
    await asyncio.sleep(0.7)
    assert (await ex.fetch_order(order["id"], BTC))["status"] == "closed"
    await asyncio.sleep(0.5)  # window closed: fills are immediate again
    later = await ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "h41o2"})
    assert later["status"] == "closed"


async def test_ws_drop_window_closes_streams_and_refuses_reconnects(
    frozen: BackgroundExchange, admin: ExchangeAdmin
) -> None:
    async with httpx.AsyncClient(base_url=frozen.rest_url) as http:
        key = (
            await http.post("/fapi/v1/listenKey", headers={"X-MBX-APIKEY": DEFAULT_API_KEY})
        ).json()["listenKey"]
    url = f"{frozen.ws_url.removesuffix('/ws')}/private/ws?listenKey={key}"
    async with websockets.connect(url) as ws:
        await asyncio.sleep(0.1)
        await admin.add_fault("ws_drop", count=None, duration=0.8)
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 2)
    with pytest.raises(websockets.exceptions.WebSocketException):
        async with websockets.connect(url) as ws:
            await asyncio.wait_for(ws.recv(), 1)
    await asyncio.sleep(0.9)
    async with websockets.connect(url) as ws:  # window closed: accepted again
        await asyncio.sleep(0.1)
        assert (await admin.state())["ws_connections"] == 1
