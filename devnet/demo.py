"""`hedger demo`: the whole hedger, end to end, on the embedded local stack.

Starts the stack (Temporal, Postgres, anvil, exchange simulator, Muon oracle), deploys and
initialises our SYMMIO-compatible contract when needed, starts every hedger process exactly as
production runs them (`hedger worker …`, `hedger listener …`, `hedger api`), then lets the
trader simulator post intents. A supervisor restarts whatever dies — a part of the stack or a
hedger process — with backoff, logging each restart, as systemd or Kubernetes would. Without
`--exit-when-done` it trades until Ctrl-C, printing a live progress line; with it, it stops once
every intent reached a terminal state (or at `--timeout`, printing what is stuck) and writes the
summary (`--summary-json`), whose counters are counted from outside (`devnet.audit`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devnet.stack.process import ManagedProcess, StackError, free_port
from devnet.stack.stack import LocalStack, StackPorts, _read_env
from devnet.stack.supervisor import Supervisor, Unit

HEDGER_PROCESSES: list[tuple[str, list[str]]] = [
    ("worker-workflows", ["worker", "workflows"]),
    ("worker-ops", ["worker", "ops"]),
    ("worker-broker", ["worker", "broker"]),
    ("worker-chain", ["worker", "chain"]),
    ("order-monitor", ["worker", "order-monitor"]),
    ("subgraph-indexer", ["devnet", "subgraph"]),  # the local stand-in of SYMMIO's subgraph
    ("listener-poll", ["listener", "poll"]),
    ("listener-ws", ["listener", "ws"]),
    ("listener-subgraph", ["listener", "subgraph"]),
    ("api", ["api"]),
]
SUBGRAPH_PORT = 8548  # the local indexer's GraphQL endpoint (a free port next to another stack)


@dataclass
class DemoOptions:
    intents: int | None = None
    exit_when_done: bool = False
    summary_json: Path | None = None
    seed: int = 1
    traders: int = 3
    interval: float = 1.0
    timeout: float = 900.0  # with exit_when_done: give up (exit 1, printing what is stuck)
    settle_timeout: float = 120.0  # after the last intent is terminal: time for workflows to end
    state_dir: Path | None = None  # default: HEDGER_STATE_DIR or .hedger
    free_ports: bool = False  # every part (and the hedger API) on a free port
    exchange_args: list[str] = field(default_factory=list)


@dataclass
class HedgerProcesses:
    """The hedger's own processes, started as production would start them."""

    state_dir: Path
    env: dict[str, str]
    log: Callable[[str], None]
    running: dict[str, ManagedProcess] = field(default_factory=dict)

    def start(self) -> None:
        for name, args in HEDGER_PROCESSES:
            argv = [sys.executable, "-m", "hedger", *args]
            process = ManagedProcess(
                name, argv, self.state_dir / "hedger" / f"{name}.log", env=self.env
            )
            self.running[name] = process.start()
            self.log(f"demo: started {name} (pid {process.pid})")

    def kill(self, name: str) -> None:
        """SIGKILL one process (chaos testing): no clean shutdown, nothing flushed."""
        import signal as signals

        os.kill(self.running[name].pid, signals.SIGKILL)
        self.running[name].stop(timeout=5)

    def restart(self, name: str) -> None:
        old = self.running[name]
        if old.alive():
            old.stop()
        self.running[name] = ManagedProcess(name, old.argv, old.log_path, env=self.env).start()

    def check(self) -> list[str]:
        return [name for name, p in self.running.items() if not p.alive()]

    def supervisor_units(self) -> list[Unit]:
        """The hedger's processes as supervised units: a dead one is started again as it was."""

        def unit(name: str) -> Unit:
            return Unit(
                name=name,
                kind="hedger",
                alive=lambda: self.running[name].alive(),
                pid=lambda: self.running[name].pid,
                exit_code=lambda: self.running[name].returncode(),
                restart=lambda: self.restart(name),
            )

        return [unit(name) for name in self.running]

    def stop(self) -> None:
        for name, process in reversed(list(self.running.items())):
            process.stop()
            self.log(f"demo: {name} stopped")
        self.running.clear()


def hedger_env(stack: LocalStack) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGER_")}
    env.update(_read_env(stack.env_path))
    env["HEDGER_STATE_DIR"] = str(stack.state_dir)
    env.setdefault("HEDGER_METRICS_PORT", "0")
    port = SUBGRAPH_PORT if stack.ports == StackPorts() else free_port()
    env.setdefault("HEDGER_SUBGRAPH_URL", f"http://127.0.0.1:{port}/subgraphs/name/symmio-events")
    return env


