"""Benchmark: cold and warm start of the embedded local stack (`hedger stack up`).

Prints, per run, the wall time of each part (Postgres incl. initdb on the cold run, Temporal dev
server, anvil, exchange simulator, Muon oracle, then migrations + search attributes) and the
total until the stack is ready, then stops it. Run: `.venv/bin/python bench/stack_cold_start.py`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devnet.stack.process import free_port  # noqa: E402
from devnet.stack.stack import LocalStack, StackPorts  # noqa: E402


def run_once(state_dir: Path, label: str) -> float:
    lines: list[str] = []
    ports = StackPorts(*(free_port() for _ in range(6)))
    stack = LocalStack(state_dir, ports, log=lines.append)
    started = time.perf_counter()
    stack.up()
    total = time.perf_counter() - started
    stack.down()
    print(f"{label}: ready in {total:.2f}s")
    for line in lines:
        if "ready in" in line:
            print("   ", line.split(" {")[0])
    return total


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        cold = run_once(state, "cold start (empty state dir)")
        warm = run_once(state, "warm start (existing state)")
    print(f"summary: cold={cold:.2f}s warm={warm:.2f}s")


if __name__ == "__main__":
    main()
