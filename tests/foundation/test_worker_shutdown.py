"""A worker process stops on SIGTERM even while Temporal's core keeps retrying a local activity.

Temporal's core retries a failing local activity during a worker shutdown, for as long as the
activity's retry policy allows (temporalio/sdk-rust#709): a workflow worker whose chain RPC had
gone ignored SIGTERM for over a minute. `workers.runtime.run_worker` bounds the shutdown
(`HEDGER_WORKER_SHUTDOWN_SECONDS`) and then leaves the process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devnet.stack.temporal import TemporalDevServer
from workers.runtime import EXIT_SHUTDOWN_ABANDONED

REPO = Path(__file__).resolve().parents[2]

# A worker process like the hedger's: `run_until_stopped` + `run_worker`, its bound from settings.
WORKER_SCRIPT = """
import asyncio, sys
from datetime import timedelta
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from config.settings import load_settings
from hedger.exits import run_then_exit
from workers.runtime import run_until_stopped, run_worker

ADDRESS, QUEUE, START = sys.argv[1], sys.argv[2], sys.argv[3] == "start"


@activity.defn
async def read_from_a_dead_rpc() -> None:
    raise ConnectionError("connection refused")


@workflow.defn
class ReadsForever:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_local_activity(
            read_from_a_dead_rpc,
            start_to_close_timeout=timedelta(seconds=20),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=10),
                maximum_interval=timedelta(milliseconds=10),
            ),
        )


async def main() -> None:
    settings = load_settings(temporal_address=ADDRESS)
    client = await Client.connect(ADDRESS)
    worker = Worker(
        client, task_queue=QUEUE, workflows=[ReadsForever], activities=[read_from_a_dead_rpc],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )

    async def run(stop: asyncio.Event) -> None:
        async def announce() -> None:
            if START:  # its local activity then fails and is retried every 10 ms
                await client.start_workflow(
                    ReadsForever.run, id=f"reads-forever-{QUEUE}", task_queue=QUEUE
                )
            await asyncio.sleep(2.0)
            print("READY", flush=True)

        asyncio.create_task(announce())
        await run_worker(worker, stop, shutdown_seconds=settings.worker_shutdown_seconds)

    await run_until_stopped(run)
    print("STOPPED", flush=True)


# Ends as every `hedger worker` command does: no interpreter teardown once Temporal's native
# runtime has run (it can abort there, sdk-python#300; a plain asyncio.run exit did, in CI).
run_then_exit(main())
"""


def _start_worker(
    tmp_path: Path, server: TemporalDevServer, queue: str, *, start_workflow: bool
) -> subprocess.Popen[str]:
    script = tmp_path / "worker_script.py"
    script.write_text(WORKER_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HEDGER_WORKER_SHUTDOWN_SECONDS": "2"}
    argv = [sys.executable, str(script), server.address, queue, "start" if start_workflow else "-"]
    # stderr to a file: every failed attempt logs a traceback, and a full pipe would block it
    with (tmp_path / "worker.err").open("w") as err:
        proc = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
    assert proc.stdout is not None
    ready = proc.stdout.readline().strip()
    if ready != "READY":
        proc.kill()
        proc.wait(timeout=10)
        pytest.fail(f"worker script did not start: {ready!r}\n{_tail(tmp_path)}")
    return proc


def _tail(tmp_path: Path) -> str:
    return (tmp_path / "worker.err").read_text()[-3000:]


def _stop(
    proc: subprocess.Popen[str], tmp_path: Path, within: float
) -> tuple[int, float, str, str]:
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=10)
        pytest.fail(f"the worker ignored SIGTERM for {within:.0f} s")
    return proc.returncode, time.monotonic() - began, out, _tail(tmp_path)


def test_a_worker_retrying_a_local_activity_still_exits_on_sigterm(
    tmp_path: Path, temporal_server: TemporalDevServer
) -> None:
    proc = _start_worker(tmp_path, temporal_server, "shutdown-la-retry", start_workflow=True)
    code, took, out, err = _stop(proc, tmp_path, within=30)
    assert code == EXIT_SHUTDOWN_ABANDONED, err[-3000:]
    assert "abandoning its shutdown" in err
    assert "STOPPED" not in out  # left at once: the interpreter's exit would wait for the core
    assert took < 20


def test_an_idle_worker_stops_cleanly_well_inside_the_bound(
    tmp_path: Path, temporal_server: TemporalDevServer
) -> None:
    proc = _start_worker(tmp_path, temporal_server, "shutdown-idle", start_workflow=False)
    code, took, out, err = _stop(proc, tmp_path, within=30)
    assert code == 0, err[-3000:]
    assert "STOPPED" in out
    assert "abandoning" not in err
    assert took < 2
