"""infra/k8s renders with kustomize, runs only real CLI commands, references its Secret instead
of embedding it, and keeps the chain agent to one replica with a persistent journal."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml
from infra_checks import INFRA, cli_accepts, setting_env_names

K8S = INFRA / "k8s"
SECRET_SETTINGS = {
    "HEDGER_PRIVATE_KEY", "HEDGER_ADMIN_TOKEN", "HEDGER_BROKER_API_KEY",
    "HEDGER_BROKER_API_SECRET", "HEDGER_TEMPORAL_API_KEY", "HEDGER_DATABASE_URL",
}  # fmt: skip
ROLES = {
    ("worker", "workflows"), ("worker", "chain"), ("worker", "broker"), ("worker", "ops"),
    ("worker", "order-monitor"), ("listener", "ws"), ("listener", "poll"),
    ("listener", "subgraph"), ("api",),
}  # fmt: skip


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: cannot render infra/k8s with kustomize")
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["spec"]["template"]["spec"]["containers"])


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in {"Deployment", "StatefulSet", "Job"}]


def test_renders_every_role_once(rendered: list[dict[str, Any]]) -> None:
    roles = []
    for doc in rendered:
        if doc["kind"] in {"Deployment", "StatefulSet"}:
            args = containers(doc)[0]["args"]
            roles.append(("api",) if args[0] == "api" else (args[0], args[1]))
    assert sorted(roles) == sorted(ROLES)
    assert {d["metadata"]["namespace"] for d in rendered if d["kind"] != "Namespace"} == {
        "symmio-hedger"
    }


def test_every_container_command_exists_in_the_cli(rendered: list[dict[str, Any]]) -> None:
    for doc in workloads(rendered):
        for c in containers(doc):
            assert "command" not in c, "the image's entry point is `hedger`"
            ok, output = cli_accepts([str(a) for a in c["args"]])
            assert ok, f"{doc['metadata']['name']}: `hedger {' '.join(c['args'])}`:\n{output}"
            assert c["image"].startswith("registry.example.com/symmio-hedger:")


def test_secrets_are_referenced_not_embedded(rendered: list[dict[str, Any]]) -> None:
    assert not by_kind(rendered, "Secret"), "no Secret object in the manifests"
    for doc in workloads(rendered):
        for c in containers(doc):
            refs = {r.get("secretRef", {}).get("name") for r in c["envFrom"]}
            assert "hedger-secrets" in refs
            assert not SECRET_SETTINGS & {e["name"] for e in c.get("env", [])}
    config = by_kind(rendered, "ConfigMap")["hedger-config"]["data"]
    assert set(config) <= setting_env_names(), set(config) - setting_env_names()
    assert not SECRET_SETTINGS & set(config)
    for doc in workloads(rendered):
        for c in containers(doc):
            for e in c.get("env", []):
                assert e["name"] in setting_env_names(), e["name"]


def test_chain_agent_is_one_statefulset_replica_with_its_journal_claim(
    rendered: list[dict[str, Any]],
) -> None:
    assert not [
        d for d in by_kind(rendered, "Deployment").values() if "chain" in containers(d)[0]["args"]
    ]
    sts = by_kind(rendered, "StatefulSet")["hedger-chain-agent"]
    assert sts["spec"]["replicas"] == 1
    assert containers(sts)[0]["args"] == ["worker", "chain"]
    claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
    journal = by_kind(rendered, "ConfigMap")["hedger-config"]["data"]["HEDGER_CHAIN_JOURNAL_DIR"]
    mounts = {m["mountPath"]: m["name"] for m in containers(sts)[0]["volumeMounts"]}
    assert mounts.get(journal) in claims


def test_pods_run_as_non_root_with_probes(rendered: list[dict[str, Any]]) -> None:
    for doc in workloads(rendered):
        spec = doc["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        if doc["kind"] != "Job":
            assert containers(doc)[0].get("livenessProbe"), doc["metadata"]["name"]


def test_api_service_selects_the_api_pods(rendered: list[dict[str, Any]]) -> None:
    svc = by_kind(rendered, "Service")["hedger-api"]
    api = by_kind(rendered, "Deployment")["hedger-api"]
    labels = api["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    assert containers(api)[0]["readinessProbe"]["httpGet"]["path"] == "/healthz"
