"""`hedger stack …` and `hedger devnet …`: commands of the local stand-ins, plugged into `hedger`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import typer

from devnet.paths import state_dir
from devnet.stack.process import StackError, exit_now, pid_alive
from devnet.stack.stack import LocalStack, StackPorts, read_status, stop_running_stack
from devnet.stack.supervisor import Supervisor

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
    from devnet.contracts.cli import compile_command, deploy_command
    from devnet.exchange.cli import exchange_command
    from devnet.oracle.cli import oracle_command
    from devnet.subgraph.cli import subgraph_command
    from devnet.traders.cli import traders_command

    devnet_app.command("compile")(compile_command)
    devnet_app.command("deploy")(deploy_command)
    devnet_app.command("exchange")(exchange_command)
    devnet_app.command("oracle")(oracle_command)
    devnet_app.command("subgraph")(subgraph_command)
    devnet_app.command("traders")(traders_command)
    devnet_app.command("chaos")(chaos_command)


def demo(
    intents: int | None = typer.Option(
        None, "--intents", help="stop posting after this many intents"
    ),
    exit_when_done: bool = typer.Option(
        False, "--exit-when-done", help="exit once every intent is terminal"
    ),
    summary_json: Path | None = typer.Option(
        None, "--summary-json", help="write the run's summary here"
    ),
    seed: int = typer.Option(1, help="seed of the trader simulator"),
    traders: int = typer.Option(3, help="number of simulated traders"),
    timeout: float = typer.Option(
        900.0,
        help="with --exit-when-done: give up after this many seconds (exit 1, printing what is stuck)",
    ),
    settle_timeout: float = typer.Option(
        120.0, help="after the last intent is terminal: seconds for workflows and fills to settle"
    ),
    free_ports: bool = typer.Option(
        False, "--free-ports", help="run every part on a free port (next to another stack)"
    ),
) -> None:
    """Run the hedger end to end on the embedded local stack (until Ctrl-C, or --exit-when-done).

    Exit code with --exit-when-done: 0 all counters zero, 2 a counter is not, 1 timed out."""
    from devnet.demo import DemoOptions, run_demo

    options = DemoOptions(
        intents, exit_when_done, summary_json, seed, traders, timeout=timeout,
        settle_timeout=settle_timeout, free_ports=free_ports,
    )  # fmt: skip
    exit_now(run_demo(options, log=lambda line: typer.echo(line, err=True)))


def chaos_command(
    intents: int = typer.Option(300, help="intents the traders post before winding down"),
    seed: int = typer.Option(1, help="seed of the chaos monkey and of the traders"),
    every: float = typer.Option(8.0, help="mean seconds between two injections"),
    only: str = typer.Option(
        "", help="comma-separated targets/fault kinds to use (default: every one)"
    ),
    max_injections: int | None = typer.Option(None, help="stop injecting after this many"),
    traders: int = typer.Option(3, help="number of simulated traders"),
    timeout: float = typer.Option(2400.0, help="give up after this many seconds (exit 1)"),
    settle_timeout: float = typer.Option(
        180.0, help="after the last intent is terminal: seconds for the hedger to settle"
    ),
    summary_json: Path | None = typer.Option(
        None, help="where to write counters and faults (default: <state dir>/chaos-summary.json)"
    ),
    state: Path | None = typer.Option(
        None, "--state-dir", help="state directory (default: a fresh .hedger/chaos/run-<time>)"
    ),
    fixed_ports: bool = typer.Option(
        False, "--fixed-ports", help="the demo's fixed ports instead of free ones"
    ),
) -> None:
    """The demo under kill -9 of every process kind and every broker fault; honest counters.

    Exit code: 0 every counter zero, 2 a violation, 1 timed out (what is stuck is printed)."""
    from devnet.chaos import Chaos, ChaosOptions, parse_only
    from devnet.demo import DemoOptions, run_demo

    try:
        kills, faults = parse_only(only)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if state is None:
        runs = state_dir() / "chaos"
        for old in sorted(runs.glob("run-*"))[:-4]:  # keep the last few runs for a post-mortem
            import shutil

            shutil.rmtree(old, ignore_errors=True)
        state = runs / time.strftime("run-%Y%m%d-%H%M%S")
    summary = summary_json or state / "chaos-summary.json"
    options = DemoOptions(
        intents=intents, exit_when_done=True, summary_json=summary, seed=seed, traders=traders,
        timeout=timeout, settle_timeout=settle_timeout, state_dir=state, free_ports=not fixed_ports,
    )  # fmt: skip
    chaos_options = ChaosOptions(
        seed=seed, every=every, kills=kills, faults=faults, max_injections=max_injections
    )
    started = time.monotonic()

    def log(line: str) -> None:
        typer.echo(line, err=True)

    def monkey(stack: LocalStack, supervisor: Supervisor, log: Callable[[str], None]) -> Chaos:
        return Chaos(chaos_options, supervisor, stack.info["exchange"]["url"], log)

    code = run_demo(options, log=log, chaos=monkey)
    log(f"chaos: done in {time.monotonic() - started:.0f}s, exit {code} (summary {summary})")
    exit_now(code)


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

    def on_ready(s: LocalStack) -> None:
        typer.echo(f"stack: up in {time.monotonic() - started:.1f}s", err=True)
        _announce(s)

    try:
        stack.run_foreground(on_ready=on_ready)
    except StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        exit_now(1)
    exit_now(0)


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
