"""`hedger api`: the web server (SYMMIO front-end API, websockets, admin API, /metrics)."""

from __future__ import annotations

import typer

from hedger.exits import finish, settings_or_exit


def api_command(
    host: str | None = typer.Option(None, help="bind address (default HEDGER_API_HOST)"),
    port: int | None = typer.Option(None, help="port (default HEDGER_API_PORT)"),
) -> None:
    """Run the hedger web server: SYMMIO front-end API, websockets, admin API, /metrics."""
    from api.app import serve

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["api_host"] = host
    if port is not None:
        overrides["api_port"] = port
    settings = settings_or_exit(**overrides)
    try:
        serve(settings)
    except Exception as exc:  # noqa: BLE001 - one clear line for the operator
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        finish(1)
    finish(0)
