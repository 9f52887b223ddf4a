"""`GET /admin/findings` and the validator's findings table on the real Postgres: the record
activity upserts open findings by key (a retry changes nothing), resolves cleared ones, keeps
when a finding first alerted, and sets the open-findings gauge; the admin route lists them
behind the admin token."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities.validator import ValidatorActivities
from domain.reconcile import BrokerOpenOrder, Snapshot, reconcile, track
from interfaces.validator import RecordRequest


def _activities(engine: AsyncEngine, client: Client) -> ValidatorActivities:
    def unused() -> Any:
        raise AssertionError("the findings table needs neither the chain nor the broker")

    return ValidatorActivities(engine, client, 31337, chain=unused, broker=unused)


def _gauge(kind: str) -> float | None:
    return REGISTRY.get_sample_value("hedger_validator_open_findings", {"kind": kind})


async def test_findings_are_recorded_resolved_and_listed(
    http: httpx.AsyncClient, engine: AsyncEngine, temporal_client: Client,
    admin_headers: dict[str, str],
) -> None:  # fmt: skip
    acts = _activities(engine, temporal_client)
    cid = f"api-test-{uuid.uuid4().hex[:8]}"
    findings = reconcile(
        Snapshot([], {}, [BrokerOpenOrder(cid, "BTC/USDT:USDT", "buy", Decimal(1))], [])
    )
    key = f"unknown_broker_order:{cid}"

    run1 = track([t for t in await acts.open_findings() if t.finding.key == key], findings, 1000.0)
    await acts.record(RecordRequest("run-1", 1000.0, run1.open, run1.resolved))
    previous = [t for t in await acts.open_findings() if t.finding.key == key]
    assert [(t.seen_runs, t.first_seen, t.alerted) for t in previous] == [(1, 1000.0, False)]

    run2 = track(previous, findings, 1060.0)
    assert [t.finding.key for t in run2.to_alert] == [key]
    for _ in range(2):  # a retried activity writes the same row
        await acts.record(RecordRequest("run-2", 1060.0, run2.open, run2.resolved))
    (again,) = [t for t in await acts.open_findings() if t.finding.key == key]
    assert (again.seen_runs, again.first_seen, again.last_seen, again.alerted) == (2, 1000.0, 1060.0, True)  # fmt: skip
    assert (_gauge("unknown_broker_order") or 0) >= 1

    listed = await http.get(
        "/admin/findings", params={"kind": "unknown_broker_order"}, headers=admin_headers
    )
    assert listed.status_code == 200
    (row,) = [f for f in listed.json()["findings"] if f["finding_key"] == key]
    assert row["open"] and row["seen_runs"] == 2 and row["lasted_seconds"] == 60
    assert row["alerted_at"] is not None and row["detail"]["client_order_id"] == cid
    assert listed.json()["open_by_kind"]["unknown_broker_order"] >= 1

    run3 = track([again], [], 1120.0)
    await acts.record(RecordRequest("run-3", 1120.0, run3.open, run3.resolved))
    assert key not in {t.finding.key for t in await acts.open_findings()}
    open_now = await http.get("/admin/findings", headers=admin_headers)
    assert key not in {f["finding_key"] for f in open_now.json()["findings"]}
    everything = await http.get(
        "/admin/findings", params={"include_resolved": "true", "limit": 1000}, headers=admin_headers
    )
    (resolved,) = [f for f in everything.json()["findings"] if f["finding_key"] == key]
    assert not resolved["open"] and resolved["resolved_at"] is not None

    # the same difference coming back is a new occurrence (a new row, a new alert)
    run4 = track([], findings, 1180.0)
    await acts.record(RecordRequest("run-4", 1180.0, run4.open, run4.resolved))
    (back,) = [t for t in await acts.open_findings() if t.finding.key == key]
    assert (back.first_seen, back.seen_runs, back.alerted) == (1180.0, 1, False)
    cleanup = track([back], [], 1240.0)
    await acts.record(RecordRequest("run-5", 1240.0, cleanup.open, cleanup.resolved))


async def test_findings_need_the_admin_token(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert (await http.get("/admin/findings")).status_code == 401
    wrong = await http.get("/admin/findings", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    bad_kind = await http.get("/admin/findings", params={"kind": "nope"}, headers=admin_headers)
    assert bad_kind.status_code == 422
