"""`hedger stack …` and `hedger devnet …`: commands of the local stand-ins, plugged into `hedger`."""

from __future__ import annotations

import json
import time

import typer

from devnet.paths import state_dir
from devnet.stack.process import StackError, pid_alive
from devnet.stack.stack import LocalStack, StackPorts, read_status, stop_running_stack

stack_app = typer.Typer(
    help="The embedded local stack (Temporal, Postgres, anvil), on 127.0.0.1.", no_args_is_help=True
)
devnet_app = typer.Typer(
    help="Local stand-ins: contract, oracle, exchange, traders.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(stack_app, name="stack")
    app.add_typer(devnet_app, name="devnet")
    app.command("demo")(demo)
    _mount_devnet_commands()


def _mount_devnet_commands() -> None:
    from devnet.exchange.cli import exchange_command
    from devnet.oracle.cli import oracle_command

    devnet_app.command("exchange")(exchange_command)
    devnet_app.command("oracle")(oracle_command)


def demo(
    exit_when_ready: bool = typer.Option(
        False, "--exit-when-ready", help="stop as soon as everything is up (smoke test)"
    ),
) -> None:
    """Run the hedger end to end on the embedded local stack, until Ctrl-C."""
    stack = LocalStack(state_dir(), StackPorts(), log=lambda line: typer.echo(line, err=True))
    started = time.monotonic()

    def _ready(s: LocalStack) -> None:
        typer.echo(f"stack: up in {time.monotonic() - started:.1f}s", err=True)
        _announce(s)
        if exit_when_ready:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGTERM)

    try:
        stack.run_foreground(on_ready=_ready)
    except StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _announce(stack: LocalStack) -> None:
    info = stack.info
    typer.echo("")
    typer.echo("local stack is up:")
    typer.echo(f"  Temporal UI   {info['temporal']['ui']}")
    typer.echo(f"  Temporal      {info['temporal']['address']}")
    typer.echo(f"  Postgres      {info['postgres']['url']}")
    typer.echo(f"  anvil (EVM)   {info['anvil']['http']}  {info['anvil']['ws']}")
    typer.echo(f"  exchange      {info['exchange']['url']}  (Binance USD-M compatible, devnet)")
    typer.echo(f"  Muon oracle   {info['oracle']['url']}  (devnet)")
    typer.echo(f"  settings      {stack.env_path}")
    typer.echo("Ctrl-C (or `hedger stack down`) stops everything.")


@stack_app.command("up")
def stack_up(
    temporal_port: int = typer.Option(7233),
    temporal_ui_port: int = typer.Option(8233),
    postgres_port: int = typer.Option(55432),
    anvil_port: int = typer.Option(8545),
    oracle_port: int = typer.Option(8546),
    exchange_port: int = typer.Option(8547),
) -> None:
    """Start the stack in the foreground and supervise it until Ctrl-C."""
    ports = StackPorts(
        temporal=temporal_port,
        temporal_ui=temporal_ui_port,
        postgres=postgres_port,
        anvil=anvil_port,
        oracle=oracle_port,
        exchange=exchange_port,
    )
    stack = LocalStack(state_dir(), ports, log=lambda line: typer.echo(line, err=True))
    started = time.monotonic()
    try:
        stack.run_foreground(
            on_ready=lambda s: (
                typer.echo(f"stack: up in {time.monotonic() - started:.1f}s", err=True),
                _announce(s),
            )
        )
    except StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@stack_app.command("down")
def stack_down() -> None:
    """Stop a running stack (and any process it left behind)."""
    typer.echo(stop_running_stack(state_dir()))


@stack_app.command("status")
def stack_status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Show what runs, where, and whether it is alive."""
    status = read_status(state_dir())
    supervisor = status.get("supervisor_pid")
    alive = bool(supervisor and pid_alive(supervisor))
    pids = {
        name: {"pid": pid, "alive": pid_alive(pid)} for name, pid in status.get("pids", {}).items()
    }
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "running": alive,
                    "ready": status.get("ready", False),
                    "components": status.get("components", {}),
                    "pids": pids,
                }
            )
        )
        return
    if not alive:
        typer.echo("stack: not running")
        raise typer.Exit(3)
    typer.echo(f"stack: running (supervisor pid {supervisor}, ready={status.get('ready')})")
    for name, component in status.get("components", {}).items():
        state = pids.get(name, {})
        typer.echo(
            f"  {name:<9} {'up ' if state.get('alive') else 'DOWN'} pid={state.get('pid')} {component}"
        )
