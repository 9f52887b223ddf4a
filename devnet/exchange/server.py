"""Run the simulator: in the foreground (`run_exchange`) or in a background thread (tests)."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from decimal import Decimal
from pathlib import Path

import uvicorn

from devnet.exchange.app import create_app
from devnet.exchange.config import DEFAULT_HOST, DEFAULT_PORT, ExchangeConfig


def with_csv(config: ExchangeConfig, csv_path: Path | None) -> ExchangeConfig:
    """Replay `csv_path` for every symbol (handy for a single-symbol run)."""
    if csv_path is None:
        return config
    config.symbols = tuple(dataclasses.replace(s, csv_path=csv_path) for s in config.symbols)
    return config


def run_exchange(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    config: ExchangeConfig | None = None,
    log_level: str = "warning",
) -> None:
    """Serve the simulator until interrupted. Binds loopback only unless told otherwise."""
    uvicorn.run(
        create_app(config or ExchangeConfig()),
        host=host,
        port=port,
        log_level=log_level,
        ws_ping_interval=None,
    )


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class BackgroundExchange:
    """The simulator on a free port in a daemon thread with its own event loop."""

    def __init__(
        self,
        config: ExchangeConfig | None = None,
        host: str = DEFAULT_HOST,
        port: int | None = None,
    ) -> None:
        self.config = config or ExchangeConfig()
        self.host = host
        self.port = port or free_port(host)
        self.app = create_app(self.config)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host=host,
                port=self.port,
                log_level="warning",
                ws_ping_interval=None,
                timeout_graceful_shutdown=1,
            )
        )
        self._thread = threading.Thread(
            target=self._server.run, name="devnet-exchange", daemon=True
        )

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def start(self, timeout: float = 10.0) -> BackgroundExchange:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("devnet exchange did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


__all__ = ["BackgroundExchange", "Decimal", "free_port", "run_exchange", "with_csv"]
