"""infra/README.md names only what exists: every `hedger ...` command (with its options) parses
in the CLI, every admin path is a route of the API, the stuck-hedge query is the code's, and
every metric and search attribute it names is defined."""

from __future__ import annotations

import itertools
import re
import shlex

from infra_checks import INFRA, defined_metrics, exposed_series, series_in
from typer.testing import CliRunner

from adapters.temporal import SEARCH_ATTRIBUTE_TYPES
from api.operator import STUCK_QUERY
from api.routers import admin, findings, health
from hedger.cli import app

README = (INFRA / "README.md").read_text()
PLACEHOLDER = {"<quote-id>": "42", "ROLE": "workflows"}


def readme_commands() -> list[list[str]]:
    """Every `hedger ...` in backticks or in an indented command line, alternatives expanded."""
    found = re.findall(r"`hedger ([^`]+)`", README)
    found += re.findall(r"^\s+(?:\$ )?hedger (.+)$", README, re.M)
    out = []
    for text in found:
        for key, value in PLACEHOLDER.items():
            text = text.replace(key, value)
        words = shlex.split(text)
        choices = [w.split("|") if "|" in w and not w.startswith("-") else [w] for w in words]
        out.extend(list(c) for c in itertools.product(*choices))
    return out


def test_the_runbook_names_commands() -> None:
    commands = readme_commands()
    named = {" ".join(c[:2]) for c in commands}
    for wanted in (
        "db migrate", "temporal setup", "worker chain", "listener subgraph", "ops stuck",
        "ops retry", "ops halt", "ops resume",
    ):  # fmt: skip
        assert wanted in named, wanted


def test_every_hedger_command_of_the_runbook_exists() -> None:
    runner = CliRunner()
    for args in readme_commands():
        path = list(itertools.takewhile(lambda w: re.fullmatch(r"[a-z][a-z-]*", w), args))
        result = runner.invoke(app, [*args, "--help"], prog_name="hedger")
        assert result.exit_code == 0, f"`hedger {' '.join(args)}`:\n{result.output}"
        assert f"Usage: hedger {' '.join(path)}" in " ".join(result.output.split()), args


def _route_patterns() -> list[re.Pattern[str]]:
    paths = [
        getattr(r, "path", "")
        for router in (admin.router, findings.router, health.router)
        for r in router.routes
    ]
    return [re.compile(re.sub(r"\{[^}]+\}", "[^/]+", p) + "$") for p in paths if p]


def test_every_api_path_of_the_runbook_is_a_route() -> None:
    patterns = _route_patterns()
    named = set(re.findall(r"(/admin/[A-Za-z0-9_<>/{}-]+|/healthz|/metrics)", README))
    assert {"/admin/stuck", "/admin/findings", "/admin/trading-state"} <= named
    for path in named:
        concrete = re.sub(r"<[^>]+>", "42", path).rstrip("/")
        assert any(p.match(concrete) for p in patterns), f"{path} is not an API route"
    assert any(p.match("/admin/quotes/42/retry") for p in patterns)
    assert "/admin/quotes/<quote-id>/retry" in README


def test_the_stuck_query_and_search_attributes_are_the_code_s() -> None:
    assert STUCK_QUERY in README
    for name in SEARCH_ATTRIBUTE_TYPES:
        assert f"`{name}`" in README, name


def test_every_metric_of_the_runbook_is_defined() -> None:
    used = series_in(README)
    assert used
    assert used <= exposed_series(defined_metrics()), used - exposed_series(defined_metrics())


def test_every_setting_of_the_runbook_exists() -> None:
    from infra_checks import setting_env_names

    named = set(re.findall(r"\b(HEDGER_[A-Z0-9_]+)", README))
    assert named <= setting_env_names(), named - setting_env_names()
