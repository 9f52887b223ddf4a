"""`hedger api` as production runs it: uvicorn in its own process, bound to HEDGER_API_HOST:PORT,
real HTTP and a real websocket client; SIGTERM stops it gracefully."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import httpx
from conftest import Seed
from websockets.asyncio.client import connect as ws_connect

from config.settings import Settings
from devnet.stack.process import free_port


async def test_api_process_serves_and_stops(api_settings: Settings, seeded: Seed) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HEDGER_DATABASE_URL": api_settings.database_url,
        "HEDGER_TEMPORAL_ADDRESS": api_settings.temporal_address,
        "HEDGER_API_HOST": "127.0.0.1",
        "HEDGER_API_PORT": str(port),
        "HEDGER_LOG_LEVEL": "INFO",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hedger", "api", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            deadline = asyncio.get_running_loop().time() + 60  # a loaded 2-core box imports slowly
            while True:
                try:
                    health = await client.get("/healthz")
                    break
                except httpx.TransportError:
                    if asyncio.get_running_loop().time() > deadline:
                        raise AssertionError("hedger api did not start") from None
                    await asyncio.sleep(0.1)
            assert health.status_code == 200, health.text
            symbols = (await client.get("/contract-symbols")).json()
            assert "BTCUSDT" in {s["name"] for s in symbols["symbols"]}
            cors = await client.get("/open-interest", headers={"Origin": "https://app.example"})
            assert cors.headers["access-control-allow-origin"] == "*"
        async with ws_connect(f"ws://127.0.0.1:{port}/ws/funding-rate-ws") as ws:
            await ws.send(json.dumps({"symbols": ["BTCUSDT"]}))
            msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert set(msg["BTCUSDT"]) == {
                "next_funding_time",
                "next_funding_rate_long",
                "next_funding_rate_short",
            }
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it captured (a conventional
    # "stopped by SIGTERM" status that systemd and Kubernetes treat as a clean stop)
    assert proc.returncode in (0, -signal.SIGTERM), err.decode()[-2000:]
    assert "Finished server process" in err.decode()
