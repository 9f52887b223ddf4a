"""The bench's arithmetic: percentiles, stamps from the simulator's records, hops, ratios,
the sustained-rate rule, RSS per 1,000 positions, and the report files (JSON + PNG)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report
from bench.stats import (
    QuoteStamps,
    RatePhase,
    broker_stamps,
    highest_sustained,
    hop_latencies,
    local_activity_type,
    percentiles,
    ratios,
    rss_per_thousand,
    sustained,
)


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    values = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    assert percentiles(values) == {"n": 100, "p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0}
    assert percentiles([]) == {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None}
    assert percentiles([0.25])["p99_ms"] == 250.0


def test_broker_stamps_take_the_first_ack_and_the_last_fill_of_each_purpose() -> None:
    orders = [
        {"clientOrderId": "h7o1", "time": 1_000_000},
        {"clientOrderId": "h7o2", "time": 1_000_500},
        {"clientOrderId": "h7c1n1", "time": 1_002_000},
        {"clientOrderId": "h70o1", "time": 999},  # another quote
    ]
    trades = [
        {"clientOrderId": "h7o1", "time": 1_000_100},
        {"clientOrderId": "h7o2", "time": 1_000_700},
        {"clientOrderId": "h7c1n1", "time": 1_002_050},
    ]
    assert broker_stamps(7, orders, trades) == {
        "order_ack": 1000.0, "filled": 1000.7, "close_order_ack": 1002.0, "close_filled": 1002.05,
    }  # fmt: skip


def test_hops_skip_missing_or_reversed_stamps() -> None:
    a = QuoteStamps(1, stamps={"quote_seen": 10.0, "lock_broadcast": 10.1, "open_mined": 11.0})
    b = QuoteStamps(2, stamps={"quote_seen": 10.0, "lock_broadcast": 9.0})  # clock went back
    hops = hop_latencies([a, b])
    assert hops["seen_to_lock_broadcast"]["n"] == 1
    assert abs((hops["seen_to_lock_broadcast"]["p50_ms"] or 0) - 100.0) < 0.2
    assert hops["seen_to_open_mined"]["p50_ms"] == 1000.0
    assert hops["close_seen_to_fill_mined"]["n"] == 0


def test_ratios_are_hedger_over_floor_p50() -> None:
    hedger = {"seen_to_lock_broadcast": {"p50_ms": 300.0}, "seen_to_open_mined": {"p50_ms": None}}
    floor = {"seen_to_lock_broadcast": {"p50_ms": 100.0}, "seen_to_open_mined": {"p50_ms": 50.0}}
    assert ratios(hedger, floor) == {
        "seen_to_lock_broadcast_ratio": 3.0, "seen_to_open_mined_ratio": None,
    }  # fmt: skip


def test_a_rate_is_sustained_only_when_everything_got_done_at_the_offered_pace() -> None:
    ok = RatePhase(10, 9.5, 200, 200, 0, 25.0)
    stuck = RatePhase(20, 19.8, 400, 390, 10, 60.0)
    slow_poster = RatePhase(30, 20.0, 400, 400, 0, 30.0)
    assert sustained(ok) and not sustained(stuck) and not sustained(slow_poster)
    assert highest_sustained([ok, stuck, slow_poster]) == 10
    assert highest_sustained([stuck]) is None


def test_rss_per_thousand_is_the_slope() -> None:
    assert rss_per_thousand([(0, 200.0), (1000, 230.0), (2000, 260.0)]) == 30.0
    assert rss_per_thousand([(0, 200.0)]) is None


def test_report_writes_json_and_png(tmp_path: Path) -> None:
    results = {
        "phases": [
            {"offered": 2.0, "achieved": 2.0, "posted": 4, "done": 4, "stuck": 0,
             "hops": {"seen_to_lock_broadcast": {"p50_ms": 300.0, "p99_ms": 500.0},
                      "seen_to_open_mined": {"p50_ms": 900.0, "p99_ms": 1500.0}}},
            {"offered": 5.0, "achieved": 5.0, "posted": 10, "done": 10, "stuck": 0,
             "hops": {"seen_to_lock_broadcast": {"p50_ms": 320.0, "p99_ms": 700.0},
                      "seen_to_open_mined": {"p50_ms": 950.0, "p99_ms": 1900.0}}},
        ],
        "floor": {"hops": {"seen_to_lock_broadcast": {"p50_ms": 30.0}}, "ratios": {"x_ratio": 10.0}},
        "race": {"hedger_won": 1, "floor_won": 3, "hedger_win_rate": 0.25},
        "highest_sustained_rate": 5.0,
    }  # fmt: skip
    paths = report.write(results, tmp_path, command="make bench")
    names = {p.name for p in paths}
    assert {"latest.json", "latest.png"} <= names
    latest = json.loads((tmp_path / "latest.json").read_text())
    assert latest["command"] == "make bench" and latest["machine"]["cpus"]
    assert (tmp_path / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = report.table(results)
    assert "highest sustained rate: 5.0" in text and "win rate 0.25" in text


def test_local_activities_are_read_from_the_sdk_marker_of_a_recorded_history() -> None:
    from temporalio.client import WorkflowHistory

    histories = Path(__file__).resolve().parents[1] / "workflows" / "histories"
    raw = json.loads((histories / "IntentWorkflow-local-reads-run1.json").read_text())
    history = WorkflowHistory.from_json(raw["workflow_id"], raw["history"])
    found = [t for e in history.events if (t := local_activity_type(e)) is not None]
    assert sorted(found) == [
        "broker_market_snapshot", "chain_open_facts", "ops_open_inputs_reserving",
    ]  # fmt: skip
    older = json.loads((histories / "IntentWorkflow-fast-path-run1.json").read_text())
    history = WorkflowHistory.from_json(older["workflow_id"], older["history"])
    assert all(local_activity_type(e) is None for e in history.events)  # markers of patches


def test_the_readme_block_is_rendered_from_the_results_document() -> None:
    """`python -m bench.report` prints what the README shows: nothing copied by hand."""
    document = {
        "command": "make bench", "commit": "0123456789abcdef", "generated_at": "20261204T000000Z",
        "wall_seconds": 61.2,
        "machine": {"cpus": 2, "cpu_model": "Intel(R) Xeon(R) Processor", "memory_gb": 8.0,
                    "python": "3.11.7"},
        "phases": [
            {"offered": 2.0, "posted": 4, "done": 4, "stuck": 0, "processed_per_second": 1.9,
             "hops": {"seen_to_lock_broadcast": {"p50_ms": 300.0, "p99_ms": 500.0}},
             "resources": {"temporal": {"cpu_pct_mean": 50.0, "rss_mb_peak": 300.0},
                           "worker-ops": {"cpu_pct_mean": 10.0, "rss_mb_peak": 180.0}}},
        ],
        "floor": {"rate": 0.5, "posted": 4,
                  "hops": {"seen_to_lock_broadcast": {"p50_ms": 30.0, "p99_ms": 40.0}},
                  "ratios": {"seen_to_open_mined_ratio": 2.5, "seen_to_lock_broadcast_ratio": 10.0}},
        "race": {"hedger_won": 1, "floor_won": 3, "hedger_win_rate": 0.25},
        "highest_sustained_rate": 2.0,
        "resources_whole_run": {
            "worker-ops": {"cpu_pct_mean": 10.0, "rss_mb_peak": 180.0},
            "worker-broker": {"cpu_pct_mean": 1.0, "rss_mb_peak": 210.5},
            "anvil": {"cpu_pct_mean": 30.0, "rss_mb_peak": 1500.0},
        },
    }  # fmt: skip
    text = report.markdown(document)
    lines = text.splitlines()
    assert lines[0].startswith("`make bench` at `0123456`, 20261204T000000Z, 2 × Intel Xeon")
    assert "| 2.0 | 4 | 4 | 0 | 1.9 | 300.0 / 500.0 ms | - |" in text
    assert "| floor (0.5/s) | 4 |  |  |  | 30.0 / 40.0 ms |" in text
    # ratios in the hops' order; only hedger processes count against the 200 MB target
    assert "at 0.5/s: seen_to_lock_broadcast 10.0x, seen_to_open_mined 2.5x" in text
    assert "hedger processes over 200 MB (peak): worker-broker 210.5;" in text
    assert "won **1 of 4**" in text and "all processes 60 % of 200 %" in text


def test_the_readme_shows_the_committed_latest_results() -> None:
    """The README's Performance block is `python -m bench.report` of `bench/results/latest.json`,
    verbatim: a bench run committed without its README block (or the reverse) fails here."""
    root = Path(__file__).resolve().parents[2]
    latest = json.loads((root / "bench" / "results" / "latest.json").read_text())
    assert report.markdown(latest) in (root / "README.md").read_text()
