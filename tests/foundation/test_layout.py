"""Production packages reach the local stand-ins only through configuration, never by import."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_PACKAGES = ["domain", "hedger", "activities", "workflows", "workers", "api"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_production_code_never_imports_devnet() -> None:
    offenders = []
    for package in PRODUCTION_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for name in _imports(path):
                if name == "devnet" or name.startswith("devnet."):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_domain_package_has_no_io_imports() -> None:
    forbidden = {
        "temporalio",
        "web3",
        "ccxt",
        "httpx",
        "asyncpg",
        "sqlalchemy",
        "sqlmodel",
        "fastapi",
        "aiohttp",
        "requests",
        "socket",
    }
    offenders = []
    for path in (ROOT / "domain").rglob("*.py"):
        for name in _imports(path):
            if name.split(".")[0] in forbidden:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
