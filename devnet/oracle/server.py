"""Run the devnet Muon oracle: in the foreground (`run_oracle`) or in a background thread (tests)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from devnet.oracle.app import OracleConfig, create_app
from devnet.oracle.chain import ChainReader
from devnet.oracle.defaults import DEFAULT_HOST, DEFAULT_PORT
from devnet.oracle.prices import PriceSource
from devnet.oracle.signer import MuonSigner


def run_oracle(
    config: OracleConfig | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    log_level: str = "warning",
) -> None:
    """Serve the oracle until interrupted. Binds loopback only unless told otherwise."""
    uvicorn.run(create_app(config or OracleConfig()), host=host, port=port, log_level=log_level)


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class BackgroundOracle:
    """The oracle on a free port in a daemon thread with its own event loop."""

    def __init__(
        self,
        config: OracleConfig | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        chain: ChainReader | None = None,
        prices: PriceSource | None = None,
        signer: MuonSigner | None = None,
    ) -> None:
        self.config = config or OracleConfig()
        self.host = host
        self.port = port or free_port(host)
        self.app = create_app(self.config, chain=chain, prices=prices, signer=signer)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host=host,
                port=self.port,
                log_level="warning",
                timeout_graceful_shutdown=1,
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="devnet-oracle", daemon=True)

    @property
    def url(self) -> str:
        """The Muon gateway base URL (what the hedger's `muon_urls` holds)."""
        return f"http://{self.host}:{self.port}/v1/"

    def start(self, timeout: float = 10.0) -> BackgroundOracle:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("devnet oracle did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> BackgroundOracle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
