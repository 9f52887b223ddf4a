"""Restart whatever dies, as systemd or Kubernetes would: reap, back off, log every restart.

A `Supervisor` watches *units* — the stack's parts (Postgres, Temporal, anvil, exchange, oracle)
and the hedger's processes — from one background thread. A unit that is found dead is reaped
(its exit status collected, so no zombie keeps a pid looking alive), the rest of its process
group is killed, and it is started again after a backoff that doubles while it keeps dying
(crash loop) and resets once it has stayed up for `stable_after` seconds. A failed start is
retried with the same backoff; nothing is given up on. Every death and restart is logged and
kept in `events` (the chaos report reads them).

The supervisor also makes itself the *child subreaper* of its process tree (Linux
`PR_SET_CHILD_SUBREAPER`): children orphaned by a killed parent — Postgres backends after a
`kill -9` of the postmaster — are re-parented to it and reaped here instead of lingering.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devnet.stack.process import StackError

_PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Unit:
    """One supervised thing: how to tell it is alive, its pid, and how to start it again."""

    name: str
    kind: str  # "stack" or "hedger"
    alive: Callable[[], bool]
    pid: Callable[[], int | None]
    restart: Callable[[], None]  # blocking; raises on failure
    exit_code: Callable[[], int | None] = lambda: None
    started_at: float = field(default_factory=time.monotonic)
    crash_streak: int = 0
    restarts: int = 0
    down_since: float | None = None
    next_attempt: float = 0.0


@dataclass
class SupervisorEvent:
    time: float  # wall clock
    unit: str
    kind: str
    what: str  # "died", "restarted", "restart_failed"
    pid: int | None
    exit_code: int | None = None
    downtime: float | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": round(self.time, 3),
            "unit": self.unit,
            "kind": self.kind,
            "what": self.what,
            "pid": self.pid,
            "exit_code": self.exit_code,
            "downtime": None if self.downtime is None else round(self.downtime, 2),
            "detail": self.detail,
        }


def become_subreaper() -> bool:
    """Orphaned descendants are re-parented to this process (Linux); False where unsupported."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except OSError:
        return False


def reap_orphans(known: set[int]) -> list[int]:
    """Reap exited children that no `Popen` owns (orphans re-parented to us); never touch
    `known` pids, whose owners collect their own exit status."""
    me = os.getpid()
    reaped: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid in known:
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
            if fields[0] == "Z" and int(fields[1]) == me:
                done, _status = os.waitpid(pid, os.WNOHANG)
                if done:
                    reaped.append(pid)
    return reaped


class Supervisor:
    def __init__(
        self,
        log: Callable[[str], None] = print,
        *,
        poll: float = 0.5,
        backoff_initial: float = 0.5,
        backoff_max: float = 15.0,
        stable_after: float = 30.0,
        known_pids: Callable[[], set[int]] | None = None,
    ) -> None:
        self.log = log
        self.poll = poll
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.units: dict[str, Unit] = {}
        self.events: list[SupervisorEvent] = []
        self._known_pids = known_pids
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- units ---------------------------------------------------------------------------
    def add(self, unit: Unit) -> None:
        with self._lock:
            self.units[unit.name] = unit

    def pid(self, name: str) -> int | None:
        with self._lock:
            return self.units[name].pid()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int | None:
        """Send `sig` to a unit's main process (chaos: `kill -9`); the supervisor restarts it."""
        with self._lock:
            pid = self.units[name].pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return pid

    def restarts(self) -> dict[str, int]:
        with self._lock:
            return {name: unit.restarts for name, unit in self.units.items()}

    def all_up(self) -> bool:
        with self._lock:
            return all(unit.alive() for unit in self.units.values())

    # -- the loop ------------------------------------------------------------------------
    def start(self) -> Supervisor:
        become_subreaper()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop watching (a restart in progress finishes first); the units keep running."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_once()
            except Exception as exc:  # the watcher itself must never die
                self.log(f"supervisor: check failed: {type(exc).__name__}: {exc}")
            self._stop.wait(self.poll)

    def check_once(self) -> None:
        with self._lock:
            units = list(self.units.values())
        for unit in units:
            if self._stop.is_set():
                return
            self._check(unit)
        known = self._known_pids() if self._known_pids is not None else set()
        with self._lock:
            known |= {p for u in self.units.values() if (p := u.pid())}
        reap_orphans(known)

    def _check(self, unit: Unit) -> None:
        now = time.monotonic()
        if unit.down_since is None:
            if unit.alive():  # alive() polls its Popen: a dead child is reaped right here
                if unit.crash_streak and now - unit.started_at > self.stable_after:
                    unit.crash_streak = 0
                return
            code = unit.exit_code()
            unit.down_since = now
            unit.crash_streak += 1
            delay = min(self.backoff_max, self.backoff_initial * 2 ** (unit.crash_streak - 1))
            unit.next_attempt = now + delay
            self._event(unit, "died", unit.pid(), exit_code=code, detail=f"backoff {delay:.1f}s")
            self.log(
                f"supervisor: {unit.name} (pid {unit.pid()}) exited with code {code}; "
                f"restarting in {delay:.1f}s"
            )
        if now < unit.next_attempt:
            return
        try:
            unit.restart()
        except (StackError, OSError) as exc:
            unit.crash_streak += 1
            delay = min(self.backoff_max, self.backoff_initial * 2 ** (unit.crash_streak - 1))
            unit.next_attempt = time.monotonic() + delay
            self._event(unit, "restart_failed", None, detail=f"{exc}; next try in {delay:.1f}s")
            self.log(f"supervisor: {unit.name} did not start: {exc}; next try in {delay:.1f}s")
            return
        downtime = time.monotonic() - (unit.down_since or now)
        unit.down_since = None
        unit.started_at = time.monotonic()
        unit.restarts += 1
        self._event(unit, "restarted", unit.pid(), downtime=downtime)
        self.log(
            f"supervisor: {unit.name} restarted as pid {unit.pid()} "
            f"(restart #{unit.restarts}, down {downtime:.1f}s)"
        )

    def _event(
        self,
        unit: Unit,
        what: str,
        pid: int | None,
        *,
        exit_code: int | None = None,
        downtime: float | None = None,
        detail: str = "",
    ) -> None:
        with self._lock:
            self.events.append(
                SupervisorEvent(
                    time.time(), unit.name, unit.kind, what, pid, exit_code, downtime, detail
                )
            )
