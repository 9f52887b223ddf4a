"""The devnet's own HTTP services run as supervised children: exchange simulator and Muon oracle."""

from __future__ import annotations

import socket
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devnet.stack.process import ManagedProcess, ensure_port_free, wait_until


@dataclass
class HttpService:
    name: str
    host: str
    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.process.stop()


def _hedger(*args: str) -> list[str]:
    return [sys.executable, "-m", "hedger", *args]


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(200 <= response.status < 500)


def _accepts(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=1):
        return True


def start_exchange(
    *,
    port: int,
    state_dir: Path,
    host: str = "127.0.0.1",
    seed: int = 1,
    timeout: float = 60,
    extra: list[str] | None = None,
) -> HttpService:
    ensure_port_free(host, port, "exchange")
    argv = _hedger("devnet", "exchange", "--host", host, "--port", str(port), "--seed", str(seed))
    argv += extra or []
    process = ManagedProcess("exchange", argv, state_dir / "exchange.log").start()
    service = HttpService("exchange", host, port, process)
    wait_until(
        lambda: _http_ok(f"{service.url}/fapi/v1/ping"),
        timeout=timeout,
        what="exchange",
        proc=process,
    )
    return service


def start_oracle(
    *,
    port: int,
    state_dir: Path,
    rpc_url: str,
    price_url: str | None,
    host: str = "127.0.0.1",
    timeout: float = 60,
) -> HttpService:
    ensure_port_free(host, port, "oracle")
    argv = _hedger("devnet", "oracle", "--host", host, "--port", str(port), "--rpc-url", rpc_url)
    if price_url:
        argv += ["--price-url", price_url]
    process = ManagedProcess("oracle", argv, state_dir / "oracle.log").start()
    service = HttpService("oracle", host, port, process)
    wait_until(lambda: _accepts(host, port), timeout=timeout, what="oracle", proc=process)
    return service
