"""Issue #10, in process: every request the attacker's probe sent gets a 4xx with a clear
message (or a clean answer), never a 5xx; limits are checked before any work; the admin token
before an admin body is read; 422s have the documented array shape."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from conftest import Seed
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from temporalio.client import Client

from adapters.risk_control import RiskControl
from api.app import create_app
from config.settings import Settings
from interfaces.risk import TradingStateChange

JSON = {"content-type": "application/json"}
BIG = str(2**63)  # one above int64
DEEP = "[" * 100_000 + "]" * 100_000
ADDR = "0x" + "ab" * 20


def _is_422_array(r: httpx.Response, *words: str) -> None:
    assert r.status_code == 422, (r.status_code, r.text[:300])
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail, detail
    for item in detail:
        assert {"loc", "msg", "type"} <= set(item) and isinstance(item["loc"], list)
    joined = " ".join(item["msg"] for item in detail).lower()
    for word in words:
        assert word.lower() in joined, (word, detail)


@pytest.fixture
async def small(
    api_settings: Settings, engine: AsyncEngine, temporal_client: Client
) -> AsyncIterator[httpx.AsyncClient]:
    """An app with small limits, to reach each limit with small requests."""
    settings = api_settings.model_copy(
        update={"api_max_list_items": 5, "api_max_string_chars": 100, "api_max_reason_chars": 20}
    )
    app = create_app(settings, db_engine=engine, temporal_client=temporal_client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hedger.test"
    ) as client:
        yield client


# --- nesting, size, auth before body --------------------------------------------------------


async def test_deep_nesting_is_refused_before_parsing(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    headers = {"content-type": "application/json"}
    r = await http.post("/position-state/0/10", content=DEEP, headers=headers)
    _is_422_array(r, "nested deeper")
    r = await http.post("/admin/trading-state", content=DEEP, headers=headers)
    assert r.status_code == 401  # the token is checked first
    r = await http.post("/admin/trading-state", content=DEEP, headers={**headers, **admin_headers})
    _is_422_array(r, "nested deeper")
    # strings are skipped when counting: brackets inside a string are no nesting
    r = await http.post(
        "/position-state/0/10",
        json={"address": ADDR, "states": ["[" * 40, "{" * 40]},
        headers=headers,
    )
    assert r.status_code == 200, r.text


async def test_admin_token_is_checked_before_the_body_is_read(http: httpx.AsyncClient) -> None:
    """A 50 MB body to /admin/* without a token: 401 without reading a byte of it."""
    read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        for _ in range(50):
            read += 1
            yield b" " * 1_000_000

    r = await http.post("/admin/trading-state", content=body(), headers=JSON)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert read <= 1  # httpx may start the first chunk; the app never asked for more
    r = await http.post(
        "/admin/quotes/1/retry", json={"reason": "x"}, headers={"Authorization": "Bearer nope"}
    )
    assert r.status_code == 403 and r.json() == {"detail": "invalid admin token"}


async def test_a_10mb_body_is_refused_in_milliseconds(http: httpx.AsyncClient) -> None:
    payload = json.dumps({"address": ADDR, "states": ["x" * 4] * 2_000_000}).encode()
    assert len(payload) > 10_000_000
    start = time.perf_counter()
    by_length = await http.post("/position-state/0/10", content=payload, headers=JSON)
    elapsed = time.perf_counter() - start
    assert by_length.status_code == 413, by_length.text
    assert "larger than" in by_length.json()["detail"]
    assert elapsed < 0.5, elapsed

    async def streamed() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 65536):
            yield payload[i : i + 65536]

    start = time.perf_counter()
    chunked = await http.post("/position-state/0/10", content=streamed(), headers=JSON)
    assert chunked.status_code == 413
    assert time.perf_counter() - start < 0.5


async def test_non_json_body_is_415(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/position-state/0/10", content=b"\xff\xfe", headers={"content-type": "text/plain"}
    )
    assert r.status_code == 415
    r = await http.post("/position-state/0/10", content=json.dumps({"address": ADDR}))
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    r = await http.post(
        "/position-state/0/10", content=b"\xff\xfe", headers={"content-type": "application/json"}
    )
    _is_422_array(r, "not utf-8")


# --- integers -------------------------------------------------------------------------------


async def test_integers_beyond_int64_are_422(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    _is_422_array(await http.get(f"/notional_cap/{BIG}"))
    _is_422_array(await http.get(f"/error_codes/{BIG}"))
    _is_422_array(
        await http.post(f"/admin/quotes/{BIG}/retry", json={"reason": "x"}, headers=admin_headers)
    )
    _is_422_array(await http.post(f"/position-state/{BIG}/10", json={"address": ADDR}))
    for body in (
        {"quote_id": BIG},
        {"address": ADDR, "create_time_gte": 2**63},
        {"address": ADDR, "modify_time_gte": -(2**63) - 1},
    ):
        _is_422_array(await http.post("/position-state/0/10", json=body))
    # an int literal beyond int64 is refused by the guard, whatever the field
    _is_422_array(
        await http.post(
            "/position-state/0/10", content='{"quote_id": ' + "9" * 5000 + "}", headers=JSON
        ),
        "64 bits",
    )
    ok = await http.post("/position-state/0/10", json={"quote_id": str(2**63 - 1)})
    assert ok.status_code == 200 and ok.json()["count"] == 0


async def test_nan_and_infinite_numbers_are_422(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for raw in (
        '{"address": "' + ADDR + '", "create_time_gte": NaN}',
        '{"address": "' + ADDR + '", "create_time_gte": 1e400}',
        '{"address": "' + ADDR + '", "create_time_gte": -Infinity}',
    ):
        _is_422_array(await http.post("/position-state/0/10", content=raw, headers=JSON), "number")
    r = await http.post(
        "/admin/trading-state",
        content='{"state": NaN, "reason": 1e999}',
        headers={**JSON, **admin_headers},
    )
    _is_422_array(r, "number")
    # a finite float where an int is expected: FastAPI's own 422, encodable
    r = await http.post(
        "/position-state/0/10",
        content='{"address": "' + ADDR + '", "create_time_gte": 1.5}',
        headers=JSON,
    )
    _is_422_array(r)


# --- NUL, lone surrogates, exact addresses --------------------------------------------------


async def test_nul_bytes_anywhere_are_422(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for url in (
        "/price-range/%00",
        "/get_locked_params/%00?leverage=10",
        "/get_funding_info?symbols=%00",
        "/get_funding_info?symbols=BTC%00USDT",
        "/notional_cap/1?x=%00",
    ):
        _is_422_array(await http.get(url), "nul")
    for url in ("/admin/quotes?status=%00", "/admin/positions?party_a=%00"):
        _is_422_array(await http.get(url, headers=admin_headers), "nul")
    for body in (
        {"address": ADDR, "symbols": ["\u0000"]},
        {"address": ADDR, "states": ["\u0000"]},
        {"address": "\u0000"},
    ):
        _is_422_array(await http.post("/position-state/0/10", json=body), "nul")


async def test_lone_surrogates_and_invalid_utf8_are_422(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    raw = '{"address": "' + ADDR + '", "symbols": ["\\ud800"]}'
    _is_422_array(await http.post("/position-state/0/10", content=raw, headers=JSON), "surrogate")
    raw = '{"state": "HALTED", "reason": "\\udfff"}'
    _is_422_array(
        await http.post("/admin/trading-state", content=raw, headers={**JSON, **admin_headers})
    )
    # a proper surrogate pair is an ordinary character
    raw = '{"address": "' + ADDR + '", "symbols": ["\\ud83d\\ude00"]}'
    pair = await http.post("/position-state/0/10", content=raw, headers=JSON)
    assert pair.status_code == 200, pair.text
    _is_422_array(await http.get("/price-range/%ED%A0%80"), "utf-8")
    _is_422_array(await http.get("/get_funding_info?symbols=%FF"), "utf-8")


async def test_addresses_match_exactly(http: httpx.AsyncClient, engine: AsyncEngine) -> None:
    sub = "0x" + "5e" * 20
    r = await http.get(f"/add-sub-address-in-whitelist/{sub}%0A/{ADDR}")
    assert r.status_code == 400 and r.json()["successful"] is False
    r = await http.get(f"/add-sub-address-in-whitelist/{sub}/{ADDR}%0A")
    assert r.status_code == 400
    assert (await http.get(f"/check_in-whitelist/{sub}%0A/{ADDR}")).json() is None
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT count(*) FROM whitelist WHERE lower(sub_account) LIKE :a"),
                {"a": sub.lower() + "%"},
            )
        ).scalar()
    assert rows == 0
    r = await http.post("/position-state/0/10", json={"address": ADDR + "\n"})
    assert r.status_code == 200  # the body's address is stripped first, as before


async def test_leverage_out_of_numeric_range_is_400(http: httpx.AsyncClient, seeded: Seed) -> None:
    r = await http.get("/get_locked_params/BTCUSDT", params={"leverage": "1e-99999"})
    assert r.status_code == 400 and "leverage" in r.json()["detail"]
    r = await http.get("/get_locked_params/BTCUSDT", params={"leverage": "1" * 41})
    _is_422_array(r)


# --- lengths --------------------------------------------------------------------------------


async def test_list_and_string_lengths_are_bounded(
    http: httpx.AsyncClient, small: httpx.AsyncClient
) -> None:
    # beyond Postgres' 32,767 bind parameters: refused at the edge, not by the driver
    many = {"address": ADDR, "states": ["a"] * 40_000}
    _is_422_array(await http.post("/position-state/0/10", json=many), "1000 items")
    _is_422_array(
        await small.post("/position-state/0/10", json={"address": ADDR, "symbols": ["a"] * 6}),
        "5 items",
    )
    _is_422_array(await small.get("/get_funding_info?" + "&".join(["symbols=a"] * 6)), "more than")
    long = {"address": ADDR, "states": ["s" * 101]}
    _is_422_array(await small.post("/position-state/0/10", json=long), "longer than 100")
    _is_422_array(await small.get("/open-interest?x=" + "y" * 101), "longer than 100")
    assert (await small.post("/position-state/0/10", json={"address": ADDR})).status_code == 200


async def test_operator_reason_is_bounded(
    http: httpx.AsyncClient, small: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    huge = {"state": "HALTED", "reason": "r" * 3_000_000}
    assert (
        await http.post("/admin/trading-state", json=huge, headers=admin_headers)
    ).status_code == 413
    r = await small.post(
        "/admin/trading-state", json={"state": "HALTED", "reason": "r" * 21}, headers=admin_headers
    )
    _is_422_array(r, "longer than 20")
    r = await small.post("/admin/quotes/1/retry", json={"reason": "r" * 21}, headers=admin_headers)
    _is_422_array(r, "longer than 20")


# --- error shape, headers -------------------------------------------------------------------


async def test_422_detail_is_always_an_array(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    r = await http.post("/admin/quotes/1/retry", json={"reason": "   "}, headers=admin_headers)
    _is_422_array(r, "blank")
    r = await http.post(
        "/admin/trading-state", json={"state": "HALTED", "reason": "  "}, headers=admin_headers
    )
    _is_422_array(r, "blank")
    _is_422_array(
        await http.post("/position-state/0/10", content="{broken", headers=JSON), "invalid json"
    )


async def test_x_operator_is_utf8(
    http: httpx.AsyncClient,
    admin_headers: dict[str, str],
    risk_control_worker: None,
    api_settings: Settings,
    temporal_client: Client,
) -> None:
    risk = RiskControl(temporal_client, api_settings.chain_id)
    bad = await http.post(
        "/admin/trading-state",
        json={"state": "HALTED", "reason": "latin-1?"},
        headers={**admin_headers, "X-Operator": b"Jos\xe9"},  # type: ignore[dict-item]
    )
    _is_422_array(bad, "utf-8")
    try:
        r = await http.post(
            "/admin/trading-state",
            json={"state": "REDUCE_ONLY", "reason": "utf-8 name"},
            headers={**admin_headers, "X-Operator": "José".encode()},  # type: ignore[dict-item]
        )
        assert r.status_code == 200, r.text
        assert r.json()["changed_by"] == "admin-api:José"
    finally:
        await risk.set_trading_state(TradingStateChange("ACTIVE", "test cleanup", "tests"))


# --- OpenAPI --------------------------------------------------------------------------------


async def test_openapi_documents_what_is_returned(http: httpx.AsyncClient) -> None:
    doc = (await http.get("/openapi.json")).json()
    paths = doc["paths"]
    post = paths["/position-state/{start}/{size}"]["post"]["responses"]
    assert {"200", "400", "413", "415", "422", "503"} <= set(post)
    admin = paths["/admin/trading-state"]["post"]["responses"]
    assert {"200", "401", "403", "413", "422", "503"} <= set(admin)
    assert paths["/admin/quotes/{quote_id}/{action}"]["post"]["responses"].keys() >= {"404", "409"}
    assert list(paths["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    assert "503" in paths["/healthz"]["get"]["responses"]
    schemas = doc["components"]["schemas"]
    assert schemas["HTTPValidationError"]["properties"]["detail"]["type"] == "array"
    assert schemas["ErrorMessage"]["required"] == ["detail"]
    quote_id = paths["/admin/quotes/{quote_id}/{action}"]["post"]["parameters"][0]
    assert quote_id["schema"]["maximum"] == 2**63 - 1


# --- websockets -----------------------------------------------------------------------------


@pytest.fixture
def ws_client(api_settings: Settings, seeded: Seed) -> Iterator[TestClient]:
    settings = api_settings.model_copy(update={"api_ws_max_message_bytes": 4096})
    app = create_app(settings, upnl_interval=0.2, poll_interval=0.1)
    with TestClient(app) as tc:
        yield tc


def _recv(ws: WebSocketTestSession) -> Any:
    return ws.receive_json()


def test_ws_bad_strings_get_an_error_and_the_socket_stays(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/ws/funding-rate-ws") as ws:
        ws.send_text(json.dumps({"symbols": ["\u0000"]}))
        assert "NUL" in _recv(ws)["error"]
        ws.send_text('{"symbols": ["\\udc00"]}')
        assert "surrogate" in _recv(ws)["error"]
        ws.send_text(DEEP[:2000])
        assert "nested deeper" in _recv(ws)["error"]
        ws.send_text('{"symbols": [NaN]}')
        assert "number" in _recv(ws)["error"]
        ws.send_text(json.dumps({"symbols": ["BTCUSDT"]}))
        msg = _recv(ws)
        while "BTCUSDT" not in msg:
            msg = _recv(ws)
    with ws_client.websocket_connect("/ws/position-state-ws3") as ws:
        ws.send_text(DEEP[:3000])
        assert "nested deeper" in _recv(ws)["error"]
        ws.send_text(json.dumps({"address": ["\u0000"]}))
        assert "NUL" in _recv(ws)["error"]
    with ws_client.websocket_connect("/ws/upnl-ws") as ws:
        ws.send_text(ADDR + "\n\u0000")
        assert "address" in _recv(ws)["error"]


@pytest.mark.parametrize("route", ["/ws/funding-rate-ws", "/ws/position-state-ws3", "/ws/upnl-ws"])
def test_ws_message_too_big_closes_with_1009(ws_client: TestClient, route: str) -> None:
    with ws_client.websocket_connect(route) as ws:
        ws.send_text(json.dumps({"symbols": ["x" * 5000]}))
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_json()
        assert closed.value.code == 1009


def test_ws_url_with_nul_is_refused(ws_client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as closed:
        with ws_client.websocket_connect("/ws/funding-rate-ws?x=%00") as ws:
            ws.receive_json()
    assert closed.value.code == 1008
