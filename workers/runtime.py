"""What every worker process shares: connect, serve metrics, run until SIGTERM/SIGINT, exit cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import suppress

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


async def run_worker(worker: Worker, stop: asyncio.Event) -> None:
    """Run a Temporal worker until `stop` is set; in-flight activities finish or are retried elsewhere."""
    task = asyncio.create_task(worker.run())
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if stopper in done:
        await worker.shutdown()
    else:
        stopper.cancel()
    await task


async def client_for(settings: Settings) -> Client:
    return await connect(settings)
