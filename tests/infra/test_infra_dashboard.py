"""The provisioned Grafana dashboard loads and every panel queries metrics the code defines."""

from __future__ import annotations

import json
from typing import Any

from infra_checks import INFRA, defined_metrics, exposed_series, load_yaml, series_in

GRAFANA = INFRA / "grafana"


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return [p for p in out if p["type"] != "row"]


def test_dashboard_loads_and_every_panel_metric_exists() -> None:
    dashboard = json.loads((GRAFANA / "dashboards" / "hedger.json").read_text())
    assert dashboard["uid"] == "symmio-hedger"
    series = exposed_series(defined_metrics())
    seen: set[str] = set()
    found = panels(dashboard)
    assert len(found) >= 10
    for panel in found:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = series_in(target["expr"])
            assert used, f"{panel['title']}: no hedger metric in {target['expr']}"
            assert used <= series, f"{panel['title']}: not defined in the code: {used - series}"
            seen |= used
    # the wanted views that have metrics: validator, hop latency, listener lag, broker, balances
    for wanted in (
        "hedger_validator_open_findings",
        "hedger_listener_event_delay_seconds_bucket",
        "hedger_broker_ws_order_update_lag_seconds_bucket",
        "hedger_listener_lag_blocks",
        "hedger_broker_ws_order_updates_total",
        "hedger_broker_collateral",
        "hedger_partyb_balance",
    ):
        assert wanted in seen, wanted


def test_provisioning_points_at_the_dashboard_and_prometheus() -> None:
    dashboard = json.loads((GRAFANA / "dashboards" / "hedger.json").read_text())
    sources = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    uid = sources["datasources"][0]["uid"]
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"
    for panel in panels(dashboard):
        assert panel["datasource"]["uid"] == uid
    providers = load_yaml(GRAFANA / "provisioning" / "dashboards" / "hedger.yml")
    path = providers["providers"][0]["options"]["path"]
    compose = load_yaml(INFRA / "compose.yaml")
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{path}:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
