"""/healthz, /metrics, and the `hedger ops` CLI (trading state in-process with CliRunner;
Temporal commands in a subprocess, because they end with os._exit)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from typing import Any, NoReturn

import httpx
import pytest
from conftest import TASK_QUEUE
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Worker
from typer.testing import CliRunner

from adapters.risk_control import RiskControl
from api.app import create_app
from config.settings import Settings, load_settings
from domain.ids import intent_workflow_id
from hedger import ops_commands
from hedger.ops_commands import ops_app
from interfaces.risk import TradingStateChange
from interfaces.workflows import INTENT_WORKFLOW, QUERY_STATE


async def test_healthz_ok(http: httpx.AsyncClient) -> None:
    r = await http.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "db": {"ok": True}, "temporal": {"ok": True}}


async def test_healthz_reports_an_unreachable_temporal(
    api_settings: Settings, engine: AsyncEngine
) -> None:
    settings = load_settings(**{**api_settings.model_dump(), "temporal_address": "127.0.0.1:1"})
    app = create_app(settings, db_engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/healthz")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "degraded" and body["db"] == {"ok": True}
        assert body["temporal"]["ok"] is False and body["temporal"]["error"]
        # the front-end API does not need Temporal
        assert (await c.get("/error_codes/4000")).status_code == 200


async def test_metrics_count_requests_by_route(http: httpx.AsyncClient) -> None:
    await http.get("/error_codes/4001")
    await http.get("/error_codes/99")
    text = (await http.get("/metrics")).text
    assert (
        'hedger_api_requests_total{method="GET",route="/error_codes/{code}",status="200"}' in text
    )
    assert (
        'hedger_api_requests_total{method="GET",route="/error_codes/{code}",status="404"}' in text
    )
    assert (
        'hedger_api_request_seconds_bucket{le="0.005",method="GET",route="/error_codes/{code}"}'
        in text
    )
    assert "process_cpu_seconds_total" in text or "python_info" in text  # default registry


@pytest.fixture
def cli_env(api_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "HEDGER_DATABASE_URL": api_settings.database_url,
        "HEDGER_TEMPORAL_ADDRESS": api_settings.temporal_address,
        "HEDGER_TEMPORAL_UI_URL": api_settings.temporal_ui_url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _exit_in_process(code: int) -> NoReturn:
    raise SystemExit(code)  # CliRunner reports it as the exit code; os._exit would end pytest


async def test_cli_trading_state_round_trip(
    cli_env: dict[str, str], api_settings: Settings, risk_control_worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(ops_commands, "exit_process", _exit_in_process)
    runner = CliRunner()

    async def invoke(*args: str) -> Any:
        # in a thread: the risk-control worker runs on this test's event loop
        return await asyncio.to_thread(runner.invoke, ops_app, list(args))

    try:
        r = await invoke("halt", "--reason", "exchange outage", "--by", "alice")
        assert r.exit_code == 0, r.output
        assert "HALTED" in r.output
        r = await invoke("state", "--json")
        assert r.exit_code == 0, r.output
        state = json.loads(r.output)
        assert state["state"] == "HALTED" and state["reason"] == "exchange outage"
        assert state["changed_by"] == "alice"
        r = await invoke("reduce-only", "--reason", "winding down")
        assert r.exit_code == 0 and "REDUCE_ONLY" in r.output
        assert json.loads((await invoke("state", "--json")).output)["state"] == "REDUCE_ONLY"
        r = await invoke("halt")  # --reason is required
        assert r.exit_code == 2
        r = await invoke("halt", "--reason", "  ")
        assert r.exit_code == 2 and "reason" in r.output
        r = await invoke("resume", "--reason", "exchange back")
        assert r.exit_code == 0 and "ACTIVE" in r.output
        assert json.loads((await invoke("state", "--json")).output)["state"] == "ACTIVE"
    finally:
        (await invoke("resume", "--reason", "test cleanup"))


async def test_cli_and_api_see_the_same_state(
    cli_env: dict[str, str], http: httpx.AsyncClient, admin_headers: dict[str, str],
    risk_control_worker: None, api_settings: Settings, temporal_client: Client,
) -> None:  # fmt: skip
    try:
        code, out, err = await _ops(cli_env, "halt", "--reason", "from the cli")
        assert code == 0, out + err
        body = (await http.get("/admin/trading-state", headers=admin_headers)).json()
        assert body["state"] == "HALTED" and body["reason"] == "from the cli"
    finally:
        await RiskControl(temporal_client, api_settings.chain_id).set_trading_state(
            TradingStateChange("ACTIVE", "test cleanup", "tests")
        )


async def _ops(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    code = "from hedger.ops_commands import ops_app; ops_app()"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_signals_and_stuck(
    cli_env: dict[str, str], temporal_client: Client, fake_worker: Worker
) -> None:
    from temporalio.common import SearchAttributePair, TypedSearchAttributes

    from interfaces.temporal import SearchAttributes

    quote_id = random.randrange(5 * 10**9, 6 * 10**9)
    handle = await temporal_client.start_workflow(
        INTENT_WORKFLOW, quote_id, id=intent_workflow_id(31337, quote_id), task_queue=TASK_QUEUE,
        search_attributes=TypedSearchAttributes([
            SearchAttributePair(SearchAttributes.QUOTE_ID, quote_id),
            SearchAttributePair(SearchAttributes.HEDGE_STATUS, "STUCK"),
        ]),
    )  # fmt: skip
    try:
        rc, out, err = await _ops(
            cli_env, "retry", str(quote_id), "--reason", "fixed the rpc", "--by", "bob"
        )
        assert rc == 0, err
        assert f"sent retry to {handle.id}" in out
        rc, out, err = await _ops(
            cli_env, "unwind", str(quote_id), "--kind", "intent", "--reason", "flat"
        )
        assert rc == 0, err
        received: list[Any] = await handle.query(QUERY_STATE)
        assert received[0] == ["retry", "fixed the rpc", "bob"]
        assert received[1][:2] == ["unwind", "flat"] and received[1][2].startswith("cli")
        rc, out, err = await _ops(
            cli_env, "retry", str(quote_id), "--kind", "position", "--reason", "x"
        )
        assert rc == 3 and "no workflow" in err
        for _ in range(30):
            rc, out, err = await _ops(cli_env, "stuck", "--json")
            assert rc == 0, err
            listed = {w["workflow_id"]: w for w in json.loads(out)}
            if handle.id in listed:
                break
            await asyncio.sleep(0.3)
        assert listed[handle.id]["quote_id"] == quote_id
        assert listed[handle.id]["url"].endswith(f"/namespaces/default/workflows/{handle.id}")
        rc, out, err = await _ops(cli_env, "abandon", str(quote_id), "--reason", "by hand")
        assert rc == 0, err
        assert (await handle.result())[-1][:2] == ["abandon", "by hand"]
        rc, out, err = await _ops(cli_env, "retry", str(quote_id), "--reason", "late")
        assert rc == 4 and "COMPLETED" in err
    finally:
        try:
            await handle.signal("abandon", {"reason": "cleanup", "operator": "test"})
        except Exception:  # noqa: BLE001 - already finished
            pass
