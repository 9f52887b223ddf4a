"""`hedger demo`: the whole hedger, end to end, on the embedded local stack.

Starts the stack (Temporal, Postgres, anvil, exchange simulator, Muon oracle), deploys and
initialises our SYMMIO-compatible contract when needed, starts every hedger process exactly as
production runs them (`hedger worker …`, `hedger listener …`, `hedger api`), then lets the
trader simulator post intents. Without `--exit-when-done` it trades until Ctrl-C, printing a
live progress line; with it, it stops once every intent reached a terminal state and writes
the summary (`--summary-json`).
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

from devnet.stack.process import ManagedProcess, StackError
from devnet.stack.stack import LocalStack, StackPorts, _read_env

HEDGER_PROCESSES: list[tuple[str, list[str]]] = [
    ("worker-workflows", ["worker", "workflows"]),
    ("worker-ops", ["worker", "ops"]),
    ("worker-broker", ["worker", "broker"]),
    ("worker-chain", ["worker", "chain"]),
    ("order-monitor", ["worker", "order-monitor"]),
    ("listener-poll", ["listener", "poll"]),
    ("listener-ws", ["listener", "ws"]),
    ("api", ["api"]),
]


@dataclass
class DemoOptions:
    intents: int | None = None
    exit_when_done: bool = False
    summary_json: Path | None = None
    seed: int = 1
    traders: int = 3
    interval: float = 1.0
    timeout: float = 900.0


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
    return env


def ensure_deployment(stack: LocalStack, log: Callable[[str], None]) -> str | None:
    """Deploy our SYMMIO-compatible contract unless the chain already has it; returns the diamond.

    The addresses go to `<state>/devnet/deployment.json` and into `devnet.env`
    (HEDGER_SYMMIO_ADDRESS, HEDGER_LISTENER_START_BLOCK), which every hedger process reads.
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
    stack.env_path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return str(deployment["symmio"])


def _deploy_function() -> Callable[[str, Path], dict[str, Any]] | None:
    """Our contract's deploy-and-initialise entry point (None in a checkout without it)."""
    try:
        from devnet.contracts.deploy import devnet_deploy
    except ImportError:
        return None
    return devnet_deploy


def run_demo(options: DemoOptions, log: Callable[[str], None] = print) -> int:
    stack = LocalStack(
        Path(os.environ.get("HEDGER_STATE_DIR", ".hedger")).resolve(), StackPorts(), log=log
    )
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes: HedgerProcesses | None = None
    started = time.monotonic()
    try:
        stack.up()
        log(
            f"demo: stack up in {time.monotonic() - started:.1f}s; Temporal UI {stack.info['temporal']['ui']}"
        )
        symmio = ensure_deployment(stack, log)
        processes = HedgerProcesses(stack.state_dir, hedger_env(stack), log)
        processes.start()
        if symmio is None:
            log("demo: waiting for Ctrl-C")
            while not stopping and not options.exit_when_done:
                time.sleep(0.5)
            return 0
        from devnet.demo_run import drive  # the trading half needs the contract and the traders

        return asyncio.run(drive(stack, symmio, processes, options, log, lambda: stopping))
    except StackError as exc:
        log(f"error: {exc}")
        return 1
    finally:
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
