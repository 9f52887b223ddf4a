"""Start the exchange simulator as a supervised child process of the local stack (like anvil)."""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devnet.exchange.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_HOST, DEFAULT_PORT
from devnet.stack.process import ManagedProcess, ensure_port_free, wait_until


@dataclass
class ExchangeProcess:
    host: str
    port: int
    process: ManagedProcess
    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(self.rest_url + "/fapi/v1/time", timeout=2) as r:
                return "serverTime" in json.loads(r.read())
        except OSError:
            return False

    def stop(self) -> None:
        self.process.stop()


def start_exchange(*, state_dir: Path, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST, seed: int = 1,
                   tick: float = 0.25, prices_csv: Path | None = None, timeout: float = 30.0) -> ExchangeProcess:
    """Run `python -m devnet.exchange` bound to `host:port`, logging to `state_dir/exchange.log`."""
    ensure_port_free(host, port, "exchange simulator")
    state_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "devnet.exchange", "--host", host, "--port", str(port), "--seed", str(seed),
            "--tick", str(tick)]
    if prices_csv is not None:
        argv += ["--prices-csv", str(prices_csv)]
    process = ManagedProcess("exchange", argv, state_dir / "exchange.log").start()
    exchange = ExchangeProcess(host, port, process)
    wait_until(exchange.ping, timeout=timeout, what="exchange simulator", proc=process)
    return exchange
