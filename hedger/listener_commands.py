"""`hedger listener poll|ws|subgraph`: the three chain event listeners' commands.

They read the usual HEDGER_* settings (RPC URLs, websocket URLs, subgraph URL, SYMMIO
address, chain id, each listener's confirmation depth, the reorg window, private key → our
PartyB address, Temporal, Postgres) and run until SIGTERM / SIGINT. Run all three (and several
of each): deliveries are idempotent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import typer

from config.settings import ConfigError, Settings
from hedger.exits import fail, run_then_exit, settings_or_exit
from interfaces.temporal import TaskQueues

if TYPE_CHECKING:  # the listeners are imported by the command that runs one, not by the CLI
    from sqlalchemy.ext.asyncio import AsyncEngine

    from workers.listeners.cursor import CursorStore
    from workers.listeners.delivery import Delivery

POLL_METRICS_OFFSET = 5
WS_METRICS_OFFSET = 6
SUBGRAPH_METRICS_OFFSET = 7


def _metrics_port(settings: Settings, override: int | None, offset: int) -> int:
    if override is not None:
        return override
    return settings.metrics_port + offset if settings.metrics_port else 0


async def _with_parts(
    settings: Settings,
    task_queue: str,
    body: Callable[[Delivery, CursorStore, AsyncEngine], Awaitable[None]],
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from adapters.temporal import connect
    from workers.listeners.cursor import CursorStore
    from workers.listeners.delivery import Delivery, party_b_address

    client = await connect(settings)
    engine = create_async_engine(settings.database_url, pool_size=5, pool_pre_ping=True)
    try:
        delivery = Delivery(
            client,
            engine,
            chain_id=settings.chain_id,
            our_party_b=party_b_address(settings.private_key.get_secret_value()),
            task_queue=task_queue,
            history_limit=settings.workflow_history_limit,
        )
        await body(delivery, CursorStore(engine), engine)
    finally:
        await engine.dispose()


def _address_or_exit(settings: Settings) -> str:
    try:
        return settings.require_symmio_address()
    except ConfigError as exc:
        fail(str(exc))


def poll_command(
    start_block: int | None = typer.Option(
        None,
        envvar="HEDGER_LISTENER_START_BLOCK",
        help="first block when there is no cursor yet (default: the deployment block, else 0)",
    ),
    batch_blocks: int = typer.Option(2000, min=1, help="blocks per eth_getLogs range"),
    rescan_blocks: int = typer.Option(10, min=0, help="blocks re-scanned behind the cursor"),
    interval: float = typer.Option(2.0, min=0.05, help="seconds between polls"),
    task_queue: str = typer.Option(TaskQueues.WORKFLOWS, help="task queue of started workflows"),
    metrics_port: int | None = typer.Option(
        None, help="Prometheus port (default HEDGER_METRICS_PORT + 5; 0 disables)"
    ),
) -> None:
    """Poll the SYMMIO diamond's logs over HTTP (eth_getLogs) and deliver them to workflows."""
    from workers.listeners.poller import LogPoller, PollerConfig
    from workers.listeners.rpc import HttpRpc
    from workers.runtime import configure_logging, run_until_stopped, serve_metrics

    settings = settings_or_exit()
    address = _address_or_exit(settings)
    configure_logging(settings)
    serve_metrics(_metrics_port(settings, metrics_port, POLL_METRICS_OFFSET), settings.metrics_host)

    async def body(delivery: Delivery, cursors: CursorStore, _: AsyncEngine) -> None:
        async with HttpRpc(
            settings.rpc_http_urls, client="poll", max_lag_blocks=settings.rpc_max_lag_blocks
        ) as rpc:
            poller = LogPoller(
                rpc,
                delivery,
                cursors,
                PollerConfig(
                    chain_id=settings.chain_id,
                    address=address,
                    confirmations=settings.poll_confirmation_depth(),
                    reorg_window=settings.reorg_window_blocks,
                    start_block=start_block,
                    batch_blocks=batch_blocks,
                    rescan_blocks=rescan_blocks,
                    interval=interval,
                ),
            )
            await run_until_stopped(poller.run)

    run_then_exit(_with_parts(settings, task_queue, body))


