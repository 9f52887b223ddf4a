"""Simulator-only checks with a hand-rolled Binance client (no ccxt): auth, errors, streams, paths."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import websockets

from devnet.exchange.admin import ExchangeAdmin
from devnet.exchange.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, ExchangeConfig, SymbolSpec
from devnet.exchange.prices import PricePath, load_csv_prices
from devnet.exchange.server import BackgroundExchange


def signed_query(params: dict[str, object], secret: str = DEFAULT_API_SECRET) -> str:
    query = urlencode({**params, "timestamp": params.get("timestamp", int(time.time() * 1000))})
    return (
        query
        + "&signature="
        + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    )


async def call(
    sim: BackgroundExchange,
    method: str,
    path: str,
    params: dict[str, object] | None = None,
    key: str | None = DEFAULT_API_KEY,
    secret: str = DEFAULT_API_SECRET,
) -> httpx.Response:
    headers = {"X-MBX-APIKEY": key} if key else {}
    query = signed_query(params or {}, secret)
    async with httpx.AsyncClient(base_url=sim.rest_url) as http:
        if method in ("GET", "DELETE"):
            return await http.request(method, f"{path}?{query}", headers=headers)
        return await http.request(
            method,
            path,
            content=query,
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        )


async def test_signed_request_round_trip(sim: BackgroundExchange) -> None:
    r = await call(sim, "GET", "/fapi/v3/account")
    assert r.status_code == 200 and r.json()["assets"][0]["asset"] == "USDT"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"secret": "not-the-secret"}, 400, -1022),
        ({"key": None}, 401, -2014),
        ({"key": "someone-else"}, 401, -2015),
        ({"params": {"timestamp": int(time.time() * 1000) - 120_000}}, 400, -1021),
        ({"params": {"recvWindow": 70_000}}, 400, -1131),
    ],
)
async def test_auth_failures_use_binance_codes(
    sim: BackgroundExchange, kwargs: dict[str, object], status: int, code: int
) -> None:
    r = await call(sim, "GET", "/fapi/v3/account", **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status and r.json()["code"] == code


async def test_order_errors_use_binance_codes(sim: BackgroundExchange) -> None:
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    cases = [
        ({**base, "quantity": "0.0105", "price": "40000"}, -1111),
        ({**base, "quantity": "0.01", "price": "40000.05"}, -4014),
        ({**base, "quantity": "0.001", "price": "40000"}, -4164),
        ({**base, "symbol": "FOOUSDT", "quantity": "1", "price": "1"}, -1121),
        ({**base, "quantity": "0.01", "price": "40000", "newClientOrderId": "bad id!"}, -4015),
    ]
    for params, code in cases:
        r = await call(sim, "POST", "/fapi/v1/order", params)
        assert r.json()["code"] == code, (params, r.text)
    ok = {**base, "quantity": "0.01", "price": "40000", "newClientOrderId": "h99o1"}
    assert (await call(sim, "POST", "/fapi/v1/order", ok)).status_code == 200
    assert (await call(sim, "POST", "/fapi/v1/order", ok)).json()["code"] == -4116
    assert (
        await call(
            sim, "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "h99o1"}
        )
    ).json()["status"] == "CANCELED"
    assert (
        await call(
            sim, "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "h99o1"}
        )
    ).json()["code"] == -2011
    # Binance USD-M: the id of a cancelled order may be placed again; that is a new order.
    again = await call(sim, "POST", "/fapi/v1/order", ok)
    assert again.status_code == 200 and again.json()["status"] == "NEW"
    assert (
        await call(
            sim, "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "h99o1"}
        )
    ).json()["status"] == "CANCELED"
    assert (await call(sim, "GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": "1"})).json()[
        "code"
    ] == -2013


async def test_exchange_info_filters(sim: BackgroundExchange) -> None:
    async with httpx.AsyncClient(base_url=sim.rest_url) as http:
        info = (await http.get("/fapi/v1/exchangeInfo")).json()
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert btc["contractType"] == "PERPETUAL" and btc["marginAsset"] == "USDT"
    assert Decimal(filters["PRICE_FILTER"]["tickSize"]) == Decimal("0.1")
    assert Decimal(filters["LOT_SIZE"]["stepSize"]) == Decimal("0.001")
    assert Decimal(filters["MIN_NOTIONAL"]["notional"]) == 100


async def test_random_walk_moves_prices(sim: BackgroundExchange) -> None:
    admin = ExchangeAdmin(sim.rest_url)
    try:
        await admin.freeze(False)
        first = (await admin.state())["prices"]["ETHUSDT"]
        await asyncio.sleep(0.3)
        assert (await admin.state())["prices"]["ETHUSDT"] != first
    finally:
        await admin.aclose()


def test_price_paths_are_seeded_and_replayable(tmp_path: Path) -> None:
    a = PricePath(Decimal(100), Decimal("0.01"), Decimal("0.01"), seed=3)
    b = PricePath(Decimal(100), Decimal("0.01"), Decimal("0.01"), seed=3)
    assert [a.step() for _ in range(50)] == [b.step() for _ in range(50)]
    csv = tmp_path / "prices.csv"
    csv.write_text("time,price\n1,101.5\n2,102.25\n3,99\n")
    assert load_csv_prices(csv) == [Decimal("101.5"), Decimal("102.25"), Decimal("99")]
    replay = PricePath(
        Decimal(1), Decimal("0.01"), Decimal("0"), seed=0, replay=load_csv_prices(csv)
    )
    assert [replay.mid, replay.step(), replay.step(), replay.step()] == [
        Decimal("101.50"),
        Decimal("102.25"),
        Decimal("99.00"),
        Decimal("101.50"),
    ]


async def test_csv_replay_through_the_api(tmp_path: Path) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text("price\n20\n21\n22\n")
    spec = SymbolSpec(
        "SOLUSDT",
        "SOL",
        initial_price=Decimal(1),
        tick_size=Decimal("0.01"),
        step_size=Decimal(1),
        min_qty=Decimal(1),
        csv_path=csv,
    )
    server = BackgroundExchange(ExchangeConfig(symbols=(spec,), tick_interval=0)).start()
    admin = ExchangeAdmin(server.rest_url)
    try:
        assert (await admin.state())["prices"]["SOLUSDT"] == "20"
        assert (await admin.step_prices(2))["SOLUSDT"] == "22"
    finally:
        await admin.aclose()
        server.stop()


async def test_user_stream_events_and_bad_listen_key(sim: BackgroundExchange) -> None:
    async with httpx.AsyncClient(base_url=sim.rest_url) as http:
        key = (
            await http.post("/fapi/v1/listenKey", headers={"X-MBX-APIKEY": DEFAULT_API_KEY})
        ).json()["listenKey"]
        assert (
            await http.put("/fapi/v1/listenKey", headers={"X-MBX-APIKEY": DEFAULT_API_KEY})
        ).status_code == 200
    base = sim.ws_url.removesuffix("/ws")
    with pytest.raises(websockets.exceptions.WebSocketException):
        async with websockets.connect(f"{base}/private/ws?listenKey=wrong") as ws:
            await asyncio.wait_for(ws.recv(), 2)
    async with websockets.connect(f"{base}/private/ws?listenKey={key}") as ws:
        await asyncio.sleep(0.1)
        r = await call(
            sim,
            "POST",
            "/fapi/v1/order",
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.01",
                "newClientOrderId": "h7o1",
            },
        )
        assert r.status_code == 200, r.text
        events = [json.loads(await asyncio.wait_for(ws.recv(), 2)) for _ in range(3)]
    kinds = [
        (e["e"], e["o"]["X"]) if e["e"] == "ORDER_TRADE_UPDATE" else (e["e"], None) for e in events
    ]
    assert kinds == [
        ("ORDER_TRADE_UPDATE", "NEW"),
        ("ORDER_TRADE_UPDATE", "FILLED"),
        ("ACCOUNT_UPDATE", None),
    ]
    assert (
        events[1]["o"]["c"] == "h7o1"
        and events[1]["o"]["x"] == "TRADE"
        and events[1]["o"]["l"] == "0.01"
    )
    assert events[2]["a"]["P"][0]["s"] == "BTCUSDT"


async def test_admin_rejects_unknown_fault_kind(sim: BackgroundExchange) -> None:
    async with httpx.AsyncClient(base_url=sim.rest_url) as http:
        r = await http.post("/admin/faults", json={"kind": "meteor"})
    assert r.status_code == 400 and "unknown fault kind" in r.text


async def test_event_delay_holds_back_stream_events(sim: BackgroundExchange) -> None:
    admin = ExchangeAdmin(sim.rest_url)
    try:
        await admin.set_event_delay(0.5)
        async with httpx.AsyncClient(base_url=sim.rest_url) as http:
            key = (
                await http.post("/fapi/v1/listenKey", headers={"X-MBX-APIKEY": DEFAULT_API_KEY})
            ).json()["listenKey"]
        async with websockets.connect(
            f"{sim.ws_url.removesuffix('/ws')}/private/ws?listenKey={key}"
        ) as ws:
            await asyncio.sleep(0.1)
            started = time.monotonic()
            await call(
                sim,
                "POST",
                "/fapi/v1/order",
                {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "MARKET",
                    "quantity": "0.01",
                    "newClientOrderId": "h8o1",
                },
            )
            await asyncio.wait_for(ws.recv(), 3)
            assert time.monotonic() - started >= 0.45
    finally:
        await admin.clear_faults()
        await admin.aclose()


def test_cli_command_is_a_typer_command() -> None:
    import typer
    from typer.testing import CliRunner

    from devnet.exchange.cli import exchange_command

    app = typer.Typer()
    app.command("exchange")(exchange_command)
    result = CliRunner().invoke(app, ["--help"])
    assert (
        result.exit_code == 0 and "--prices-csv" in result.output and "127.0.0.1" in result.output
    )
