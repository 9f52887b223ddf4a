"""The real `hedger api` process under the requests that killed or exhausted it (#10): it answers
each with a 4xx or a close frame, stays up, keeps its memory, and logs no query string."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil
import pytest
from api_process import ApiProcess, api_process, own_database
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from config.settings import Settings

TOKEN = "hostile-process-admin-token"
CRASH_BODY = "[" * 100_000 + "]" * 100_000  # killed the process with SIGSEGV before the fix
JSON = {"content-type": "application/json"}
ADDR = "0x" + "ab" * 20


@pytest.fixture(scope="module")
async def api(
    settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ApiProcess]:
    url = await own_database(database_url)
    log = Path(tmp_path_factory.mktemp("hostile")) / "api.log"
    env = {"HEDGER_ADMIN_TOKEN": TOKEN, "HEDGER_CHAIN_ID": "424242"}
    async with api_process(
        database_url=url, temporal_address=settings.temporal_address, log_path=log, extra_env=env
    ) as running:
        yield running


async def _healthy(api: ApiProcess) -> None:
    assert api.alive, api.log()[-3000:]
    async with httpx.AsyncClient(base_url=api.base, timeout=5) as client:
        assert (await client.get("/healthz")).status_code == 200


async def test_the_crash_body_gets_a_4xx_and_the_process_lives(api: ApiProcess) -> None:
    async with httpx.AsyncClient(base_url=api.base, timeout=10) as client:
        r = await client.post("/admin/trading-state", content=CRASH_BODY, headers=JSON)
        assert r.status_code == 401, r.text
        auth = {**JSON, "Authorization": f"Bearer {TOKEN}"}
        r = await client.post("/admin/trading-state", content=CRASH_BODY, headers=auth)
        assert r.status_code == 422 and "nested deeper" in r.text, r.text
        r = await client.post("/position-state/0/10", content=CRASH_BODY, headers=JSON)
        assert r.status_code == 422 and "nested deeper" in r.text, r.text
    await _healthy(api)


async def test_the_crash_message_on_a_websocket_closes_it_and_the_process_lives(
    api: ApiProcess,
) -> None:
    # over the message limit (64 KiB by default): closed with 1009 before it is parsed
    async with ws_connect(f"{api.ws_base}/ws/position-state-ws3") as ws:
        await ws.send(CRASH_BODY)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    # under the limit but deeply nested: an error message, and the socket stays open
    async with ws_connect(f"{api.ws_base}/ws/position-state-ws3") as ws:
        await ws.send("[" * 20_000 + "]" * 20_000)
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert "nested deeper" in reply["error"], reply
        await ws.send(json.dumps({"address": ADDR}))
    async with ws_connect(f"{api.ws_base}/ws/funding-rate-ws") as ws:
        await ws.send(json.dumps({"symbols": ["\u0000"]}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert "error" in reply, reply
        await ws.send(json.dumps({"symbols": ["BTCUSDT"]}))  # still open: no close frame lost
    await _healthy(api)


async def test_ten_megabyte_bodies_are_refused_with_bounded_memory(api: ApiProcess) -> None:
    payload = json.dumps({"address": ADDR, "states": ["x" * 4] * 2_000_000}).encode()
    assert len(payload) > 10_000_000
    process = psutil.Process(api.process.pid)
    before = process.memory_info().rss

    async def streamed() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 65536):
            yield payload[i : i + 65536]

    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        for _ in range(5):
            r = await client.post("/position-state/0/10", content=payload, headers=JSON)
            assert r.status_code == 413, r.text
            r = await client.post("/position-state/0/10", content=streamed(), headers=JSON)
            assert r.status_code == 413, r.text
            r = await client.post("/admin/trading-state", content=payload, headers=JSON)
            assert r.status_code == 401, r.text
    grown = process.memory_info().rss - before
    # before the fix one such body grew the process by about 3 GB
    assert grown < 64 * 1024 * 1024, f"RSS grew by {grown / 1e6:.0f} MB"
    await _healthy(api)


async def test_the_access_log_never_writes_a_query_string(api: ApiProcess) -> None:
    secret = "tok-" + "9f3c" * 8
    async with httpx.AsyncClient(base_url=api.base, timeout=10) as client:
        r = await client.get(f"/contract-symbols?token={secret}")
        assert r.status_code == 200, r.text
        r = await client.get(f"/admin/alerts?access_token={secret}")
        assert r.status_code == 401
    async with ws_connect(f"{api.ws_base}/ws/upnl-ws?token={secret}") as ws:
        await ws.send(json.dumps({"address": ADDR}))
    deadline = asyncio.get_running_loop().time() + 10
    while '"GET /admin/alerts HTTP/1.1" 401' not in api.log():
        assert asyncio.get_running_loop().time() < deadline, api.log()[-3000:]
        await asyncio.sleep(0.1)
    log = api.log()
    assert '"GET /contract-symbols HTTP/1.1" 200' in log
    assert secret not in log