def ws_command(
    start_block: int | None = typer.Option(
        None,
        envvar="HEDGER_LISTENER_START_BLOCK",
        help="first block when there is no cursor yet (default: the deployment block, else 0)",
    ),
    batch_blocks: int = typer.Option(2000, min=1, help="blocks per catch-up eth_getLogs range"),
    rescan_blocks: int = typer.Option(10, min=0, help="blocks re-scanned behind the cursor"),
    max_backoff: float = typer.Option(30.0, min=0.1, help="longest reconnect backoff (seconds)"),
    task_queue: str = typer.Option(TaskQueues.WORKFLOWS, help="task queue of started workflows"),
    metrics_port: int | None = typer.Option(
        None, help="Prometheus port (default HEDGER_METRICS_PORT + 6; 0 disables)"
    ),
) -> None:
    """Subscribe to the SYMMIO diamond's logs over websocket and deliver them to workflows."""
    from workers.listeners.ws import WsConfig, WsListener
    from workers.runtime import configure_logging, run_until_stopped, serve_metrics

    settings = settings_or_exit()
    address = _address_or_exit(settings)
    configure_logging(settings)
    serve_metrics(_metrics_port(settings, metrics_port, WS_METRICS_OFFSET), settings.metrics_host)

    async def body(delivery: Delivery, cursors: CursorStore, _: AsyncEngine) -> None:
        listener = WsListener(
            delivery,
            cursors,
            WsConfig(
                chain_id=settings.chain_id,
                address=address,
                urls=settings.websocket_urls(),
                confirmations=settings.ws_confirmations,
                reorg_window=settings.reorg_window_blocks,
                start_block=start_block,
                batch_blocks=batch_blocks,
                rescan_blocks=rescan_blocks,
                max_backoff=max_backoff,
            ),
        )
        await run_until_stopped(listener.run)

    run_then_exit(_with_parts(settings, task_queue, body))


def subgraph_command(
    page_size: int = typer.Option(1000, min=1, max=1000, help="entities per type and request"),
    interval: float | None = typer.Option(
        None, min=0.05, help="seconds between rounds (default HEDGER_SUBGRAPH_POLL_SECONDS)"
    ),
    task_queue: str = typer.Option(TaskQueues.WORKFLOWS, help="task queue of started workflows"),
    metrics_port: int | None = typer.Option(
        None, help="Prometheus port (default HEDGER_METRICS_PORT + 7; 0 disables)"
    ),
) -> None:
    """Poll SYMMIO's events subgraph (GraphQL, by counterId) and deliver to workflows."""
    from workers.listeners.subgraph import SubgraphClient, SubgraphConfig, SubgraphListener
    from workers.runtime import configure_logging, run_until_stopped, serve_metrics

    settings = settings_or_exit()
    address = _address_or_exit(settings)
    urls = settings.subgraph_urls()
    if not urls:
        fail("HEDGER_SUBGRAPH_URL: is not set (the SYMMIO events subgraph's GraphQL endpoint)")
    configure_logging(settings)
    serve_metrics(
        _metrics_port(settings, metrics_port, SUBGRAPH_METRICS_OFFSET), settings.metrics_host
    )

    async def body(delivery: Delivery, cursors: CursorStore, _: AsyncEngine) -> None:
        client = SubgraphClient(urls)
        try:
            listener = SubgraphListener(
                client,
                delivery,
                cursors,
                SubgraphConfig(
                    chain_id=settings.chain_id,
                    address=address,
                    urls=urls,
                    confirmations=settings.subgraph_confirmations,
                    interval=interval or settings.subgraph_poll_seconds,
                    page_size=page_size,
                    reorg_window=settings.reorg_window_blocks,
                ),
            )
            await run_until_stopped(listener.run)
        finally:
            await client.close()

    run_then_exit(_with_parts(settings, task_queue, body))


listener_app = typer.Typer(
    help="Chain event listeners (redundant; duplicates are harmless).", no_args_is_help=True
)
listener_app.command("poll")(poll_command)
listener_app.command("ws")(ws_command)
listener_app.command("subgraph")(subgraph_command)
