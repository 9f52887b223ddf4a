"""The layout's rules, checked on the source: which package may import which, no import cycles,
no I/O in `domain/` and `interfaces/`, workflows that import only what is deterministic, and
activity implementations that keep the names and types of their contracts."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each production package and the packages (besides itself) it may import. `hedger` is the CLI,
# at the top: nothing imports it. `devnet` is the local stand-ins: nothing production imports it.
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "config": set(),
    "interfaces": {"domain"},
    "adapters": {"domain", "interfaces", "config"},
    "ledger": {"domain", "interfaces", "config"},
    "activities": {"domain", "interfaces", "config", "adapters", "ledger"},
    "workflows": {"domain", "interfaces"},
    "workers": {"domain", "interfaces", "config", "adapters", "ledger", "activities", "workflows"},
    "api": {"domain", "interfaces", "config", "adapters", "ledger"},
    "hedger": {
        "domain", "interfaces", "config", "adapters", "ledger", "activities", "workflows",
        "workers", "api",
    },
}  # fmt: skip
PRODUCTION_PACKAGES = sorted(ALLOWED)
OURS = {*PRODUCTION_PACKAGES, "devnet"}
IO_LIBRARIES = {
    "web3", "ccxt", "httpx", "asyncpg", "sqlalchemy", "sqlmodel", "fastapi", "aiohttp",
    "requests", "socket", "websockets", "eth_account", "coincurve", "alembic", "uvicorn",
    "prometheus_client", "psutil", "subprocess",
}  # fmt: skip


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> set[str]:
    """Absolute names imported anywhere in the module (functions too), except under
    `if TYPE_CHECKING:`; relative imports are resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _is_type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names.add(target)
            for alias in node.names:  # `from pkg import module` imports pkg.module
                names.add(f"{target}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def _sources(package: str) -> list[Path]:
    return [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]


def _our_modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PRODUCTION_PACKAGES for p in _sources(pkg)}


def test_packages_import_only_downwards() -> None:
    offenders = []
    for package in PRODUCTION_PACKAGES:
        for path in _sources(package):
            for name in _imports(path):
                top = name.split(".")[0]
                if top in OURS and top != package and top not in ALLOWED[package]:
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_devnet_never_imports_the_cli() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources("devnet")
        for name in _imports(path)
        if name.split(".")[0] == "hedger"
    ]
    assert offenders == []


def test_no_import_cycles_between_modules() -> None:
    modules = _our_modules()
    graph = {
        name: {dep for dep in _imports(path) if dep in modules and dep != name}
        for name, path in modules.items()
    }
    # A package's __init__ importing nothing, `a.b` depends on `a` only through real imports.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                walk(dep)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name)
    assert cycles == []


@pytest.mark.parametrize("package", ["domain", "interfaces"])
def test_pure_packages_have_no_io_imports(package: str) -> None:
    forbidden = IO_LIBRARIES | ({"temporalio"} if package == "domain" else set())
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources(package)
        for name in _imports(path)
        if name.split(".")[0] in forbidden
    ]
    assert offenders == []


def test_interfaces_use_only_temporal_declarations() -> None:
    allowed = {"temporalio", "temporalio.activity", "temporalio.common"}
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources("interfaces")
        for name in _imports(path)
        if name.split(".")[0] == "temporalio" and name not in allowed
        and not name.startswith("temporalio.activity.") and not name.startswith("temporalio.common.")
    ]  # fmt: skip
    assert offenders == []


def test_workflows_reach_no_io_library() -> None:
    """What a workflow imports is deterministic: domain, interfaces, other workflow modules."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources("workflows")
        for name in _imports(path)
        if name.split(".")[0] in IO_LIBRARIES
    ]
    assert offenders == []


def test_production_code_never_imports_devnet() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in PRODUCTION_PACKAGES
        for path in _sources(package)
        for name in _imports(path)
        if name.split(".")[0] == "devnet"
    ]
    assert offenders == []


def _activity_name(fn: object) -> str | None:
    defn = getattr(fn, "__temporal_activity_definition", None)
    return None if defn is None else str(defn.name)


def _contracts() -> list[tuple[type, type]]:
    from activities.broker import BrokerActivities
    from activities.chain import ChainActivities
    from activities.healthcheck import HealthcheckActivities
    from activities.ledger import LedgerActivities
    from activities.ops import OpsActivities
    from interfaces.broker import BrokerApi
    from interfaces.chain import ChainApi
    from interfaces.healthcheck import HealthcheckApi
    from interfaces.ledger import LedgerApi, OpsApi

    return [
        (ChainApi, ChainActivities),
        (BrokerApi, BrokerActivities),
        (LedgerApi, LedgerActivities),
        (OpsApi, OpsActivities),
        (HealthcheckApi, HealthcheckActivities),
    ]


@pytest.mark.parametrize("contract,implementation", _contracts(), ids=lambda c: c.__name__)
def test_each_activity_keeps_its_contracts_name_and_signature(
    contract: type, implementation: type
) -> None:
    assert issubclass(implementation, contract)
    declared = {name: fn for name, fn in vars(contract).items() if _activity_name(fn) is not None}
    assert declared, f"{contract.__name__} declares no activity"
    for name, stub in declared.items():
        impl = getattr(implementation, name)
        assert impl is not stub, f"{implementation.__name__}.{name} is not implemented"
        assert _activity_name(impl) == _activity_name(stub), name
        assert inspect.signature(impl) == inspect.signature(stub), name


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _passed_through_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and "imports_passed_through" in ast.unparse(node.items[0]):
            for child in ast.walk(node):
                if isinstance(child, ast.ImportFrom) and child.module:
                    names.append(child.module)
                elif isinstance(child, ast.Import):
                    names.extend(alias.name for alias in child.names)
    return names


def test_workflow_modules_are_never_passed_through() -> None:
    """A workflow module imported through `imports_passed_through` can exist twice in the
    sandbox: an exception class caught in one copy and raised from the other escapes its
    `except` and fails the workflow task for ever (a broker outage did exactly that)."""
    offenders = [
        f"{path.relative_to(ROOT)} passes {name} through"
        for path in _sources("workflows")
        for name in _passed_through_imports(path)
        if name.split(".")[0] == "workflows"
    ]
    assert offenders == []
