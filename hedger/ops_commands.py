"""`hedger ops …`: the operator's command line (DESIGN §6).

    hedger ops halt --reason "exchange outage"        # trading state HALTED
    hedger ops reduce-only --reason "end of day"      # REDUCE_ONLY
    hedger ops resume --reason "exchange back"        # ACTIVE
    hedger ops state                                  # the state in force
    hedger ops retry 42 --reason "rpc fixed"          # signal the quote's workflow
    hedger ops unwind 42 --kind intent --reason "…"
    hedger ops abandon 42 --reason "handled by hand"
    hedger ops stuck                                  # STUCK workflows with Temporal UI links

Every command talks to Temporal (the trading state lives in the risk-control workflow,
`interfaces.risk`) and ends with `os._exit` after flushing (the SDK can crash at interpreter
exit, DESIGN §8).
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

import typer

from adapters.risk_control import RiskControl
from api.operator import (
    Action,
    WorkflowKind,
    WorkflowNotFound,
    WorkflowNotRunning,
    list_stuck,
    signal_quote,
)
from config.settings import ConfigError, Settings, load_settings
from domain.enums import TradingState
from hedger.exits import finish
from interfaces.risk import TradingStateChange

ops_app = typer.Typer(
    help="Operator actions: trading state (kill switch), retry/unwind/abandon, STUCK hedges.",
    no_args_is_help=True,
)


# Replaced by in-process tests, which cannot survive os._exit.
exit_process: Callable[[int], NoReturn] = finish


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _operator_name(by: str | None) -> str:
    if by:
        return by
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


# --- trading state -------------------------------------------------------------------------


def _set_state(state: TradingState, reason: str, by: str | None) -> None:
    if not reason.strip():
        typer.echo("error: a reason is required to change the trading state", err=True)
        raise typer.Exit(2)

    async def _work(settings: Settings) -> int:
        from adapters.temporal import connect

        risk = RiskControl(await connect(settings), settings.chain_id)
        change = TradingStateChange(state.value, reason.strip(), _operator_name(by))
        try:
            view = await risk.set_trading_state(change)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            return 2
        typer.echo(f"trading state is now {view.state} ({view.reason}) by {view.changed_by}")
        return 0

    _run_sdk(_work)


REASON = typer.Option(..., "--reason", "-r", help="why (recorded with the change)")
BY = typer.Option(None, "--by", help="operator name (default cli:<user>)")


@ops_app.command("halt")
def halt(reason: str = REASON, by: str | None = BY) -> None:
    """HALTED: no new positions, resting opening orders are cancelled; closes still run."""
    _set_state(TradingState.HALTED, reason, by)


@ops_app.command("reduce-only")
def reduce_only(reason: str = REASON, by: str | None = BY) -> None:
    """REDUCE_ONLY: no new positions; resting opening orders may still fill."""
    _set_state(TradingState.REDUCE_ONLY, reason, by)


@ops_app.command("resume")
def resume(reason: str = REASON, by: str | None = BY) -> None:
    """ACTIVE: accept new positions again."""
    _set_state(TradingState.ACTIVE, reason, by)


@ops_app.command("state")
def state(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Show the trading state in force."""

    async def _work(settings: Settings) -> int:
        from adapters.temporal import connect

        view = await RiskControl(await connect(settings), settings.chain_id).trading_state()
        if as_json:
            typer.echo(json.dumps(view.as_json()))
        else:
            typer.echo(
                f"{view.state} ({view.reason}) by {view.changed_by or '-'} at {view.changed_at}"
            )
        return 0

    _run_sdk(_work)


# --- Temporal ------------------------------------------------------------------------------


def _run_sdk(work: Callable[[Settings], Coroutine[Any, Any, int]]) -> NoReturn:
    settings = _settings()
    try:
        code = asyncio.run(work(settings))
    except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        code = 1
    exit_process(code)


def _signal(
    action: Action, quote_id: int, kind: WorkflowKind | None, reason: str, by: str | None
) -> NoReturn:
    async def _work(settings: Settings) -> int:
        from adapters.temporal import connect

        client = await connect(settings)
        try:
            result = await signal_quote(
                client, settings.chain_id, quote_id, action, reason, _operator_name(by), kind=kind
            )
        except WorkflowNotFound as exc:
            typer.echo(f"error: {exc}", err=True)
            return 3
        except WorkflowNotRunning as exc:
            typer.echo(f"error: not running: {exc}", err=True)
            return 4
        typer.echo(f"sent {result.signal} to {result.workflow_id} (run {result.run_id}): {reason}")
        return 0

    _run_sdk(_work)


KIND = typer.Option(None, "--kind", "-k", help="intent | position (default: position, then intent)")


@ops_app.command("retry")
def retry(
    quote_id: int, reason: str = REASON, kind: WorkflowKind | None = KIND, by: str | None = BY
) -> None:
    """Signal `retry` to the quote's workflow (it tries the stuck step again)."""
    _signal(Action.RETRY, quote_id, kind, reason, by)


@ops_app.command("unwind")
def unwind(
    quote_id: int, reason: str = REASON, kind: WorkflowKind | None = KIND, by: str | None = BY
) -> None:
    """Signal `unwind` to the quote's workflow (flatten the broker side)."""
    _signal(Action.UNWIND, quote_id, kind, reason, by)


@ops_app.command("abandon")
def abandon(
    quote_id: int, reason: str = REASON, kind: WorkflowKind | None = KIND, by: str | None = BY
) -> None:
    """Signal `abandon` to the quote's workflow (stop; an operator handles it by hand)."""
    _signal(Action.ABANDON, quote_id, kind, reason, by)


@ops_app.command("stuck")
def stuck(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List running workflows whose HedgeStatus is STUCK, with Temporal UI links."""

    async def _work(settings: Settings) -> int:
        from adapters.temporal import connect

        client = await connect(settings)
        found = await list_stuck(client, settings.temporal_ui_url)
        if as_json:
            typer.echo(json.dumps([w.as_json() for w in found]))
        elif not found:
            typer.echo("no STUCK workflows")
        else:
            for w in found:
                typer.echo(f"{w.workflow_id}\tquote={w.quote_id}\t{w.symbol or '-'}\t{w.url}")
        return 0

    _run_sdk(_work)
