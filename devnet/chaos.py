"""`hedger devnet chaos` (`make chaos`): the demo under `kill -9` and broker faults.

While the traders post N intents and wind down, a seeded chaos monkey, at random moments
(exponential gaps around `every` seconds), either

- `kill -9`s one process: every hedger process kind (`worker workflows|chain|broker|ops|
  order-monitor`, `listener poll|ws`, `api`), the Temporal dev server or Postgres — each then
  restarted by the supervisor (`devnet.stack.supervisor`), or
- opens a window of one broker fault of the exchange simulator (5xx, 429, timeouts, lost
  responses, rejects, read-lag misses, latency, fill delays, user-stream event delays,
  websocket drops) for a few seconds.

Targets are drawn from a shuffled cycle of every kind, so a long enough run injects each of
them. The run ends as `hedger demo --exit-when-done` does; it prints the honest counters
(`devnet.audit`) and a table of what was injected (kind, target, when, how long), writes both
to a JSON file, and exits non-zero on any violation (2) or a timeout (1).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from devnet.stack.supervisor import Supervisor

PROCESS_TARGETS = (
    "worker-workflows",
    "worker-chain",
    "worker-broker",
    "worker-ops",
    "order-monitor",
    "listener-poll",
    "listener-ws",
    "api",
)
STACK_TARGETS = ("temporal", "postgres")
FAULT_KINDS = (
    "http_error",
    "rate_limit",
    "timeout",
    "ack_then_timeout",
    "reject",
    "lookup_miss",
    "latency",
    "fill_delay",
    "event_delay",
    "ws_drop",
)
ORDER = r"/fapi/v1/order$"


@dataclass
class ChaosOptions:
    seed: int = 1
    every: float = 8.0  # mean seconds between two injections
    start_after: float = 5.0  # let the first intents through first
    kills: tuple[str, ...] = PROCESS_TARGETS + STACK_TARGETS
    faults: tuple[str, ...] = FAULT_KINDS
    max_injections: int | None = None
    window: tuple[float, float] = (4.0, 15.0)  # seconds a fault window stays open
    client_timeout: float = 10.0  # the hedger's broker timeout: `timeout` faults hold longer


@dataclass
class Injection:
    at: float  # seconds since the chaos monkey started
    wall: float
    kind: str  # "kill -9" or a fault kind
    target: str
    duration: float | None = None  # a fault window's length
    pid: int | None = None
    detail: str = ""
    error: str | None = None


@dataclass
class Chaos:
    options: ChaosOptions
    supervisor: Supervisor
    exchange_url: str
    log: Callable[[str], None] = print
    injected: list[Injection] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.options.seed)
        self._cycle: list[tuple[str, str]] = []
        self._t0 = time.time()

    # -- choosing ----------------------------------------------------------------------------
    def _next(self) -> tuple[str, str]:
        if not self._cycle:
            kinds = [("kill", t) for t in self.options.kills] + [
                ("fault", k) for k in self.options.faults
            ]
            self._rng.shuffle(kinds)
            self._cycle = kinds
        return self._cycle.pop()

    def fault_spec(self, kind: str) -> tuple[dict[str, Any], str, str]:
        """The window to open for `kind`: (spec, target, detail)."""
        rng, o = self._rng, self.options
        duration = round(rng.uniform(*o.window), 1)
        spec: dict[str, Any] = {"kind": kind, "count": None, "duration": duration}
        hold = round(o.client_timeout + 2, 1)
        if kind == "http_error":
            spec |= {"path": ORDER, "status": rng.choice([500, 502, 503, 504]), "probability": 0.5}
            detail = f"HTTP {spec['status']} on half the order calls"
        elif kind == "rate_limit":
            spec |= {"path": r"^/fapi/", "status": 429, "retry_after": 1, "probability": 0.3}
            detail = "429 Retry-After 1 on 30% of /fapi calls"
        elif kind == "timeout":
            method = rng.choice(["POST", "GET", "DELETE"])
            spec |= {"path": ORDER, "method": method, "delay": hold, "probability": 0.5}
            detail = f"{method} order held {hold}s, not processed (50%)"
        elif kind == "ack_then_timeout":
            spec |= {"path": ORDER, "method": "POST", "delay": hold, "probability": 0.5}
            detail = f"order placed, response held {hold}s (lost response, 50%)"
        elif kind == "reject":
            spec |= {"path": ORDER, "method": "POST", "code": -2010, "probability": 0.3}
            spec["msg"] = "Order would immediately trigger."
            detail = "new orders rejected -2010 (30%)"
        elif kind == "lookup_miss":
            spec |= {"path": ORDER, "method": "GET", "probability": 0.7}
            detail = "order look-ups answer -2013 (read lag, 70%)"
        elif kind == "latency":
            spec |= {"path": r"^/fapi/", "delay": round(rng.uniform(0.5, 3.0), 1)}
            spec["probability"] = 0.5
            detail = f"+{spec['delay']}s on half the /fapi calls"
        elif kind == "fill_delay":
            spec["delay"] = round(rng.uniform(2.0, 6.0), 1)
            detail = f"marketable orders fill {spec['delay']}s late"
        elif kind == "event_delay":
            spec["delay"] = round(rng.uniform(1.0, 4.0), 1)
            detail = f"user-stream events {spec['delay']}s late"
        elif kind == "ws_drop":
            detail = "user streams closed, reconnects refused"
        else:
            raise ValueError(f"unknown fault kind {kind!r}")
        target = f"{spec.get('method') or 'any'} {spec.get('path', '(engine)')}"
        return spec, target, detail

    # -- running -----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        self._t0 = time.time()
        o = self.options
        if not o.kills and not o.faults:
            return
        if await _wait(stop, o.start_after):
            return
        async with httpx.AsyncClient(base_url=self.exchange_url, timeout=10) as http:
            while o.max_injections is None or len(self.injected) < o.max_injections:
                what, target = self._next()
                try:
                    if what == "kill":
                        await self._kill(target)
                    else:
                        await self._fault(http, target)
                except Exception as exc:  # a failed injection is recorded, not fatal
                    self.log(f"chaos: {what} {target} failed: {type(exc).__name__}: {exc}")
                    self._record(what if what != "kill" else "kill -9", target, error=str(exc))
                gap = min(3 * o.every, max(1.0, self._rng.expovariate(1 / o.every)))
                if await _wait(stop, gap):
                    return

    def _record(self, kind: str, target: str, **extra: Any) -> Injection:
        now = time.time()
        injection = Injection(round(now - self._t0, 1), now, kind, target, **extra)
        self.injected.append(injection)
        return injection

    async def _kill(self, target: str) -> None:
        if target not in self.supervisor.units:
            self._record("kill -9", target, error="no such process in this run")
            return
        pid = await asyncio.to_thread(self.supervisor.kill, target)
        self._record("kill -9", target, pid=pid)
        self.log(f"chaos: kill -9 {target} (pid {pid})")

    async def _fault(self, http: httpx.AsyncClient, kind: str) -> None:
        spec, target, detail = self.fault_spec(kind)
        (await http.post("/admin/faults", json=spec)).raise_for_status()
        self._record(kind, target, duration=spec["duration"], detail=detail)
        self.log(f"chaos: {kind} window {spec['duration']}s: {detail}")

    async def close_windows(self) -> None:
        """End every open fault window (the run then settles without faults)."""
        async with httpx.AsyncClient(base_url=self.exchange_url, timeout=10) as http:
            (await http.delete("/admin/faults")).raise_for_status()

    # -- reporting ---------------------------------------------------------------------------
    def report(self, supervisor: Supervisor) -> list[dict[str, Any]]:
        """Every injection, a kill with how long its target was down (from the supervisor)."""
        rows = []
        for inj in self.injected:
            row = asdict(inj)
            if inj.kind == "kill -9" and inj.error is None:
                restarted = next(
                    (
                        e
                        for e in supervisor.events
                        if e.unit == inj.target and e.what == "restarted" and e.time >= inj.wall
                    ),
                    None,
                )
                row["duration"] = restarted.downtime if restarted else None
                row["detail"] = (
                    f"restarted as pid {restarted.pid}" if restarted else "NOT restarted"
                )
            rows.append(row)
        return rows

    @staticmethod
    def table(rows: Sequence[dict[str, Any]]) -> list[str]:
        lines = [f"{'at s':>7}  {'kind':<16} {'target':<26} {'for s':>6}  detail"]
        for r in rows:
            duration = "" if r.get("duration") is None else f"{r['duration']:.1f}"
            target = r["target"] + (f" ({r['pid']})" if r.get("pid") else "")
            detail = r.get("error") or r.get("detail") or ""
            lines.append(f"{r['at']:>7.1f}  {r['kind']:<16} {target:<26} {duration:>6}  {detail}")
        kinds: dict[str, int] = {}
        for r in rows:
            key = r["target"] if r["kind"] == "kill -9" else r["kind"]
            kinds[key] = kinds.get(key, 0) + 1
        lines.append("injected: " + ", ".join(f"{k}×{n}" for k, n in sorted(kinds.items())))
        return lines


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True when `stop` was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


def parse_only(only: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`--only worker-chain,postgres,http_error` → (kills, faults); empty = everything."""
    if not only.strip():
        return PROCESS_TARGETS + STACK_TARGETS, FAULT_KINDS
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROCESS_TARGETS + STACK_TARGETS + FAULT_KINDS]
    if unknown:
        raise ValueError(
            f"unknown chaos target(s) {unknown}; kills: {', '.join(PROCESS_TARGETS + STACK_TARGETS)}; "
            f"faults: {', '.join(FAULT_KINDS)}"
        )
    kills = tuple(n for n in names if n in PROCESS_TARGETS + STACK_TARGETS)
    return kills, tuple(n for n in names if n in FAULT_KINDS)
