"""`hedger worker chain` as production runs it: a subprocess configured by HEDGER_* only, which
connects, serves activities on hedger-chain and exits cleanly (os._exit) on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SymmioUnderTest

from adapters.chain.abi import ABI_PATH
from config.settings import Settings
from devnet.oracle.server import BackgroundOracle

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not ABI_PATH.exists(), reason="the packaged SYMMIO ABI has not been generated")
def test_chain_worker_command_starts_and_stops(
    settings: Settings, symmio: SymmioUnderTest, hedger_key: tuple[str, str],
    oracle: BackgroundOracle, database_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    env = {
        **os.environ,
        "HEDGER_TEMPORAL_ADDRESS": settings.temporal_address,
        "HEDGER_RPC_HTTP_URLS": f"http://127.0.0.1:1,{symmio.anvil.http_url}",
        "HEDGER_SYMMIO_ADDRESS": symmio.address,
        "HEDGER_PRIVATE_KEY": hedger_key[0],
        "HEDGER_MUON_URLS": oracle.url,
        "HEDGER_DATABASE_URL": database_url,
        "HEDGER_METRICS_PORT": "0",
        "HEDGER_LOG_LEVEL": "INFO",
    }
    log_path = tmp_path / "chain-worker.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hedger", "worker", "chain"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while "chain worker for signer" not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        assert hedger_key[1] in log_path.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
