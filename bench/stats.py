"""The bench's arithmetic (no I/O): percentiles, per-hop latencies from outside stamps, the
hedger / floor ratios and the sustained-rate rule."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The hops, in the order the report prints them: (name, start stamp, end stamp).
OPEN_HOPS: tuple[tuple[str, str, str], ...] = (
    ("seen_to_lock_broadcast", "quote_seen", "lock_broadcast"),
    ("lock_mined_to_broker_ack", "lock_mined", "order_ack"),
    ("broker_fill_to_open_mined", "filled", "open_mined"),
    ("seen_to_open_mined", "quote_seen", "open_mined"),
)
CLOSE_HOPS: tuple[tuple[str, str, str], ...] = (
    ("close_seen_to_broker_ack", "close_seen", "close_order_ack"),
    ("close_fill_to_fill_mined", "close_filled", "close_mined"),
    ("close_seen_to_fill_mined", "close_seen", "close_mined"),
)
HOPS = OPEN_HOPS + CLOSE_HOPS

_OPEN_ID = re.compile(r"^h(\d+)o(\d+)$")
_CLOSE_ID = re.compile(r"^h(\d+)c(\d+)n(\d+)$")


def percentiles(values: Iterable[float]) -> dict[str, float | int | None]:
    """p50 / p95 / p99 (nearest rank), in milliseconds rounded to 0.1, and n."""
    ordered = sorted(v for v in values if v is not None and math.isfinite(v))
    if not ordered:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None}

    def rank(q: float) -> float:
        index = max(0, math.ceil(q * len(ordered)) - 1)
        return round(ordered[index] * 1000, 1)

    return {"n": len(ordered), "p50_ms": rank(0.5), "p95_ms": rank(0.95), "p99_ms": rank(0.99)}


@dataclass
class QuoteStamps:
    """Wall-clock seconds (time.time()) of one quote's steps, seen from outside the PartyB."""

    quote_id: int
    party_b: str | None = None  # who locked it (LockQuote)
    stamps: dict[str, float] = field(default_factory=dict)

    def note(self, name: str, when: float) -> None:
        self.stamps.setdefault(name, when)  # the first sighting counts


def broker_stamps(
    quote_id: int, orders: Sequence[Mapping[str, Any]], trades: Sequence[Mapping[str, Any]]
) -> dict[str, float]:
    """The simulator's own records of a quote's orders as stamps: when the first open (close)
    order was accepted, and when the last fill of the open (close) orders traded."""
    out: dict[str, float] = {}
    for prefix, ack_name, fill_name in (("o", "order_ack", "filled"),
                                        ("c", "close_order_ack", "close_filled")):  # fmt: skip
        mine = {
            str(o["clientOrderId"])
            for o in orders
            if _purpose(str(o.get("clientOrderId", "")), quote_id) == prefix
        }
        acks = [float(o["time"]) / 1000 for o in orders if o.get("clientOrderId") in mine]
        fills = [float(t["time"]) / 1000 for t in trades if t.get("clientOrderId") in mine]
        if acks:
            out[ack_name] = min(acks)
        if fills:
            out[fill_name] = max(fills)
    return out


def _purpose(client_id: str, quote_id: int) -> str | None:
    if (m := _OPEN_ID.match(client_id)) and int(m.group(1)) == quote_id:
        return "o"
    if (m := _CLOSE_ID.match(client_id)) and int(m.group(1)) == quote_id:
        return "c"
    return None


def hop_latencies(
    quotes: Iterable[QuoteStamps], hops: Sequence[tuple[str, str, str]] = HOPS
) -> dict[str, dict[str, float | int | None]]:
    """Each hop's percentiles over the quotes that have both of its stamps."""
    rows = list(quotes)
    out: dict[str, dict[str, float | int | None]] = {}
    for name, start, end in hops:
        values = [
            q.stamps[end] - q.stamps[start]
            for q in rows
            if start in q.stamps and end in q.stamps and q.stamps[end] >= q.stamps[start]
        ]
        out[name] = percentiles(values)
    return out


def ratios(
    hedger: Mapping[str, Mapping[str, Any]], floor: Mapping[str, Mapping[str, Any]]
) -> dict[str, float | None]:
    """`<hop>_ratio`: the hedger's p50 over the floor's, per hop (None without both)."""
    out: dict[str, float | None] = {}
    for name in hedger:
        h, f = hedger[name].get("p50_ms"), (floor.get(name) or {}).get("p50_ms")
        out[f"{name}_ratio"] = round(h / f, 2) if h is not None and f else None
    return out


@dataclass(frozen=True)
class RatePhase:
    offered: float  # intents per second asked for
    achieved: float  # intents per second actually posted
    posted: int
    done: int  # opened and closed again (or otherwise terminal on chain) by the end
    stuck: int  # not terminal by the end of the grace period
    seconds: float  # from the first post to the last intent done


def processed_rate(phase: RatePhase) -> float:
    return phase.done / phase.seconds if phase.seconds > 0 else 0.0


def sustained(phase: RatePhase, *, min_share: float = 0.9) -> bool:
    """Sustained: every intent posted was worked to the end with nothing stuck, and the poster
    kept up with the offered rate (within `min_share`)."""
    return (
        phase.stuck == 0
        and phase.done == phase.posted
        and phase.achieved >= min_share * phase.offered
    )


def highest_sustained(phases: Sequence[RatePhase]) -> float | None:
    ok = [p.offered for p in phases if sustained(p)]
    return max(ok) if ok else None


def rss_per_thousand(samples: Sequence[tuple[int, float]]) -> float | None:
    """Least-squares slope of RSS (MB) over open positions, per 1,000 positions."""
    if len(samples) < 2:
        return None
    xs, ys = [float(n) for n, _ in samples], [mb for _, mb in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var
    return round(slope * 1000, 2)


# The marker the Temporal SDK's core records for each local activity's result.
LOCAL_ACTIVITY_MARKER = "core_local_activity"


def local_activity_type(event: Any) -> str | None:
    """The activity type of a history event that records a local activity's result (a
    `MarkerRecorded` event of the SDK's local-activity marker); None for any other event."""
    if not event.HasField("marker_recorded_event_attributes"):
        return None
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != LOCAL_ACTIVITY_MARKER or "data" not in marker.details:
        return None
    payloads = marker.details["data"].payloads
    if not payloads:
        return None
    return str(json.loads(payloads[0].data).get("activity_type") or "") or None
