"""`hedger listener poll|ws` as production runs them: separate processes configured only by
HEDGER_* variables, delivering to the workflows, stopping cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from listener_helpers import (
    Chain,
    all_received,
    eventually,
    expected_targets,
    key_mapper,
    load_vectors,
    next_chain_id,
    replay,
    vector_groups,
)
from temporalio.client import Client

from config.settings import Settings
from devnet.stack.process import free_port

ENTRY = (
    "import typer\n"
    "from hedger.listener_commands import listener_app\n"
    "app = typer.Typer()\n"
    "@app.callback()\n"
    "def main() -> None:\n"
    "    pass\n"
    "app.add_typer(listener_app, name='listener')\n"
    "app()\n"
)
REPO = Path(__file__).resolve().parents[2]


def spawn(
    name: str, extra: list[str], queue: str, env: dict[str, str], cwd: Path
) -> subprocess.Popen[bytes]:
    with (cwd / f"{name}.log").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", ENTRY, "listener", name, "--task-queue", queue, *extra],
            env=env,
            cwd=cwd,  # no .env / .hedger/devnet.env from the repo
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(5)


async def test_poll_and_ws_commands(
    chain: Chain,
    settings: Settings,
    database_url: str,
    workflow_queue: str,
    temporal_client: Client,
    tmp_path: Path,
    procs: list[subprocess.Popen[bytes]],
) -> None:
    chain_id = next_chain_id()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGER_")}
    env.update(
        {
            "HEDGER_TEMPORAL_ADDRESS": settings.temporal_address,
            "HEDGER_DATABASE_URL": database_url,
            "HEDGER_CHAIN_ID": str(chain_id),
            "HEDGER_RPC_HTTP_URLS": f"http://127.0.0.1:{free_port()},{chain.http_url}",
            "HEDGER_RPC_WS_URL": chain.ws_url,
            "HEDGER_SYMMIO_ADDRESS": chain.emitter,
            "HEDGER_LISTENER_START_BLOCK": str(chain.head() + 1),
            "HEDGER_METRICS_PORT": "0",
            "PYTHONPATH": str(REPO),
        }
    )
    logs_dir = tmp_path
    procs.append(spawn("poll", ["--interval", "0.2"], workflow_queue, env, tmp_path))
    procs.append(spawn("ws", [], workflow_queue, env, tmp_path))
    logs = load_vectors()["logs"]
    mapping = replay(chain, vector_groups(logs)[:6])
    chain.mine()
    expected = expected_targets(
        [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in mapping],
        chain_id,
        key_mapper(mapping),
    )
    await eventually(
        lambda: all_received(temporal_client, expected), within=40, what="CLI deliveries"
    )

    async def both_cursors() -> bool:
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                names = set(
                    (
                        await conn.execute(
                            text("SELECT name FROM listener_cursors WHERE chain_id = :c"),
                            {"c": chain_id},
                        )
                    ).scalars()
                )
        finally:
            await engine.dispose()
        return names == {f"poll-{chain_id}", f"ws-{chain_id}"}

    await eventually(both_cursors, what="both cursors stored")
    for p in procs:
        assert p.poll() is None, (logs_dir / "poll.log").read_text()
        p.send_signal(signal.SIGTERM)
    for p, name in zip(procs, ("poll", "ws"), strict=True):
        assert p.wait(20) == 0, (logs_dir / f"{name}.log").read_text()
        assert "Traceback" not in (logs_dir / f"{name}.log").read_text()
