"""How every `hedger` command ends: one clear error line, never a traceback, and no interpreter
teardown after the Temporal SDK ran (its native runtime can crash there, sdk-python issue 300)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn

import typer

from config.settings import ConfigError, Settings, load_settings


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        fail(str(exc))


def finish(code: int = 0) -> NoReturn:
    """Exit without running interpreter teardown; flush first so nothing printed is lost."""
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
