"""Per-client limits (#12) on the real stack.

In process (the whole middleware stack, the rate limit's clock moved by hand): a client over its
rate gets a 429 with a clear message and Retry-After that a browser can read (CORS); another
client is not affected; X-Forwarded-For counts only from a trusted proxy.

On the real `hedger api` process (clients bound to distinct loopback addresses): websockets
beyond the per-client and the total bound are closed with 1013 and a reason; X-Forwarded-For
from an untrusted peer changes nothing; closed and dropped connections give their slot back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from api_process import ApiProcess, api_process, own_database
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from api.app import create_app
from config.settings import Settings, load_settings

PER_CLIENT = 3
TOTAL = 5
BURST = 200  # the process's bucket: 200 at once, then one token every 100 s
ADDR = "0x" + "ab" * 20


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _client(app: object, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://hedger.test")


async def test_over_the_rate_a_429_with_retry_after_and_other_clients_unaffected(
    api_settings: Settings, engine: AsyncEngine, temporal_client: Client
) -> None:
    settings = load_settings(
        **{**api_settings.model_dump(), "api_requests_per_second": 0.5, "api_request_burst": 3}
    )
    clock = Clock()
    app = create_app(settings, db_engine=engine, temporal_client=temporal_client, clock=clock)
    async with _client(app) as a, _client(app, "192.0.2.9") as b:
        for _ in range(3):
            assert (await a.get("/error_codes/4000")).status_code == 200
        r = await a.get("/error_codes/4000", headers={"Origin": "https://app.example"})
        assert r.status_code == 429
        assert r.headers["retry-after"] == "2"
        assert r.headers["access-control-allow-origin"] == "*"  # a browser can read it
        assert r.json() == {
            "detail": "too many requests from this client (at most 0.5 per second, "
            "bursts of 3); retry after 2 s"
        }
        # refused before the body is read or checked: an admin call without a token is a 429
        r = await a.post("/admin/trading-state", content=b"[" * 1000)
        assert r.status_code == 429
        assert (await b.get("/error_codes/4000")).status_code == 200  # its own bucket
        clock.now += 1.0
        assert (await a.get("/error_codes/4000")).status_code == 429
        assert (await a.get("/error_codes/4000")).headers["retry-after"] == "1"
        clock.now += 1.0
        assert (await a.get("/error_codes/4000")).status_code == 200
        assert (await a.get("/error_codes/4000")).status_code == 429
        metrics = (await b.get("/metrics")).text
        assert 'hedger_api_client_limit_refusals_total{kind="rate"}' in metrics


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(
    api_settings: Settings, engine: AsyncEngine, temporal_client: Client
) -> None:
    base = {**api_settings.model_dump(), "api_requests_per_second": 0.001, "api_request_burst": 1}
    for trusted, separate in (([], False), (["127.0.0.0/8"], True)):
        settings = load_settings(**{**base, "api_trusted_proxies": trusted})
        app = create_app(settings, db_engine=engine, temporal_client=temporal_client)
        async with _client(app) as proxy:
            assert (await proxy.get("/error_codes/4000")).status_code == 200
            r = await proxy.get("/error_codes/4000", headers={"X-Forwarded-For": "198.51.100.4"})
            assert (r.status_code == 200) is separate, (trusted, r.status_code)
            # spoofing the left of the header does not buy a new bucket behind a proxy either
            r = await proxy.get(
                "/error_codes/4000", headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.4"}
            )
            assert r.status_code == 429, trusted


# --- the real process ----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def api(
    settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ApiProcess]:
    url = await own_database(database_url)
    log = Path(tmp_path_factory.mktemp("limits")) / "api.log"
    env = {
        "HEDGER_CHAIN_ID": "464646",
        "HEDGER_API_MAX_WS_PER_CLIENT": str(PER_CLIENT),
        "HEDGER_API_MAX_WS_TOTAL": str(TOTAL),
        "HEDGER_API_REQUESTS_PER_SECOND": "0.01",
        "HEDGER_API_REQUEST_BURST": str(BURST),
    }
    async with api_process(
        database_url=url, temporal_address=settings.temporal_address, log_path=log, extra_env=env
    ) as running:
        yield running


def _open(api: ApiProcess, ip: str, **headers: str) -> ws_connect:
    return ws_connect(
        f"{api.ws_base}/ws/upnl-ws", local_addr=(ip, 0), additional_headers=headers or None
    )


async def _served(ws: ClientConnection) -> None:
    """The socket is served: it answers the client's subscription."""
    await ws.send(ADDR)
    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert "upnl" in message, message


