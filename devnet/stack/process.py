"""Start, watch and stop the local stack's child processes.

Every child runs in its own process group so that stopping it also stops whatever it spawned;
its output goes to a log file under the state directory, never to the terminal.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn


class StackError(RuntimeError):
    """A one-line, operator-readable reason why a part of the local stack cannot run."""


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ensure_port_free(host: str, port: int, what: str) -> None:
    if not port_is_free(host, port):
        raise StackError(
            f"{what}: port {host}:{port} is already in use (another stack running? try `hedger stack status`)"
        )


_HANDED_OUT: set[int] = set()


def exit_now(code: int) -> NoReturn:
    """Leave the process without interpreter teardown (flushed first): a command that ran
    Temporal's SDK in process can abort there (sdk-python#300). `hedger.exits.finish` is the
    CLI's own; devnet never imports the CLI."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now and that this process has not handed out before.

    The kernel may give the same ephemeral port to two `bind(0)` calls once the first socket is
    closed, so two parts of one stack allocated before either starts could share a port (seen:
    the exchange simulator refused to start on the Temporal UI's port).
    """
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise StackError("no free port left that this process has not handed out already")


def require_binary(path: Path | str, what: str, hint: str) -> Path:
    resolved = (
        Path(path)
        if os.sep in str(path)
        else (shutil.which(str(path)) and Path(shutil.which(str(path)) or ""))
    )
    if not resolved or not Path(resolved).exists():
        raise StackError(f"{what}: binary not found at {path} ({hint})")
    return Path(resolved)


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, proc: ManagedProcess | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise StackError(
                f"{what}: exited during start-up with code {proc.returncode()} (log: {proc.log_path})"
            )
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise StackError(
        f"{what}: not ready after {timeout:.0f}s (log: {proc.log_path if proc else 'n/a'})"
    )


@dataclass
class ManagedProcess:
    """A child process in its own session/process group, logging to `log_path`."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None
    die_with_parent: bool = True
    _popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self._popen = self._spawn(log)
        except (OSError, subprocess.SubprocessError) as exc:
            raise StackError(f"{self.name}: cannot start {self.argv[0]}: {exc}") from exc
        finally:
            log.close()
        return self

    def _spawn(self, log: IO[bytes]) -> subprocess.Popen[bytes]:
        popen: subprocess.Popen[bytes] = subprocess.Popen(  # type: ignore[call-overload]
            list(self.argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(self.env or {})},
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if self.die_with_parent else None,
            **run_as_kwargs(self.user),
        )
        return popen

    @property
    def pid(self) -> int:
        assert self._popen is not None, f"{self.name} not started"
        return self._popen.pid

    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def returncode(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    def stop(self, timeout: float = 10.0) -> None:
        if self._popen is None:
            return
        stop_process_group(self._popen.pid, timeout=timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=1)

    def kill_group(self, timeout: float = 10.0) -> None:
        """SIGKILL whatever is left of this child's process group (after the leader died, its
        children may live on: orphaned Postgres backends still attached to shared memory) and
        reap the leader."""
        if self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while _group_alive(self._popen.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=1)


_LIBC = ctypes.CDLL(
    "libc.so.6", use_errno=True
)  # resolved here: the child must not import after fork
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the parent dies, so a killed supervisor leaves no orphan."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def run_as_kwargs(user: str | None) -> dict[str, object]:
    """subprocess kwargs that drop to `user` with its own primary group and no others.

    Dropping only the uid would keep root's gid, and a root-group directory with no group bits
    then denies access that its o+x would grant.
    """
    if user is None:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def process_cmdline(pid: int) -> list[str]:
    """argv of a live process ([] when it is gone or unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0): look at its state.
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().split(") ", 1)[1].startswith("Z"):
                return False
    return True


def stop_process_group(pid: int, *, timeout: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL whatever is left after `timeout`."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid) and not _group_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    # Every member may be a zombie awaiting its reaper.
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            fields = (entry / "stat").read_text().split(") ", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False
