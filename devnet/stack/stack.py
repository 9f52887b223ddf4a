"""The embedded local stack: Temporal dev server, Postgres, anvil — started, watched, stopped.

`hedger stack up` runs `LocalStack.run_foreground()`: it takes the lock in the state directory,
starts every part bound to loopback, migrates the schema, registers Temporal's search attributes,
writes `stack.json` (pids, ports, URLs) and `devnet.env` (the settings the hedger reads), then
watches its children, restarting one that dies, until Ctrl-C or `hedger stack down`.
State lives under the state directory (default `.hedger/`), so a restart resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from devnet.stack.anvil import start_anvil
from devnet.stack.postgres import start_postgres
from devnet.stack.process import StackError, ensure_port_free, pid_alive, stop_process_group
from devnet.stack.services import start_exchange, start_oracle
from devnet.stack.supervisor import Supervisor, Unit
from devnet.stack.temporal import start_temporal

HOST = "127.0.0.1"


@dataclass(frozen=True)
class StackPorts:
    temporal: int = 7233
    temporal_ui: int = 8233
    postgres: int = 55432
    anvil: int = 8545
    oracle: int = 8546
    exchange: int = 8547

    def all(self) -> dict[str, int]:
        return asdict(self)


class Component(Protocol):
    def stop(self) -> None: ...

    @property
    def process(self) -> Any: ...


@dataclass
class ComponentSpec:
    name: str
    start: Callable[[], Component]
    describe: Callable[[Component], dict[str, str]]


@dataclass
class LocalStack:
    state_dir: Path
    ports: StackPorts = field(default_factory=StackPorts)
    log: Callable[[str], None] = print
    exchange_args: list[str] = field(default_factory=list)  # extra `hedger devnet exchange` options
    # anvil mines an empty block this often when idle (the chain clock keeps moving); None = only
    # on transactions
    anvil_idle_block_time: float | None = 1.0
    running: dict[str, Component] = field(default_factory=dict)
    info: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def lock_path(self) -> Path:
        return self.state_dir / "stack.lock"

    @property
    def status_path(self) -> Path:
        return self.state_dir / "stack.json"

    @property
    def env_path(self) -> Path:
        return self.state_dir / "devnet.env"

    # -- the parts ---------------------------------------------------------------------------

    def specs(self) -> list[ComponentSpec]:
        p = self.ports
        return [
            ComponentSpec(
                "postgres",
                lambda: start_postgres(
                    port=p.postgres, data_dir=self.state_dir / "postgres" / "data"
                ),
                lambda c: {"url": c.url()},  # type: ignore[attr-defined]
            ),
            ComponentSpec(
                "temporal",
                lambda: start_temporal(
                    port=p.temporal, ui_port=p.temporal_ui, state_dir=self.state_dir / "temporal"
                ),
                lambda c: {"address": c.address, "ui": c.ui_url},  # type: ignore[attr-defined]
            ),
            ComponentSpec(
                "anvil",
                lambda: start_anvil(
                    port=p.anvil,
                    state_dir=self.state_dir / "anvil",
                    idle_block_time=self.anvil_idle_block_time,
                ),
                lambda c: {"http": c.http_url, "ws": c.ws_url},  # type: ignore[attr-defined]
            ),
            ComponentSpec(
                "exchange",
                lambda: start_exchange(
                    port=p.exchange, state_dir=self.state_dir / "exchange", extra=self.exchange_args
                ),
                lambda c: {"url": c.url},  # type: ignore[attr-defined]
            ),
            ComponentSpec(
                "oracle",
                lambda: start_oracle(
                    port=p.oracle,
                    state_dir=self.state_dir / "oracle",
                    rpc_url=f"http://{HOST}:{p.anvil}",
                    price_url=f"http://{HOST}:{p.exchange}",
                ),
                lambda c: {"url": c.url + "/v1/"},  # type: ignore[attr-defined]
            ),
        ]

    # -- lifecycle ---------------------------------------------------------------------------

    def acquire_lock(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.lock_path.exists():
            try:
                owner = int(self.lock_path.read_text().strip() or "0")
            except ValueError:
                owner = 0
            if owner and owner != os.getpid() and pid_alive(owner):
                raise StackError(
                    f"stack: already running under pid {owner} (`hedger stack down` stops it)"
                )
            self.log(f"stack: removing stale lock left by pid {owner or '?'}")
            self._reap_leftovers()
            self.lock_path.unlink()
        self.lock_path.write_text(str(os.getpid()))

    def _reap_leftovers(self) -> None:
        """Stop children a killed supervisor may have left behind (recorded in stack.json)."""
        for name, pid in read_status(self.state_dir).get("pids", {}).items():
            if pid_alive(pid):
                self.log(f"stack: stopping leftover {name} (pid {pid})")
                stop_process_group(pid, sig=signal.SIGINT if name == "postgres" else signal.SIGTERM)

    def check_ports(self) -> None:
        names = {spec.name for spec in self.specs()} | {"temporal_ui"}
        for name, port in self.ports.all().items():
            if name in names:
                ensure_port_free(HOST, port, name)

    def up(self) -> None:
        self.acquire_lock()
        try:
            self.check_ports()
            for spec in self.specs():
                self._start(spec)
            self._after_start()
            self.write_status(ready=True)
        except BaseException:
            self.down()
            raise

    def _start(self, spec: ComponentSpec) -> None:
        started = time.monotonic()
        component = spec.start()
        self.running[spec.name] = component
        self.info[spec.name] = spec.describe(component)
        self.log(
            f"stack: {spec.name} ready in {time.monotonic() - started:.1f}s {self.info[spec.name]}"
        )
        self.write_status(ready=False)

    def _after_start(self) -> None:
        """Migrate the ledger schema and register Temporal's search attributes."""
        from adapters.temporal import setup_temporal
        from config.settings import load_settings
        from ledger.migrate import upgrade

        upgrade(self.running_url("postgres"))
        settings = load_settings(
            temporal_address=f"{HOST}:{self.ports.temporal}",
            database_url=self.running_url("postgres"),
        )
        result = asyncio.run(setup_temporal(settings))
        self.log(
            f"stack: schema migrated; search attributes added={result.added} present={result.present}"
        )
        self.env_path.write_text(self.env_text())

    def running_url(self, name: str) -> str:
        key = {"postgres": "url", "anvil": "http", "temporal": "address"}[name]
        return self.info[name][key]

    def env_text(self) -> str:
        p = self.ports
        lines = {
            "HEDGER_TEMPORAL_ADDRESS": f"{HOST}:{p.temporal}",
            "HEDGER_TEMPORAL_UI_URL": f"http://{HOST}:{p.temporal_ui}",
            "HEDGER_DATABASE_URL": f"postgresql+asyncpg://postgres@{HOST}:{p.postgres}/hedger",
            "HEDGER_RPC_HTTP_URLS": f"http://{HOST}:{p.anvil}",
            "HEDGER_RPC_WS_URL": f"ws://{HOST}:{p.anvil}",
            "HEDGER_BROKER_REST_URL": f"http://{HOST}:{p.exchange}",
            "HEDGER_BROKER_WS_URL": f"ws://{HOST}:{p.exchange}",
            # Binance USD-M's documented order limit, 1,200 orders a minute (ccxt's default
            # throttle allows a fifth of it): 13 ms x an order's weight of 4 = one per 52 ms
            "HEDGER_BROKER_RATE_LIMIT_MS": "13",
            "HEDGER_MUON_URLS": f"http://{HOST}:{p.oracle}/v1/",
        }
        existing = _read_env(self.env_path)
        existing.update(lines)
        return "".join(f"{key}={value}\n" for key, value in existing.items())

    def down(self) -> None:
        for name in reversed(list(self.running)):
            component = self.running.pop(name)
            with contextlib.suppress(Exception):
                component.stop()
            self.log(f"stack: {name} stopped")
        self.write_status(ready=False)
        with contextlib.suppress(FileNotFoundError):
            if self.lock_path.read_text().strip() == str(os.getpid()):
                self.lock_path.unlink()

    def write_status(self, *, ready: bool) -> None:
        status = {
            "supervisor_pid": os.getpid(),
            "ready": ready,
            "components": self.info if self.running else {},
            "pids": {name: c.process.pid for name, c in self.running.items()},
            "ports": self.ports.all(),
        }
        self.status_path.write_text(json.dumps(status, indent=2))

    def restart_component(self, name: str) -> None:
        """Start a dead part again: kill what is left of its process group (orphaned children),
        reap it, then start it as `up()` did (Postgres clears lock files whose owner is dead)."""
        spec = {s.name: s for s in self.specs()}[name]
        old = self.running.get(name)
        if old is not None:
            with contextlib.suppress(Exception):
                old.process.kill_group()
        self._start(spec)
        self.write_status(ready=True)

    def supervisor_units(self) -> list[Unit]:
        """The stack's parts as supervised units (see `devnet.stack.supervisor`)."""

        def unit(name: str) -> Unit:
            return Unit(
                name=name,
                kind="stack",
                alive=lambda: self.running[name].process.alive(),
                pid=lambda: self.running[name].process.pid,
                exit_code=lambda: self.running[name].process.returncode(),
                restart=lambda: self.restart_component(name),
            )

        return [unit(name) for name in self.running]

    def supervise(self, stop: Callable[[], bool], poll: float = 1.0) -> None:
        """Restart any part that dies (reaped, with backoff, logged) until `stop()` says so."""
        supervisor = Supervisor(self.log, poll=poll)
        for unit in self.supervisor_units():
            supervisor.add(unit)
        supervisor.start()
        try:
            while not stop():
                time.sleep(0.2)
        finally:
            supervisor.stop()

    def run_foreground(self, on_ready: Callable[[LocalStack], None] | None = None) -> None:
        stopping = False

        def _request_stop(signum: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True

        previous = {
            sig: signal.signal(sig, _request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self.up()
            if on_ready:
                on_ready(self)
            self.supervise(lambda: stopping)
        finally:
            self.log("stack: stopping")
            self.down()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def read_status(state_dir: Path) -> dict[str, Any]:
    path = state_dir / "stack.json"
    if not path.exists():
        return {}
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    return data


def stop_running_stack(state_dir: Path, timeout: float = 30.0) -> str:
    """What `hedger stack down` does: ask the supervisor to stop, then make sure its children are gone."""
    status = read_status(state_dir)
    lock = state_dir / "stack.lock"
    supervisor = (
        int(lock.read_text().strip() or 0) if lock.exists() else status.get("supervisor_pid", 0)
    )
    if supervisor and pid_alive(supervisor):
        os.kill(supervisor, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.1)
    leftovers = 0
    for name, pid in status.get("pids", {}).items():
        if pid_alive(pid):
            leftovers += 1
            stop_process_group(pid, sig=signal.SIGINT if name == "postgres" else signal.SIGTERM)
    with contextlib.suppress(FileNotFoundError):
        lock.unlink()
    if not supervisor and not status:
        return "stack: not running"
    return "stack: stopped" + (f" ({leftovers} leftover process(es) killed)" if leftovers else "")


def _read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out