async def _refused(ws: ClientConnection, reason: str) -> None:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None, "no close frame (1006)"
    assert closed.value.rcvd.code == 1013, closed.value.rcvd
    assert reason in closed.value.rcvd.reason, closed.value.rcvd


async def _open_all(api: ApiProcess, ip: str, n: int, stack: AsyncExitStack) -> None:
    """Open `n` sockets from `ip`, retrying while the server still holds the slots of
    connections that were just closed (it releases them when their handlers end)."""
    deadline = time.monotonic() + 15
    while True:
        async with AsyncExitStack() as attempt:
            try:
                for _ in range(n):
                    await _served(await attempt.enter_async_context(_open(api, ip)))
            except ConnectionClosed:
                if time.monotonic() > deadline:
                    raise
            else:
                stack.push_async_exit(attempt.pop_all())
                return
        await asyncio.sleep(0.2)


async def test_websockets_are_bounded_per_client_and_in_total_and_closed_ones_free_slots(
    api: ApiProcess,
) -> None:
    async with AsyncExitStack() as stack:
        for _ in range(PER_CLIENT):
            await _served(await stack.enter_async_context(_open(api, "127.0.0.1")))
        async with _open(api, "127.0.0.1") as extra:
            await _refused(extra, f"at most {PER_CLIENT} websockets per client")
        # X-Forwarded-For from a peer that is not a trusted proxy names nobody else
        async with _open(api, "127.0.0.1", **{"X-Forwarded-For": "198.51.100.4"}) as spoofed:
            await _refused(spoofed, "per client")
        for _ in range(TOTAL - PER_CLIENT):
            await _served(await stack.enter_async_context(_open(api, "127.0.0.2")))
        async with _open(api, "127.0.0.3") as third:
            await _refused(third, f"limit of {TOTAL} websockets")
        assert api.alive
    # all closed (with close frames): the same client opens as many again
    async with AsyncExitStack() as stack:
        await _open_all(api, "127.0.0.1", PER_CLIENT, stack)
        # dropped without a close frame (a tab killed, a network gone): the slots come back too
        for ws in [await stack.enter_async_context(_open(api, "127.0.0.2"))]:
            await _served(ws)
            ws.transport.abort()
    async with AsyncExitStack() as stack:
        await _open_all(api, "127.0.0.2", TOTAL - PER_CLIENT, stack)
        await _open_all(api, "127.0.0.1", PER_CLIENT, stack)
    assert api.alive, api.log()[-3000:]


async def test_over_the_rate_the_process_answers_429_and_refuses_websockets(
    api: ApiProcess,
) -> None:
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.9")
    async with httpx.AsyncClient(base_url=api.base, transport=transport, timeout=10) as client:
        codes = [(await client.get("/error_codes/4000")).status_code for _ in range(BURST)]
        assert codes == [200] * BURST
        r = await client.get("/error_codes/4000")
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["retry-after"]) <= 100
        assert "too many requests from this client" in r.json()["detail"]
    async with _open(api, "127.0.0.9") as ws:
        await _refused(ws, "too many requests")
    async with httpx.AsyncClient(base_url=api.base, timeout=10) as other:  # 127.0.0.1
        assert (await other.get("/error_codes/4000")).status_code == 200
    assert " 429 " in api.log()  # the access log records the refusals
