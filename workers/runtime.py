"""What every worker process shares: connect, serve metrics, run until SIGTERM/SIGINT, exit cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import NoReturn

from prometheus_client import start_http_server
from temporalio.client import Client
from temporalio.worker import Worker

from adapters.temporal import connect
from config.settings import Settings

log = logging.getLogger("hedger.worker")


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Expose this process's Prometheus metrics (0 disables; a taken port is reported, not fatal)."""
    if port <= 0:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.warning(
            "metrics: port %s unavailable (%s); metrics not served by this process", port, exc
        )


async def run_until_stopped(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `run(stop_event)`; SIGTERM/SIGINT set the event for a graceful stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await run(stop)


# Exit status of a worker process that stopped by abandoning a shutdown that did not finish.
EXIT_SHUTDOWN_ABANDONED = 3


def exit_abandoning_shutdown() -> NoReturn:
    """Leave the process now: the Temporal worker's native core will not stop by itself, and an
    interpreter exit would wait for it (`asyncio.run` awaits every task it cancels)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_SHUTDOWN_ABANDONED)


async def run_worker(
    worker: Worker,
    stop: asyncio.Event,
    *,
    shutdown_seconds: float,
    abandon: Callable[[], None] = exit_abandoning_shutdown,
) -> None:
    """Run a Temporal worker until `stop` is set; in-flight activities finish or are retried
    elsewhere. A shutdown still going after `shutdown_seconds` (a local activity Temporal's core
    keeps retrying, temporalio/sdk-rust#709) is abandoned: `abandon` is called, by default
    leaving the process. Nothing is lost: the workflow tasks it held time out and run on
    another worker."""
    task = asyncio.create_task(worker.run())
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if stopper not in done:
        stopper.cancel()
        await task
        return
    shutdown = asyncio.create_task(worker.shutdown())
    _, pending = await asyncio.wait({shutdown, task}, timeout=shutdown_seconds)
    if pending:
        log.error(
            "worker on %s still stopping after %.0f s (a local activity being retried?); "
            "abandoning its shutdown: its workflow tasks time out and run on another worker",
            worker.config().get("task_queue"), shutdown_seconds,
        )  # fmt: skip
        abandon()
        return
    await shutdown
    await task


async def client_for(settings: Settings) -> Client:
    return await connect(settings)
