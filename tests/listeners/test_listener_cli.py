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
    Subgraph,
    all_received,
    applications,
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
    cwd.mkdir(parents=True, exist_ok=True)
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


async def test_listeners_killed_and_restarted_resume_from_their_cursors(
    chain: Chain,
    subgraph: Subgraph,
    settings: Settings,
    database_url: str,
    workflow_queue: str,
    temporal_client: Client,
    tmp_path: Path,
    procs: list[subprocess.Popen[bytes]],
) -> None:
    """All three commands as processes, each with a dead first endpoint; kill -9 all of them,
    let the chain move on, start them again: every event arrives, applied exactly once, and
    each resumed from its stored cursor (not from the start)."""
    chain_id = next_chain_id()
    dead = f"http://127.0.0.1:{free_port()}"
    subgraph.wait_head(chain.head())
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGER_")}
    env.update(
        {
            "HEDGER_TEMPORAL_ADDRESS": settings.temporal_address,
            "HEDGER_DATABASE_URL": database_url,
            "HEDGER_CHAIN_ID": str(chain_id),
            "HEDGER_RPC_HTTP_URLS": f"{dead},{chain.http_url}",
            "HEDGER_RPC_WS_URLS": f"{dead.replace('http', 'ws')},{chain.ws_url}",
            "HEDGER_SUBGRAPH_URL": f"{dead}/subgraphs/name/x,{subgraph.url}",
            "HEDGER_SUBGRAPH_CONFIRMATIONS": "0",
            "HEDGER_POLL_CONFIRMATIONS": "0",
            "HEDGER_SYMMIO_ADDRESS": chain.emitter,
            "HEDGER_LISTENER_START_BLOCK": str(chain.head() + 1),
            "HEDGER_REORG_WINDOW_BLOCKS": "4",
            "HEDGER_METRICS_PORT": "0",
            "PYTHONPATH": str(REPO),
        }
    )
    # the subgraph's cursor starts at the indexer's current counter (a fresh deployment)
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    sub_start = subgraph.state()["counter"]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO listener_cursors (name, chain_id, block_number, updated_at) "
                "VALUES (:n, :c, :b, now())"
            ),
            {"n": f"subgraph-{chain_id}", "c": chain_id, "b": sub_start},
        )
    names = ("poll", "ws", "subgraph")
    extra = {"poll": ["--interval", "0.2"], "ws": [], "subgraph": ["--interval", "0.2"]}

    def start(round_: int) -> None:
        for name in names:
            procs.append(spawn(name, extra[name], workflow_queue, env, tmp_path / f"r{round_}"))

    (tmp_path / "r1").mkdir()
    (tmp_path / "r2").mkdir()
    start(1)
    logs = load_vectors()["logs"]
    groups = vector_groups(logs)
    first = replay(chain, groups[:8])
    chain.mine(6)

    async def cursors() -> dict[str, int]:
        async with engine.connect() as conn:
            found = await conn.execute(
                text("SELECT name, block_number FROM listener_cursors WHERE chain_id = :c"),
                {"c": chain_id},
            )
            return {r.name.split("-")[0]: int(r.block_number) for r in found}

    expected = expected_targets(
        [x for x in logs if (x["transactionHash"].lower(), x["logIndex"]) in first],
        chain_id,
        key_mapper(first),
    )
    await eventually(lambda: all_received(temporal_client, expected), within=40, what="round 1")

    async def all_moved() -> bool:
        now = await cursors()
        return set(now) == set(names) and now["subgraph"] > sub_start and now["poll"] > 0

    await eventually(all_moved, within=30, what="cursors stored")
    for p in procs:
        assert p.poll() is None, [(tmp_path / "r1" / f"{n}.log").read_text() for n in names]
        p.kill()  # kill -9: nothing flushed
        p.wait(5)
    before = await cursors()
    procs.clear()

    second = replay(chain, groups[8:])
    chain.mine(6)
    start(2)
    everything = {**first, **second}
    expected_all = expected_targets(logs, chain_id, key_mapper(everything))
    await eventually(
        lambda: all_received(temporal_client, expected_all), within=60, what="after restart"
    )

    async def moved_on() -> bool:
        now = await cursors()
        return all(now[n] > before[n] for n in names)

    await eventually(moved_on, within=30, what="cursors after restart")
    for wid, keys in expected_all.items():
        applied = await applications(temporal_client, wid)
        assert sorted(applied.values()) == [1] * len(keys), wid
    text_of = {n: (tmp_path / "r2" / f"{n}.log").read_text() for n in names}
    assert f"cursor {before['poll']}" in text_of["poll"], text_of["poll"]
    assert f"cursor {before['ws']}, catching up" in text_of["ws"], text_of["ws"]
    assert f"resuming after counterId {before['subgraph']}" in text_of["subgraph"]
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p, name in zip(procs, names, strict=True):
        assert p.wait(20) == 0, text_of[name]
    await engine.dispose()
