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


def _race_locks(race: dict[str, Any]) -> int:
    """The race's quotes locked by either PartyB."""
    return int(race.get("hedger_won") or 0) + int(race.get("floor_won") or 0)


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
        lines.append(f"lock race: hedger won {race.get('hedger_won')} of {_race_locks(race)} "
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


# ------------------------------------------------------------------------- README markdown
HOP_TITLES = {
    "seen_to_lock_broadcast": "seen→lock broadcast",
    "lock_mined_to_broker_ack": "lock mined→broker ack",
    "broker_fill_to_open_mined": "broker fill→open mined",
    "seen_to_open_mined": "seen→open mined",
    "close_seen_to_broker_ack": "close seen→broker ack",
    "close_fill_to_fill_mined": "close fill→fill mined",
    "close_seen_to_fill_mined": "close seen→fill mined",
}
HEDGER_PROCESSES = ("worker-", "order-monitor", "listener-", "api")
RSS_TARGET_MB = 200.0


def markdown(document: dict[str, Any]) -> str:
    """The README's block for one results document (`latest.json`): the command line, the table
    by offered rate with the floor, and the headline figures, each taken from the document."""
    names = [h[0] for h in HOPS]
    machine_ = document.get("machine") or {}
    stamp = document.get("generated_at", "?")
    commit = (document.get("commit") or "?")[:7]
    lines = [
        f"`{document.get('command', '?')}` at `{commit}`, {stamp}, "
        f"{machine_.get('cpus', '?')} × {_cpu_name(machine_.get('cpu_model', ''))}, "
        f"{machine_.get('memory_gb', '?')} GB, Python {machine_.get('python', '?')}; "
        f"{document.get('wall_seconds', 0):.0f} s.",
        "",
        "| offered/s | posted | done | stuck | processed/s | "
        + " | ".join(f"{HOP_TITLES.get(n, n)} p50/p99" for n in names)
        + " |",
        "|" + "---|" * (5 + len(names)),
    ]
    for p in document.get("phases", []):
        lines.append(
            f"| {p['offered']:.1f} | {p['posted']} | {p['done']} | {p['stuck']} | "
            f"{p.get('processed_per_second', '-')} | " + _md_hops(p["hops"], names) + " |"
        )
    floor = document.get("floor") or {}
    if floor.get("hops"):
        lines.append(
            f"| floor ({floor.get('rate', '?'):g}/s) | {floor.get('posted', 0)} |  |  |  | "
            + _md_hops(floor["hops"], names)
            + " |"
        )
    lines.append("")
    lines += [f"- {line}" for line in _md_figures(document)]
    return "\n".join(lines)


def _cpu_name(model: str) -> str:
    """ "Intel(R) Xeon(R) Processor" -> "Intel Xeon"; "AMD EPYC 7B13" -> "AMD EPYC"."""
    words = [w.replace("(R)", "").replace("(TM)", "") for w in model.split()]
    kept = [w for w in words if w and w.lower() not in ("processor", "cpu")]
    return " ".join(kept[:2]) or "?"


def _md_hops(hops: dict[str, Any], names: list[str]) -> str:
    cells = []
    for n in names:
        h = hops.get(n) or {}
        p50, p99 = h.get("p50_ms"), h.get("p99_ms")
        cells.append("-" if p50 is None else f"{p50:.1f} / {(p99 or 0):.1f} ms")
    return " | ".join(cells)


def _md_figures(document: dict[str, Any]) -> list[str]:
    out: list[str] = []
    floor = document.get("floor") or {}
    if floor.get("ratios"):
        order = [f"{h[0]}_ratio" for h in HOPS]
        ranked = sorted(floor["ratios"].items(), key=lambda kv: _rank(order, kv[0]))
        ratios = ", ".join(f"{k.removesuffix('_ratio')} {v}x" for k, v in ranked)
        out.append(f"hedger / floor p50 at {floor.get('rate', '?'):g}/s: {ratios}")
    phases = document.get("phases", [])
    if phases:
        best = max(phases, key=lambda p: p.get("processed_per_second") or 0)
        out.append(
            f"highest sustained rate: **{document.get('highest_sustained_rate')} intents/s**; "
            f"full lifecycles completed per second peak at {best.get('processed_per_second')} "
            f"(`processed/s`, at {best['offered']:g}/s)"
        )
    race = document.get("race") or {}
    if race:
        out.append(
            f"lock race against the floor: hedger won **{race.get('hedger_won')} of "
            f"{_race_locks(race)}** "
            f"(win rate {race.get('hedger_win_rate')})"
        )
    t = document.get("temporal") or {}
    if t:
        out.append(
            f"per intent: {t.get('history_events_per_intent')} history events; "
            f"{t.get('activities_before_lock'):g} activities and "
            f"{t.get('workflow_tasks_before_lock'):g} workflow task before the lock "
            f"({t.get('local_activities_before_lock'):g} local activities); "
            f"quote seen → workflow started p50 {_p50(t, 'quote_seen_to_workflow_started')}; "
            f"workflow start → lock scheduled p50 {_p50(t, 'workflow_start_to_lock_scheduled')}; "
            f"lock dispatch p50 {_p50(t, 'lock_activity_dispatch')}; "
            f"lock started → broadcast p50 {_p50(t, 'lock_started_to_broadcast')}; "
            f"a no-op activity round trip on the same server {t.get('noop_activity_round_trip_ms')} ms"
        )
    m = document.get("position_memory") or {}
    if m:
        out.append(
            f"open positions: {m.get('positions_open')} of {m.get('positions_requested')}; "
            f"workflow worker RSS {m.get('rss_mb_before')} MB before, samples {m.get('samples')}; "
            f"{m.get('rss_mb_per_1000')} MB per 1,000 (the slope over the samples); "
            f"{m.get('rss_growth_mb_during_soak')} MB change over a {m.get('soak_seconds'):g} s soak"
        )
    whole = document.get("resources_whole_run") or {}
    if whole:
        top = sorted(whole.items(), key=lambda kv: -kv[1]["cpu_pct_mean"])[:8]
        out.append(
            "CPU % mean (RSS MB peak), whole run: "
            + ", ".join(f"{k} {v['cpu_pct_mean']} ({v['rss_mb_peak']})" for k, v in top)
        )
        ours = {k: v["rss_mb_peak"] for k, v in whole.items() if k.startswith(HEDGER_PROCESSES)}
        over = sorted(
            ((k, mb) for k, mb in ours.items() if mb > RSS_TARGET_MB), key=lambda x: -x[1]
        )
        heaviest = max(ours.items(), key=lambda kv: kv[1]) if ours else None
        out.append(
            "hedger processes over 200 MB (peak): "
            + (", ".join(f"{k} {mb}" for k, mb in over) if over else "none")
            + (f"; the heaviest is {heaviest[0]} at {heaviest[1]} MB" if heaviest else "")
        )
    loaded = next((p for p in phases if p["offered"] == 2.0 and p.get("resources")), None)
    if loaded:
        res = loaded["resources"]
        top = sorted(res.items(), key=lambda kv: -kv[1]["cpu_pct_mean"])[:8]
        out.append(
            "CPU % mean at 2/s: "
            + ", ".join(f"{k} {v['cpu_pct_mean']}" for k, v in top)
            + f"; {_cpu_share(res, document)}"
        )
    soak = m.get("resources_during_soak") if m else None
    if soak:
        out.append(
            f"idle with {m.get('positions_open')} positions open (soak): "
            f"{_cpu_share(soak, document)}"
        )
    return out


def _cpu_share(resources: dict[str, Any], document: dict[str, Any]) -> str:
    """Every process's mean CPU together, against the machine's cores."""
    total = sum(v["cpu_pct_mean"] for v in resources.values())
    cpus = (document.get("machine") or {}).get("cpus") or 0
    return f"all processes {total:.0f} % of {cpus * 100} %"


def _rank(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


def _p50(temporal: dict[str, Any], name: str) -> str:
    value = (temporal.get(name) or {}).get("p50_ms")
    return "-" if value is None else f"{value} ms"


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.report [results.json]`: the README block for a results document
    (default `bench/results/latest.json`)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path("bench/results/latest.json")
    print(markdown(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
