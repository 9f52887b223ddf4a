"""Admin API: bearer auth, ledger listings, STUCK listing and operator signals delivered to real
workflows on the real Temporal dev server, trading state round trip."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest
from conftest import TASK_QUEUE, Seed
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import Worker

from adapters.risk_control import RiskControl
from config.settings import Settings
from domain.enums import TradingState
from domain.ids import intent_workflow_id, position_workflow_id
from interfaces.risk import TradingStateChange
from interfaces.temporal import SearchAttributes
from interfaces.workflows import INTENT_WORKFLOW, POSITION_WORKFLOW, QUERY_STATE

CHAIN = 31337
ADMIN_GETS = [
    "/admin/quotes",
    "/admin/positions",
    "/admin/alerts",
    "/admin/stuck",
    "/admin/trading-state",
]


def _quote_id() -> int:
    return random.randrange(3 * 10**9, 4 * 10**9)


async def _start(
    client: Client, kind: str, quote_id: int, stuck: bool = False
) -> WorkflowHandle[Any, Any]:
    name, wid = (
        (INTENT_WORKFLOW, intent_workflow_id(CHAIN, quote_id))
        if kind == "intent"
        else (POSITION_WORKFLOW, position_workflow_id(CHAIN, quote_id))
    )
    attrs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(SearchAttributes.QUOTE_ID, quote_id),
        SearchAttributePair(SearchAttributes.SYMBOL, "BTCUSDT"),
    ]
    if stuck:
        attrs.append(SearchAttributePair(SearchAttributes.HEDGE_STATUS, "STUCK"))
    return await client.start_workflow(
        name, quote_id, id=wid, task_queue=TASK_QUEUE,
        search_attributes=TypedSearchAttributes(attrs),
    )  # fmt: skip


async def _received(handle: WorkflowHandle[Any, Any]) -> list[list[str]]:
    result: list[list[str]] = await handle.query(QUERY_STATE)
    return result


@pytest.mark.parametrize("path", ADMIN_GETS)
async def test_admin_needs_the_bearer_token(http: httpx.AsyncClient, path: str) -> None:
    missing = await http.get(path)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = await http.get(path, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    basic = await http.get(path, headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert basic.status_code == 401


async def test_admin_signal_needs_the_token(http: httpx.AsyncClient) -> None:
    r = await http.post("/admin/quotes/1/retry", json={"reason": "x"})
    assert r.status_code == 401
    r = await http.post(
        "/admin/quotes/1/retry", json={"reason": "x"}, headers={"Authorization": "Bearer nope"}
    )
    assert r.status_code == 403
    r = await http.post("/admin/trading-state", json={"state": "HALTED", "reason": "x"})
    assert r.status_code == 401


async def test_admin_listings(
    http: httpx.AsyncClient, seeded: Seed, admin_headers: dict[str, str]
) -> None:
    quotes = (await http.get("/admin/quotes", params={"limit": 1000}, headers=admin_headers)).json()
    mine = {q["quote_id"]: q for q in quotes["quotes"] if q["party_a"] == seeded.trader}
    assert set(mine) == {seeded.quote_base, seeded.quote_base + 1}
    assert mine[seeded.quote_base]["quantity"] == "0.1" and mine[seeded.quote_base]["cva"] == "20"
    rejected = (
        await http.get(
            "/admin/quotes", params={"status": "rejected", "limit": 1000}, headers=admin_headers
        )
    ).json()
    assert seeded.quote_base + 1 in {q["quote_id"] for q in rejected["quotes"]}
    assert all(
        q["hedge_status"] == "REJECTED" or q["chain_status"] == "REJECTED"
        for q in rejected["quotes"]
    )
    positions = (
        await http.get("/admin/positions", params={"party_a": seeded.trader}, headers=admin_headers)
    ).json()
    assert positions["count"] == 1
    assert positions["positions"][0]["open_quantity"] == "0.1"
    assert positions["positions"][0]["opened_price"] == "49000"
    alerts = await http.get("/admin/alerts", headers=admin_headers)
    assert alerts.status_code == 200 and set(alerts.json()) == {"count", "alerts"}
    too_many = await http.get("/admin/quotes", params={"limit": 5000}, headers=admin_headers)
    assert too_many.status_code == 422


async def test_signals_reach_the_running_workflow(
    http: httpx.AsyncClient,
    temporal_client: Client,
    fake_worker: Worker,
    admin_headers: dict[str, str],
) -> None:
    only_intent = _quote_id()
    intent = await _start(temporal_client, "intent", only_intent)
    r = await http.post(
        f"/admin/quotes/{only_intent}/retry", json={"reason": "rpc is back"}, headers=admin_headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["workflow_id"] == intent.id and r.json()["kind"] == "intent"
    assert r.json()["signal"] == "retry"
    assert await _received(intent) == [["retry", "rpc is back", "admin-api"]]

    both = _quote_id()
    b_intent = await _start(temporal_client, "intent", both)
    b_position = await _start(temporal_client, "position", both)
    r = await http.post(
        f"/admin/quotes/{both}/unwind", json={"reason": "flatten"}, headers=admin_headers
    )
    assert r.status_code == 200 and r.json()["kind"] == "position"  # position first by default
    r = await http.post(
        f"/admin/quotes/{both}/retry?kind=intent", json={"reason": "again"}, headers=admin_headers
    )
    assert r.status_code == 200 and r.json()["workflow_id"] == b_intent.id
    r = await http.post(
        f"/admin/quotes/{both}/retry",
        json={"reason": "body kind", "kind": "intent"},
        headers=admin_headers,
    )
    assert r.status_code == 200 and r.json()["kind"] == "intent"
    assert await _received(b_position) == [["unwind", "flatten", "admin-api"]]
    assert await _received(b_intent) == [
        ["retry", "again", "admin-api"],
        ["retry", "body kind", "admin-api"],
    ]

    # abandon ends the fake workflows; a signal to a finished workflow is a 409, not a 200
    r = await http.post(
        f"/admin/quotes/{only_intent}/abandon", json={"reason": "by hand"}, headers=admin_headers
    )
    assert r.status_code == 200
    assert await intent.result() == [
        ["retry", "rpc is back", "admin-api"],
        ["abandon", "by hand", "admin-api"],
    ]
    r = await http.post(
        f"/admin/quotes/{only_intent}/retry", json={"reason": "late"}, headers=admin_headers
    )
    assert r.status_code == 409 and "COMPLETED" in r.json()["detail"]
    for h in (b_intent, b_position):
        await h.signal("abandon", {"reason": "cleanup", "operator": "test"})


async def test_signal_errors(
    http: httpx.AsyncClient, fake_worker: Worker, admin_headers: dict[str, str]
) -> None:
    unknown = _quote_id()
    r = await http.post(
        f"/admin/quotes/{unknown}/retry", json={"reason": "x"}, headers=admin_headers
    )
    assert r.status_code == 404 and str(unknown) in r.json()["detail"]
    r = await http.post(
        f"/admin/quotes/{unknown}/explode", json={"reason": "x"}, headers=admin_headers
    )
    assert r.status_code == 422
    r = await http.post(f"/admin/quotes/{unknown}/retry", json={}, headers=admin_headers)
    assert r.status_code == 422
    r = await http.post(
        f"/admin/quotes/{unknown}/retry", json={"reason": "   "}, headers=admin_headers
    )
    assert r.status_code == 422
    r = await http.post(
        f"/admin/quotes/{unknown}/retry?kind=banana", json={"reason": "x"}, headers=admin_headers
    )
    assert r.status_code == 422


async def test_stuck_lists_stuck_workflows_with_ui_links(
    http: httpx.AsyncClient,
    temporal_client: Client,
    fake_worker: Worker,
    admin_headers: dict[str, str],
) -> None:
    stuck_q, fine_q = _quote_id(), _quote_id()
    stuck = await _start(temporal_client, "position", stuck_q, stuck=True)
    fine = await _start(temporal_client, "position", fine_q)
    try:
        entry: dict[str, Any] | None = None
        for _ in range(50):  # visibility is eventually consistent
            body = (await http.get("/admin/stuck", headers=admin_headers)).json()
            entry = next((w for w in body["workflows"] if w["workflow_id"] == stuck.id), None)
            if entry is not None:
                break
            await asyncio.sleep(0.2)
        assert entry is not None, "STUCK workflow not listed"
        assert entry["quote_id"] == stuck_q and entry["symbol"] == "BTCUSDT"
        assert entry["workflow_type"] == POSITION_WORKFLOW
        assert entry["url"] == f"http://ui.test:8233/namespaces/default/workflows/{stuck.id}"
        assert fine.id not in {w["workflow_id"] for w in body["workflows"]}
    finally:
        for h in (stuck, fine):
            await h.signal("abandon", {"reason": "cleanup", "operator": "test"})


async def test_trading_state_round_trip(
    http: httpx.AsyncClient, engine: AsyncEngine, admin_headers: dict[str, str],
    risk_control_worker: None, api_settings: Settings, temporal_client: Client,
) -> None:  # fmt: skip
    risk = RiskControl(temporal_client, api_settings.chain_id)
    try:
        r = await http.post(
            "/admin/trading-state",
            json={"state": "HALTED", "reason": "exchange outage"},
            headers=admin_headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "HALTED" and r.json()["changed_by"] == "admin-api"
        current = (await http.get("/admin/trading-state", headers=admin_headers)).json()
        assert current["state"] == "HALTED" and current["reason"] == "exchange outage"
        assert current["history"][0]["state"] == "HALTED"
        # what the workflows' activity reads: the risk-control workflow
        assert (await risk.trading_state()).state == TradingState.HALTED.value
        r = await http.post(
            "/admin/trading-state",
            json={"state": "REDUCE_ONLY", "reason": "calmer"},
            headers=admin_headers,
        )
        assert (await risk.trading_state()).state == TradingState.REDUCE_ONLY.value
        bad = await http.post(
            "/admin/trading-state", json={"state": "PANIC", "reason": "x"}, headers=admin_headers
        )
        assert bad.status_code == 422
        no_reason = await http.post(
            "/admin/trading-state", json={"state": "HALTED"}, headers=admin_headers
        )
        assert no_reason.status_code == 422
        assert (await risk.trading_state()).state == TradingState.REDUCE_ONLY.value
        # and its history reaches the ledger, for people to read
        for _ in range(50):
            rows = await _rows(engine, "SELECT state FROM trading_state WHERE reason = 'calmer'")
            if rows:
                break
            await asyncio.sleep(0.2)
        assert rows == [("REDUCE_ONLY",)]
    finally:
        await risk.set_trading_state(TradingStateChange("ACTIVE", "test cleanup", "tests"))
    assert (await http.get("/admin/trading-state", headers=admin_headers)).json()[
        "state"
    ] == "ACTIVE"


async def _rows(engine: AsyncEngine, sql: str) -> list[Any]:
    from sqlalchemy import text

    async with engine.connect() as conn:
        return list((await conn.execute(text(sql))).all())
