"""`hedger`: the one entry point for every process and tool.

Production commands live here; the local stand-ins (`hedger stack …`, `hedger devnet …`) are
plugged in through the `hedger.cli_plugins` entry point, so this module never imports `devnet`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Coroutine
from importlib.metadata import entry_points
from typing import Any, NoReturn

import typer

from hedger.config import ConfigError, Settings, load_settings

app = typer.Typer(help="symmio-hedger: a SYMMIO PartyB hedger on Temporal.", no_args_is_help=True)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="The hedger's Postgres ledger.", no_args_is_help=True)
temporal_app = typer.Typer(help="Temporal set-up.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(temporal_app, name="temporal")
worker_app = typer.Typer(help="Worker processes (each can run many times).", no_args_is_help=True)
app.add_typer(worker_app, name="worker")


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        fail(str(exc))


def finish(code: int = 0) -> NoReturn:
    """Exit without running interpreter teardown: the Temporal SDK's native runtime can crash
    there (sdk-python issue 300). Flush first so nothing printed is lost."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_then_exit(coro: Coroutine[Any, Any, Any]) -> NoReturn:
    try:
        asyncio.run(coro)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        finish(2)
    except Exception as exc:  # noqa: BLE001 - the operator gets one clear line, not a traceback
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        finish(1)
    finish(0)


@app.command()
def version() -> None:
    """Print the hedger's version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("symmio-hedger"))


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration and print it with secrets masked."""
    settings = settings_or_exit()
    typer.echo(json.dumps(settings.redacted(), indent=2, default=str))


@db_app.command("migrate")
def db_migrate(revision: str = typer.Option("head", help="target revision")) -> None:
    """Apply schema migrations to HEDGER_DATABASE_URL."""
    from hedger.db.migrate import upgrade

    settings = settings_or_exit()
    try:
        upgrade(settings.database_url, revision)
    except Exception as exc:  # noqa: BLE001
        fail(f"migration failed: {type(exc).__name__}: {exc}", 1)
    typer.echo(f"schema at {revision}")


@temporal_app.command("setup")
def temporal_setup(
    timeout: float = typer.Option(60.0, help="seconds to wait for the frontend"),
) -> None:
    """Register the hedger's search attributes in HEDGER_TEMPORAL_NAMESPACE (idempotent)."""
    from hedger.temporal import setup_temporal

    settings = settings_or_exit()

    async def _run() -> None:
        result = await setup_temporal(settings, timeout_seconds=timeout)
        typer.echo(f"search attributes: added={result.added} present={result.present}")

    run_then_exit(_run())


@worker_app.command("workflows")
def worker_workflows() -> None:
    """Host the intent and position workflows (task queue hedger-workflows)."""
    from workers.runtime import configure_logging, run_until_stopped, run_worker, serve_metrics
    from workers.workflow_worker import build_workflow_worker

    settings = settings_or_exit()
    configure_logging(settings)
    serve_metrics(settings.metrics_port)

    async def _run() -> None:
        from hedger.temporal import connect

        client = await connect(settings)
        await run_until_stopped(lambda stop: run_worker(build_workflow_worker(client), stop))

    run_then_exit(_run())


@worker_app.command("ops")
def worker_ops() -> None:
    """Ledger writes, alerts, trading state (task queue hedger-ops)."""
    from workers.ops import build_ops_worker, make_engine
    from workers.runtime import configure_logging, run_until_stopped, run_worker, serve_metrics

    settings = settings_or_exit()
    configure_logging(settings)
    serve_metrics(settings.metrics_port + 1 if settings.metrics_port else 0)

    async def _run() -> None:
        from hedger.temporal import connect

        client = await connect(settings)
        engine = make_engine(settings)
        try:
            await run_until_stopped(
                lambda stop: run_worker(build_ops_worker(client, settings, engine), stop)
            )
        finally:
            await engine.dispose()

    run_then_exit(_run())


@worker_app.command("broker")
def worker_broker() -> None:
    """Broker orders through ccxt (task queue hedger-broker)."""
    from hedger.broker.adapter import BrokerAdapter
    from hedger.broker.client import BrokerConfig
    from workers.broker_worker import build_broker_worker
    from workers.runtime import configure_logging, run_until_stopped, run_worker, serve_metrics

    settings = settings_or_exit()
    configure_logging(settings)
    serve_metrics(settings.metrics_port + 2 if settings.metrics_port else 0)

    async def _run() -> None:
        from hedger.temporal import connect

        client = await connect(settings)
        adapter = BrokerAdapter.from_config(BrokerConfig.from_settings(settings))
        try:
            await run_until_stopped(
                lambda stop: run_worker(build_broker_worker(client, adapter), stop)
            )
        finally:
            await adapter.close()

    run_then_exit(_run())


@worker_app.command("order-monitor")
def worker_order_monitor() -> None:
    """Watch broker order updates (websocket) and signal the owning workflows."""
    from workers.order_monitor import main as monitor_main

    settings_or_exit()
    run_then_exit(monitor_main())


def _mount_api() -> None:
    from api.app import api_command
    from api.ops_cli import ops_app

    app.command("api")(api_command)
    app.add_typer(ops_app, name="ops")


def _mount_chain_and_listeners() -> None:
    from workers.chain_agent import chain_worker_command
    from workers.listeners.cli import poll_command, ws_command

    worker_app.command("chain")(chain_worker_command)
    listener_app = typer.Typer(
        help="Chain event listeners (redundant; duplicates are harmless).", no_args_is_help=True
    )
    listener_app.command("poll")(poll_command)
    listener_app.command("ws")(ws_command)
    app.add_typer(listener_app, name="listener")


_mount_api()
_mount_chain_and_listeners()


def _load_plugins() -> None:
    for entry in entry_points(group="hedger.cli_plugins"):
        try:
            register = entry.load()
        except ImportError:
            continue  # a plugin whose package is not installed (e.g. no devnet in production)
        register(app)


_load_plugins()


def main() -> None:
    app()
