"""`hedger version`, `hedger config check`, `hedger db migrate`, `hedger temporal setup`."""

from __future__ import annotations

import json

import typer

from hedger.exits import fail, run_then_exit, settings_or_exit

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="The hedger's Postgres ledger.", no_args_is_help=True)
temporal_app = typer.Typer(help="Temporal set-up.", no_args_is_help=True)


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
    from ledger.migrate import upgrade

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
    from adapters.temporal import setup_temporal

    settings = settings_or_exit()

    async def _run() -> None:
        result = await setup_temporal(settings, timeout_seconds=timeout)
        typer.echo(f"search attributes: added={result.added} present={result.present}")

    run_then_exit(_run())
