"""infra/compose.yaml, infra/.env.example, infra/Dockerfile and the Prometheus files agree with
the code: every hedger service runs a real CLI command, every HEDGER_* variable is a real setting,
every long-running service has a health check and a restart policy, Prometheus scrapes every
hedger service on the port its command serves, and the alert rules parse."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from infra_checks import (
    INFRA,
    PRODUCTION,
    cli_accepts,
    defined_metrics,
    exposed_series,
    load_yaml,
    series_in,
    setting_env_names,
    split_command,
)

from hedger.listener_commands import (
    POLL_METRICS_OFFSET,
    SUBGRAPH_METRICS_OFFSET,
    WS_METRICS_OFFSET,
)

COMPOSE = INFRA / "compose.yaml"
ENV_EXAMPLE = INFRA / ".env.example"
SECRET_SETTINGS = {
    "HEDGER_PRIVATE_KEY", "HEDGER_ADMIN_TOKEN", "HEDGER_BROKER_API_KEY",
    "HEDGER_BROKER_API_SECRET", "HEDGER_TEMPORAL_API_KEY",
}  # fmt: skip
ONE_SHOT = {"migrate", "temporal-setup"}
# Every role of infra/README.md's process table, by its command.
ROLES = {
    ("worker", "workflows"), ("worker", "chain"), ("worker", "broker"), ("worker", "ops"),
    ("worker", "order-monitor"), ("listener", "ws"), ("listener", "poll"),
    ("listener", "subgraph"), ("api",),
}  # fmt: skip
# HEDGER_METRICS_PORT (9100) + each command's offset (hedger/worker_commands.py,
# hedger/listener_commands.py); the order monitor's port is HEDGER_ORDER_MONITOR_METRICS_PORT.
METRICS_PORT = {
    ("worker", "workflows"): 9100, ("worker", "ops"): 9101, ("worker", "broker"): 9102,
    ("worker", "chain"): 9103, ("listener", "poll"): 9100 + POLL_METRICS_OFFSET,
    ("listener", "ws"): 9100 + WS_METRICS_OFFSET,
    ("listener", "subgraph"): 9100 + SUBGRAPH_METRICS_OFFSET,
    ("worker", "order-monitor"): 9108, ("api",): 8000,
}  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = load_yaml(COMPOSE)
    assert isinstance(doc, dict) and "services" in doc
    return doc


def hedger_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in compose["services"].items()
        if "SYMMIO_HEDGER_IMAGE" in str(svc.get("image", ""))
    }


def env_example() -> dict[str, str]:
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def compose_command() -> list[str] | None:
    """`docker compose` (v2) or Debian's `docker-compose` (v1); neither needs an engine to
    validate a file."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_validates_with_docker_compose_when_installed() -> None:
    command = compose_command()
    if command is None:
        pytest.skip(
            "neither `docker compose` nor `docker-compose` is installed (.ci/run installs it)"
        )
    env = INFRA / ".env"
    made = not env.exists()
    if made:
        env.write_text(ENV_EXAMPLE.read_text())
    try:
        done = subprocess.run(
            [*command, "-f", str(COMPOSE), "config", "--quiet"],
            capture_output=True,
            text=True,
        )
    finally:
        if made:
            env.unlink()
    assert done.returncode == 0, done.stderr + done.stdout