def ensure_deployment(stack: LocalStack, log: Callable[[str], None]) -> str | None:
    """Deploy our SYMMIO-compatible contract unless the chain already has it; returns the diamond.

    The addresses go to `<state>/devnet/deployment.json` and into `devnet.env`
    (HEDGER_SYMMIO_ADDRESS, HEDGER_LISTENER_START_BLOCK, HEDGER_MULTI_ACCOUNTS: the devnet
    MultiAccount the front-end endpoints serve), which every hedger process reads.
    """
    deploy = _deploy_function()
    if deploy is None:
        log("demo: the devnet contract is not available in this checkout; trading is skipped")
        return None
    from devnet.stack.anvil import rpc_call

    rpc_url = stack.running_url("anvil")
    path = stack.state_dir / "devnet" / "deployment.json"
    deployment: dict[str, Any] | None = None
    if path.exists():
        deployment = json.loads(path.read_text())
        code = rpc_call(rpc_url, "eth_getCode", [deployment["symmio"], "latest"])
        if code in ("0x", "0x0", None):
            log("demo: the recorded deployment is not on this chain; deploying again")
            deployment = None
    if deployment is None:
        started = time.monotonic()
        deployment = deploy(rpc_url, path)
        log(
            f"demo: contract deployed at {deployment['symmio']} in {time.monotonic() - started:.1f}s"
        )
    env = _read_env(stack.env_path)
    env["HEDGER_SYMMIO_ADDRESS"] = str(deployment["symmio"])
    env["HEDGER_LISTENER_START_BLOCK"] = str(deployment.get("deploy_block", 0))
    if deployment.get("multi_account"):  # absent from deployments recorded before it existed
        env["HEDGER_MULTI_ACCOUNTS"] = str(deployment["multi_account"])
    stack.env_path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return str(deployment["symmio"])


def _deploy_function() -> Callable[[str, Path], dict[str, Any]] | None:
    """Our contract's deploy-and-initialise entry point (None in a checkout without it)."""
    try:
        from devnet.contracts.deploy import devnet_deploy
    except ImportError:
        return None
    return devnet_deploy


def make_stack(options: DemoOptions, log: Callable[[str], None]) -> LocalStack:
    state = options.state_dir or Path(os.environ.get("HEDGER_STATE_DIR", ".hedger"))
    ports = StackPorts(*(free_port() for _ in range(6))) if options.free_ports else StackPorts()
    return LocalStack(state.resolve(), ports, log=log, exchange_args=list(options.exchange_args))


def run_demo(
    options: DemoOptions,
    log: Callable[[str], None] = print,
    chaos: Callable[[LocalStack, Supervisor, Callable[[str], None]], Any] | None = None,
) -> int:
    """The demo (and, with `chaos`, the chaos run): stack, hedger, supervisor, traders, summary.

    `chaos(stack, supervisor, log)` builds the chaos monkey (`devnet.chaos`) once everything is
    up; it runs while the traders trade."""
    stack = make_stack(options, log)
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes: HedgerProcesses | None = None
    supervisor = Supervisor(log)
    started = time.monotonic()
    try:
        stack.up()
        log(
            f"demo: stack up in {time.monotonic() - started:.1f}s; Temporal UI {stack.info['temporal']['ui']}"
        )
        symmio = ensure_deployment(stack, log)
        env = hedger_env(stack)
        if options.free_ports:
            env["HEDGER_API_PORT"] = str(free_port())
        processes = HedgerProcesses(stack.state_dir, env, log)
        processes.start()
        for unit in [*stack.supervisor_units(), *processes.supervisor_units()]:
            supervisor.add(unit)
        supervisor.start()
        log(f"demo: supervising {', '.join(supervisor.units)} (logs under {stack.state_dir})")
        if symmio is None:
            log("demo: waiting for Ctrl-C")
            while not stopping and not options.exit_when_done:
                time.sleep(0.5)
            return 0
        from devnet.demo_run import drive  # the trading half needs the contract and the traders

        monkey = chaos(stack, supervisor, log) if chaos is not None else None
        return asyncio.run(
            drive(stack, symmio, processes, options, log, lambda: stopping, supervisor, monkey)
        )
    except StackError as exc:
        log(f"error: {exc}")
        return 1
    finally:
        supervisor.stop()
        if processes is not None:
            processes.stop()
        stack.down()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def write_summary(path: Path | None, summary: dict[str, Any]) -> None:
    text = json.dumps(summary, indent=2, sort_keys=True, default=str)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    print(text)
