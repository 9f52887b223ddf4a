"""`python -m devnet.oracle.cli` (what `hedger devnet oracle` runs) serves Muon's API."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from devnet.oracle.server import free_port
from devnet.oracle.signer import default_devnet_signer


def test_cli_serves_info_and_muon_errors() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devnet.oracle.cli",
            "--port",
            str(port),
            "--rpc-url",
            "http://127.0.0.1:9",
            "--price",
            "BTCUSDT=61000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "oracle did not come up"
            time.sleep(0.1)
        info = httpx.get(f"{base}/v1/info").json()
        assert info["gateway"] == default_devnet_signer().gateway_address
        # the chain is unreachable: a Muon-shaped error, not a crash
        r = httpx.get(
            f"{base}/v1/",
            params={
                "app": "symmio",
                "method": "uPnl_A",
                "params[partyA]": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                "params[chainId]": "31337",
                "params[symmio]": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
            },
            timeout=20,
        )
        assert r.status_code == 503 and r.json()["success"] is False
    finally:
        proc.terminate()
        proc.wait(timeout=10)