def test_prometheus_rules_and_config_pass_promtool_when_installed(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (.ci/run installs Debian's prometheus package)")
    rules = subprocess.run(
        [promtool, "check", "rules", str(INFRA / "prometheus" / "alerts.yml")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert rules.returncode == 0, rules.stdout + rules.stderr
    # the config names the rule file where compose mounts it: check a copy pointing here
    config = (INFRA / "prometheus" / "prometheus.yml").read_text()
    local = tmp_path / "prometheus.yml"
    local.write_text(
        config.replace("/etc/prometheus/alerts.yml", str(INFRA / "prometheus" / "alerts.yml"))
    )
    checked = subprocess.run(
        [promtool, "check", "config", str(local)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_hedger_service_runs_a_real_cli_command(compose: dict[str, Any]) -> None:
    services = hedger_services(compose)
    assert set(services) >= ONE_SHOT
    roles = set()
    for name, svc in services.items():
        args = split_command(svc["command"])
        ok, output = cli_accepts(args)
        assert ok, f"service {name}: `hedger {' '.join(args)}` is not a CLI command:\n{output}"
        if name not in ONE_SHOT:
            roles.add(
                tuple(w for w in args if not w.startswith("-"))[: 1 if args[0] == "api" else 2]
            )
    assert roles == ROLES, "one compose service per role"


def test_one_shot_setup_runs_before_every_role(compose: dict[str, Any]) -> None:
    assert split_command(compose["services"]["migrate"]["command"]) == ["db", "migrate"]
    assert split_command(compose["services"]["temporal-setup"]["command"])[:2] == [
        "temporal",
        "setup",
    ]
    for name, svc in hedger_services(compose).items():
        if name in ONE_SHOT:
            continue
        deps = svc.get("depends_on", {})
        for setup in ONE_SHOT:
            assert deps.get(setup, {}).get("condition") == "service_completed_successfully", name


def test_long_running_services_have_healthchecks_and_restart_policies(
    compose: dict[str, Any],
) -> None:
    for name, svc in compose["services"].items():
        assert svc.get("restart") in {"unless-stopped", "always", "on-failure"}, name
        if name in ONE_SHOT:
            continue
        check = svc.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"


def test_hedger_healthchecks_probe_the_port_the_command_serves(compose: dict[str, Any]) -> None:
    for name, svc in hedger_services(compose).items():
        if name in ONE_SHOT:
            continue
        args = split_command(svc["command"])
        role = ("api",) if args[0] == "api" else (args[0], args[1])
        probe = " ".join(split_command(svc["healthcheck"]["test"]))
        port = re.search(r"127\.0\.0\.1:(\d+)", probe)
        assert port and int(port.group(1)) == METRICS_PORT[role], (name, probe)
        if role == ("worker", "order-monitor"):
            assert svc["environment"]["HEDGER_ORDER_MONITOR_METRICS_PORT"] == "9108"


def _interpolated(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+)", text))


def test_every_variable_is_a_real_setting_or_documented(compose: dict[str, Any]) -> None:
    real = setting_env_names()
    text = COMPOSE.read_text()
    documented = env_example()
    used = set(re.findall(r"\b(HEDGER_[A-Z0-9_]+)", text))
    for svc in compose["services"].values():
        env = svc.get("environment") or {}
        used.update(k for k in env if k.startswith("HEDGER_"))
    assert used, "compose sets no hedger settings?"
    assert used <= real, f"not hedger settings: {sorted(used - real)}"
    for name in _interpolated(text):
        if name.startswith("HEDGER_"):
            assert name in real, name
        assert name in documented, f"${{{name}}} is used by compose but not in .env.example"
    bad = {k for k in documented if k.startswith("HEDGER_") and k not in real}
    assert not bad, f".env.example names unknown settings: {sorted(bad)}"
    others = {k for k in documented if not k.startswith("HEDGER_")}
    assert others <= _interpolated(text), f".env.example variables compose never uses: {others}"


def test_no_secret_is_written_in_compose(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        assert not SECRET_SETTINGS & set(env), f"{name} sets a secret inline"
        for key, value in env.items():
            if "PASSWORD" in key or "PWD" in key:
                literal = not str(value).startswith(("${", "/run/secrets/"))
                assert not literal, f"{name}.{key} is a literal"
    assert compose["x-hedger"]["env_file"] == [".env"]  # short form: compose v1 and v2 read it
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    ignore = (INFRA / "secrets" / ".gitignore").read_text().split()
    assert "*" in ignore
    assert ".env" in (INFRA / ".gitignore").read_text().split()
    example = env_example()
    for name in SECRET_SETTINGS & set(example):
        assert example[name] == "", f".env.example carries a value for {name}"


def test_chain_agent_is_single_with_a_persistent_journal(compose: dict[str, Any]) -> None:
    chain = compose["services"]["chain-agent"]
    assert chain.get("deploy", {}).get("replicas", 1) == 1
    journal = re.search(r"HEDGER_CHAIN_JOURNAL_DIR=(\S+)", (INFRA / "Dockerfile").read_text())
    assert journal
    mounts = {v.split(":")[1]: v.split(":")[0] for v in chain["volumes"]}
    assert mounts.get(journal.group(1)) in compose["volumes"], "journal on a named volume"


def test_dockerfile_is_multistage_non_root_pinned_and_ships_every_package() -> None:
    text = (INFRA / "Dockerfile").read_text()
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", text)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1)), "pinned base tag"
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "multi-stage"
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("root", "0")), "runs as non-root"
    assert re.search(r'^ENTRYPOINT \["hedger"\]', text, re.M)
    for pkg in PRODUCTION:
        assert f"COPY {pkg}/ {pkg}/" in text, f"the image lacks {pkg}/"
    assert "COPY devnet" not in text
    assert "pip install ." in text  # the pins of pyproject.toml
    assert "HEDGER_METRICS_HOST=0.0.0.0" in text  # else Prometheus cannot scrape the container


def test_prometheus_scrapes_every_hedger_service(compose: dict[str, Any]) -> None:
    config = load_yaml(INFRA / "prometheus" / "prometheus.yml")
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    mounts = " ".join(compose["services"]["prometheus"]["volumes"])
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml" in mounts
    targets = {
        t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    for target in targets:
        assert target.split(":")[0] in compose["services"], f"{target}: no such compose service"
    for name, svc in hedger_services(compose).items():
        if name in ONE_SHOT:
            continue
        args = split_command(svc["command"])
        role = ("api",) if args[0] == "api" else (args[0], args[1])
        assert f"{name}:{METRICS_PORT[role]}" in targets, f"{name} is not scraped"
    am = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
    assert am.split(":")[0] in compose["services"]


def test_alert_rules_parse_and_use_defined_metrics() -> None:
    rules = load_yaml(INFRA / "prometheus" / "alerts.yml")
    groups = {g["name"]: g["rules"] for g in rules["groups"]}
    assert set(groups) == {"hedger-validator", "hedger-balance", "hedger-operations"}
    names = {rule["alert"] for rules_ in groups.values() for rule in rules_}
    # what #11 asks to be alerted on: stuck hedges, validator mismatches, listener lag, chain
    # transaction failures, broker errors, a process or schedule not running, balance out of
    # band, PartyB health low
    assert {
        "HedgerStuckHedges",
        "HedgerUnhedged",
        "HedgerListenerLag",
        "HedgerChainTxReverts",
        "HedgerBrokerErrors",
        "HedgerProcessDown",
        "HedgerValidatorNotRunning",
        "HedgerBalanceFindings",
        "HedgerPartyBHealthLow",
        "HedgerBrokerMarginLow",
    } <= names
    series = exposed_series(defined_metrics()) | {"up"}  # `up`: Prometheus's own, per target
    for rule_list in groups.values():
        for rule in rule_list:
            assert rule["alert"] and rule["expr"] and rule["labels"]["severity"]
            used = series_in(rule["expr"]) | ({"up"} if "up{" in rule["expr"] else set())
            assert used and used <= series, f"{rule['alert']}: unknown {used - series}"


def test_alertmanager_reads_its_receiver_from_a_mounted_file(compose: dict[str, Any]) -> None:
    config = load_yaml(INFRA / "alertmanager" / "alertmanager.yml")
    hook = config["receivers"][0]["webhook_configs"][0]
    assert "url" not in hook and hook["url_file"].startswith("/run/secrets/")
    assert hook["url_file"].rsplit("/", 1)[1] in compose["secrets"]
