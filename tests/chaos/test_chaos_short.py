"""The short chaos run: ~20 intents while a few processes are `kill -9`'d (and restarted by the
supervisor) and broker fault windows open; bounded to about three minutes.

One run (the real `hedger devnet chaos` command, as a process) feeds two tests: the run itself
must behave — bounded, every kill restarted, summary written — and the honest counters must be
zero. The second is expected to fail today (hedger-side defects, see its reason).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

TARGETS = "worker-chain,worker-broker,worker-workflows,postgres,temporal,ack_then_timeout,lookup_miss,http_error"
BOUND_SECONDS = 240  # the run's own timeout is 150 s plus settling; the process gets this long


@pytest.fixture(scope="module")
def chaos_run() -> dict[str, Any]:
    import shutil

    runs = Path(__file__).resolve().parents[2] / ".hedger" / "chaos-test"
    for old in sorted(runs.glob("run-*"), key=lambda p: p.stat().st_mtime)[:-4]:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)  # keep the last few runs for a post-mortem
        else:
            old.unlink(missing_ok=True)
    state = runs / f"run-{os.getpid()}"
    summary = state / "summary.json"
    argv = [
        sys.executable, "-m", "hedger", "devnet", "chaos", "--intents", "20", "--seed", "7",
        "--every", "5", "--max-injections", "8", "--only", TARGETS, "--timeout", "150",
        "--settle-timeout", "45", "--state-dir", str(state), "--summary-json", str(summary),
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=BOUND_SECONDS + 60)
    elapsed = time.monotonic() - started
    (runs / f"run-{os.getpid()}.log").write_text(result.stderr + result.stdout)
    assert summary.exists(), (
        f"no summary written (exit {result.returncode}):\n{result.stderr[-4000:]}"
    )
    data: dict[str, Any] = json.loads(summary.read_text())
    data["_exit"], data["_elapsed"], data["_log"] = result.returncode, elapsed, result.stderr
    return data


def test_chaos_run_is_bounded_and_every_kill_is_restarted(chaos_run: dict[str, Any]) -> None:
    assert chaos_run["_elapsed"] < BOUND_SECONDS, "the chaos run did not end in time"
    assert chaos_run["_exit"] in (0, 1, 2) and chaos_run["intents"] >= 20
    kills = [r for r in chaos_run["faults_injected"] if r["kind"] == "kill -9"]
    faults = [r for r in chaos_run["faults_injected"] if r["kind"] != "kill -9"]
    assert len(kills) >= 3 and faults, chaos_run["faults_injected"]
    assert all(r["error"] is None for r in chaos_run["faults_injected"])
    not_back = [r for r in kills if r["detail"] == "NOT restarted"]
    assert not not_back, f"killed and never restarted by the supervisor: {not_back}"
    assert sum(chaos_run["restarts"].values()) >= len(kills)
    assert "chaos: faults injected" in chaos_run["_log"]  # the table was printed
    assert (chaos_run["_exit"] == 0) == (
        chaos_run["violations"] == 0 and not chaos_run["timed_out"]
    )


def test_chaos_counters_are_zero(chaos_run: dict[str, Any]) -> None:
    counters = chaos_run["counters"]
    assert counters == dict.fromkeys(counters, 0), json.dumps(
        {k: chaos_run["details"][k] for k in counters if k in chaos_run["details"]}, indent=1
    )
    assert not chaos_run["timed_out"]
