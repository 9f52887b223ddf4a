"""`hedger api` in its own process, as production runs it (the CLI imports everything the
production process imports, py_ecc included), for the tests that attack the real process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devnet.stack.process import free_port
from ledger.migrate import upgrade_async


@dataclass
class ApiProcess:
    base: str
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def ws_base(self) -> str:
        return self.base.replace("http://", "ws://", 1)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


async def own_database(database_url: str) -> str:
    """A fresh, migrated database on the tests' Postgres, so what a fuzzer writes through the
    API never meets another test's rows."""
    name = "api_" + uuid.uuid4().hex[:12]
    admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    url = database_url.rsplit("/", 1)[0] + "/" + name
    await upgrade_async(url)
    return url


@asynccontextmanager
async def api_process(
    *, database_url: str, temporal_address: str, log_path: Path, extra_env: dict[str, str]
) -> AsyncIterator[ApiProcess]:
    port = free_port()
    env = {
        **os.environ,
        "HEDGER_DATABASE_URL": database_url,
        "HEDGER_TEMPORAL_ADDRESS": temporal_address,
        "HEDGER_API_HOST": "127.0.0.1",
        "HEDGER_API_PORT": str(port),
        "HEDGER_LOG_LEVEL": "INFO",
        **extra_env,
    }
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hedger", "api", env=env, stdout=log, stderr=log
        )  # fmt: skip
    running = ApiProcess(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        deadline = asyncio.get_running_loop().time() + 60  # a loaded 2-core box imports slowly
        async with httpx.AsyncClient(base_url=running.base, timeout=5) as client:
            while True:
                if not running.alive:
                    raise AssertionError(f"hedger api exited at start:\n{running.log()[-3000:]}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"hedger api did not start:\n{running.log()[-3000:]}")
                await asyncio.sleep(0.1)
        yield running
    finally:
        if running.alive:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
