"""Shared helpers of the infra/ checks: the CLI, the settings, the metrics the code defines."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from config.settings import ENV_PREFIX, Settings
from hedger.cli import app

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
# The production packages (what the image ships): pyproject's mypy package list.
PRODUCTION = (
    "domain", "interfaces", "config", "adapters", "ledger", "activities", "workflows", "workers",
    "api", "hedger",
)  # fmt: skip

_METRIC_DEF = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")
_ENV_READ = re.compile(r"(?:os\.environ(?:\.get)?[\(\[]|envvar=)\s*\"(HEDGER_[A-Z0-9_]+)\"")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def production_sources() -> list[Path]:
    return [p for pkg in PRODUCTION for p in (ROOT / pkg).rglob("*.py")]


def setting_env_names() -> set[str]:
    """Every HEDGER_* variable the code reads: the Settings fields, plus the few read directly."""
    names = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    for path in production_sources():
        names.update(_ENV_READ.findall(path.read_text()))
    return names


def defined_metrics() -> dict[str, str]:
    """metric name -> its type, for every prometheus_client metric the production code defines."""
    out: dict[str, str] = {}
    for path in production_sources():
        for kind, name in _METRIC_DEF.findall(path.read_text()):
            out[name] = kind
    return out


def exposed_series(metrics: dict[str, str]) -> set[str]:
    """The series names Prometheus sees for those metrics (counters' _total, histograms' parts)."""
    out: set[str] = set()
    for name, kind in metrics.items():
        out.add(name)
        if kind == "Counter" and not name.endswith("_total"):
            out.add(name + "_total")
        if kind in ("Histogram", "Summary"):
            out.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    return out


def series_in(expr: str, prefix: str = "hedger_") -> set[str]:
    return set(re.findall(rf"\b({prefix}[a-z0-9_]+)", expr))


def cli_path(args: list[str]) -> list[str]:
    """The subcommand words of a `hedger` argument list (up to the first option)."""
    path: list[str] = []
    for word in args:
        if word.startswith("-"):
            break
        path.append(word)
    return path


def cli_accepts(args: list[str]) -> tuple[bool, str]:
    """Whether `hedger <args> --help` parses (the command and every option exist) and exits 0."""
    result = CliRunner().invoke(app, [*args, "--help"], prog_name="hedger")
    usage_ok = f"Usage: hedger {' '.join(cli_path(args))}" in " ".join(result.output.split())
    return result.exit_code == 0 and usage_ok, result.output


def split_command(command: Any) -> list[str]:
    if isinstance(command, str):
        return shlex.split(command)
    return [str(word) for word in command]
