"""`hedger stack`: the embedded stack starts, refuses what it must, stops without orphans, resumes its state."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devnet.stack import anvil as anvil_module
from devnet.stack.anvil import rpc_call
from devnet.stack.process import StackError, free_port, pid_alive
from devnet.stack.stack import LocalStack, StackPorts, read_status, stop_running_stack


def _ports() -> StackPorts:
    return StackPorts(
        temporal=free_port(), temporal_ui=free_port(), postgres=free_port(), anvil=free_port(),
        oracle=free_port(), exchange=free_port(),
    )  # fmt: skip


@pytest.fixture()
def held_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_stack_up_refuses_a_taken_port_in_one_line(tmp_path: Path, held_port: int) -> None:
    env = {**os.environ, "HEDGER_STATE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "hedger", "stack", "up", "--anvil-port", str(held_port),
         "--temporal-port", str(free_port()), "--temporal-ui-port", str(free_port()), "--postgres-port", str(free_port()),
         "--exchange-port", str(free_port()), "--oracle-port", str(free_port())],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"error: anvil: port 127.0.0.1:{held_port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "stack.lock").exists()


def test_missing_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(anvil_module, "ANVIL_BIN", tmp_path / "no-such-anvil")
    with pytest.raises(
        StackError, match=r"anvil: binary not found at .*no-such-anvil \(run `make deps`"
    ):
        anvil_module.start_anvil(port=free_port(), state_dir=tmp_path)


def test_live_lock_refuses_and_stale_lock_is_cleared(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, _ports(), log=lambda _: None)
    tmp_path.joinpath("stack.lock").write_text(str(os.getppid()))  # a live process that is not us
    with pytest.raises(StackError, match=f"already running under pid {os.getppid()}"):
        stack.acquire_lock()

    dead = subprocess.Popen(["true"])
    dead.wait()
    tmp_path.joinpath("stack.lock").write_text(str(dead.pid))
    lines: list[str] = []
    LocalStack(tmp_path, _ports(), log=lines.append).acquire_lock()
    assert any("stale lock" in line for line in lines)
    assert tmp_path.joinpath("stack.lock").read_text() == str(os.getpid())


def test_stack_up_down_leaves_no_orphan_and_resumes_state(tmp_path: Path) -> None:
    ports = _ports()
    stack = LocalStack(tmp_path, ports, log=lambda _: None)
    stack.up()
    try:
        pids = dict(read_status(tmp_path)["pids"])
        assert set(pids) == {"postgres", "temporal", "anvil", "exchange", "oracle"} and all(
            pid_alive(p) for p in pids.values()
        )
        assert read_status(tmp_path)["ready"] is True
        env = (tmp_path / "devnet.env").read_text()
        assert f"HEDGER_TEMPORAL_ADDRESS=127.0.0.1:{ports.temporal}" in env
        anvil_url = stack.running_url("anvil")
        rpc_call(anvil_url, "anvil_mine", [7])
        mined = int(str(rpc_call(anvil_url, "eth_blockNumber", [])), 16)
        _write_marker(stack.running_url("postgres"))
    finally:
        stack.down()
    assert not any(pid_alive(p) for p in pids.values()), "a child outlived `down`"
    assert not (tmp_path / "stack.lock").exists()

    again = LocalStack(tmp_path, ports, log=lambda _: None)
    again.up()
    try:
        assert int(str(rpc_call(again.running_url("anvil"), "eth_blockNumber", [])), 16) >= mined
        assert _read_marker(again.running_url("postgres")) == "still here"
    finally:
        again.down()


def test_stack_down_stops_a_supervisor_and_its_children(tmp_path: Path) -> None:
    ports = _ports()
    env = {**os.environ, "HEDGER_STATE_DIR": str(tmp_path)}
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "hedger", "stack", "up", "--anvil-port", str(ports.anvil),
         "--temporal-port", str(ports.temporal), "--temporal-ui-port", str(ports.temporal_ui),
         "--postgres-port", str(ports.postgres), "--exchange-port", str(ports.exchange),
         "--oracle-port", str(ports.oracle)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        assert supervisor.stdout is not None
        seen: list[str] = []
        for line in supervisor.stdout:
            seen.append(line)
            if "local stack is up" in line:
                break
        else:
            pytest.fail("stack never came up:\n" + "".join(seen))
        pids = dict(read_status(tmp_path)["pids"])
        assert "stopped" in stop_running_stack(tmp_path)
        supervisor.wait(timeout=30)
        assert not any(pid_alive(p) for p in pids.values())
        assert stop_running_stack(tmp_path) == "stack: not running" or not pid_alive(supervisor.pid)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()


def _write_marker(url: str) -> None:
    async def _run() -> None:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS marker (v text); INSERT INTO marker VALUES ('still here')"
        )
        await conn.close()

    asyncio.run(_run())


def _read_marker(url: str) -> str:
    async def _run() -> str:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        value = await conn.fetchval("SELECT v FROM marker")
        await conn.close()
        return str(value)

    return asyncio.run(_run())


def test_free_port_never_hands_out_the_same_port_twice() -> None:
    # six parts of one stack are given ports before any of them binds; a repeat broke a chaos run
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


def test_anvil_keeps_its_old_states_bounded_in_its_own_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """anvil writes states past its in-memory ones to disk; by default to ~/.foundry/anvil/tmp,
    unbounded and never cleaned (a day of bench runs left 71 GB there and filled the disk).
    3,000 blocks, each changing the state, go past what anvil holds in memory."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    state_dir = tmp_path / "anvil"
    node = anvil_module.start_anvil(port=free_port(), state_dir=state_dir, persist=False)
    try:
        for n in range(3000):
            node.rpc("anvil_setBalance", [f"0x{n + 1:040x}", hex(10**18)])
            node.rpc("evm_mine", [])
    finally:
        node.stop()
    assert not list(home.rglob("anvil-state-*")), "anvil wrote its states under $HOME"
    cached = list((state_dir / "anvil-cache").rglob("*"))
    assert 0 < len(cached) <= anvil_module.MAX_PERSISTED_STATES
