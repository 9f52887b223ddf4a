"""What a process pays for at start: every process is `python -m hedger <command>`, so what the
CLI imports every process holds in memory, whatever it runs (it was 128 MB: the listeners,
SQLAlchemy, web3, FastAPI and the devnet servers, in every worker).

Each check runs in a fresh interpreter (this one imported everything long ago).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "sqlmodel", "asyncpg", "web3", "eth_account", "fastapi", "uvicorn", "ccxt")


def _loaded(*modules: str) -> list[str]:
    """The HEAVY libraries loaded once `modules` are imported, in a fresh interpreter."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {list(modules)!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(h for h in {list(HEAVY)!r} if h in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_cli_imports_no_library_a_command_does_not_need_to_start() -> None:
    """The commands import what they run when they run (the devnet ones too: `hedger devnet
    exchange` does not need web3, a worker does not need the exchange's FastAPI)."""
    assert _loaded("hedger.cli") == []


@pytest.mark.parametrize(
    ("modules", "allowed"),
    [
        # the workflow worker: local reads reach the chain (web3) and sign nothing in Postgres
        (("workers.workflows", "workers.local_reads"), {"web3", "eth_account"}),
        # the broker side: ccxt is loaded when a client is made, not at import
        (("workers.broker",), set()),
        (("workers.order_monitor",), set()),
    ],
)
def test_a_worker_imports_only_what_it_uses(modules: tuple[str, ...], allowed: set[str]) -> None:
    assert set(_loaded("hedger.cli", *modules)) <= allowed
