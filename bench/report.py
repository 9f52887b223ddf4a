"""The bench's results: `bench/results/<UTC timestamp>.json` and `latest.json` with every figure,
the command and the machine; a PNG of latency by offered rate; a table for the terminal."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.stats import HOPS


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": memory,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def write(results: dict[str, Any], out: Path, *, command: str) -> list[Path]:
    """The JSON (timestamped and latest) and the PNG (timestamped and latest)."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    document = {
        "generated_at": stamp,
        "command": command,
        "commit": git_commit(),
        "machine": machine(),
        **results,
    }
    text = json.dumps(document, indent=1, sort_keys=True, default=str) + "\n"
    paths = [out / f"{stamp}.json", out / "latest.json"]
    for path in paths:
        path.write_text(text)
    png = chart(document, out / f"{stamp}.png")
    if png is not None:
        latest = out / "latest.png"
        latest.write_bytes(png.read_bytes())
        paths += [png, latest]
    return paths


def chart(document: dict[str, Any], path: Path) -> Path | None:
    """Latency (p50 and p99) of SendQuote -> lock broadcast and SendQuote -> open mined by offered
    rate, the floor's p50 as a line; None without matplotlib (`pip install -e .[bench]`)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    phases = document.get("phases") or []
    if not phases:
        return None
    rates = [p["offered"] for p in phases]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for hop, colour in (
        ("seen_to_lock_broadcast", "tab:blue"),
        ("seen_to_open_mined", "tab:orange"),
    ):
        for q, style in (("p50_ms", "-o"), ("p99_ms", "--x")):
            ys = [(p["hops"].get(hop) or {}).get(q) for p in phases]
            if any(y is not None for y in ys):
                ax.plot(rates, [y if y is not None else float("nan") for y in ys], style,
                        color=colour, label=f"{hop} {q[:3]}")  # fmt: skip
        floor = ((document.get("floor") or {}).get("hops") or {}).get(hop) or {}
        if floor.get("p50_ms") is not None:
            ax.axhline(floor["p50_ms"], color=colour, linestyle=":", linewidth=1,
                       label=f"floor {hop} p50")  # fmt: skip
    ax.set_xlabel("offered intents / s")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.set_title(f"symmio-hedger latency by offered rate ({document.get('generated_at', '')})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def table(results: dict[str, Any]) -> str:
    """A compact terminal table: per rate, each hop's p50 / p99 in ms; then the headline figures."""
    lines = []
    names = [h[0] for h in HOPS]
    header = f"{'rate/s':>7} {'posted':>6} {'done':>5} {'stuck':>5} " + " ".join(
        f"{n[:24]:>24}" for n in names
    )
    lines.append(header)
    for p in results.get("phases", []):
        lines.append(
            f"{p['offered']:>7g} {p['posted']:>6} {p['done']:>5} {p['stuck']:>5} "
            + _hop_cells(p["hops"], names)
        )
    floor = results.get("floor") or {}
    if floor.get("hops"):
        lines.append(
            f"{'floor':>7} {floor.get('posted', 0):>6} {'':>5} {'':>5} "
            + _hop_cells(floor["hops"], names)
        )
    lines.append(f"highest sustained rate: {results.get('highest_sustained_rate')} intents/s")
    if floor.get("ratios"):
        lines.append("hedger/floor p50: " + ", ".join(
            f"{k}={v}" for k, v in floor["ratios"].items()))  # fmt: skip
    race = results.get("race") or {}
    if race:
        lines.append(f"lock race: hedger won {race.get('hedger_won')} of "
                     f"{(race.get('hedger_won') or 0) + (race.get('floor_won') or 0)} "
                     f"(win rate {race.get('hedger_win_rate')})")  # fmt: skip
    memory = results.get("position_memory") or {}
    if memory:
        lines.append(f"open positions {memory.get('positions_open')}: "
                     f"{memory.get('rss_mb_per_1000')} MB RSS per 1,000 (workflow worker), "
                     f"growth {memory.get('rss_growth_mb_during_soak')} MB over "
                     f"{memory.get('soak_seconds')} s")  # fmt: skip
    temporal = results.get("temporal") or {}
    if temporal:
        lines.append(f"per intent: {temporal.get('history_events_per_intent')} history events, "
                     f"{temporal.get('activities_before_lock')} activities and "
                     f"{temporal.get('workflow_tasks_before_lock')} workflow tasks before the lock")  # fmt: skip
    return "\n".join(lines)


def _hop_cells(hops: dict[str, Any], names: list[str]) -> str:
    """Each hop's "p50/p99" in ms, right-aligned in its column."""
    cells = []
    for n in names:
        h = hops.get(n) or {}
        cells.append(f"{_ms(h.get('p50_ms'))}/{_ms(h.get('p99_ms'))}".rjust(24))
    return " ".join(cells)


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:g}"
