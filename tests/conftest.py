"""Session fixtures that start the real local parts once, on free ports, in a temp dir.

Each part starts lazily, only when a test asks for it, and stops at the end of the session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from config.settings import Settings, load_settings
from devnet.stack.anvil import Anvil, start_anvil
from devnet.stack.postgres import Postgres, start_postgres
from devnet.stack.process import free_port
from devnet.stack.temporal import TemporalDevServer, start_temporal

# `make test` runs the suite in pytest-xdist processes, one test directory per process at a
# time (`--dist loadscope` with the scheduler below): a directory's files share session fixtures
# (an e2e stack, a contract chain) and run in the order they ran in serially, which some rely on
# (a test that leaves a position unhedged on purpose comes after those that check the
# invariant). The longest directories go first (`--no-loadscope-reorder` keeps this order), so
# no process is left with a long one at the end.
LONGEST_FIRST = ("e2e", "api", "foundation", "chain", "workflows", "chaos", "audit", "listeners")


def _directory(nodeid: str) -> str:
    parts = nodeid.split("::", 1)[0].split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_directory(item.nodeid), len(rank)))  # stable


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadscope`, a test directory being the scope (not a module or class)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByDirectory(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return _directory(nodeid)

    return ByDirectory(config, log)


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def anvil(stack_dir: Path) -> Iterator[Anvil]:
    """A fresh anvil chain (chain id 31337) on a free port; `.http_url`, `.ws_url`, `.rpc()`."""
    node = start_anvil(port=free_port(), state_dir=stack_dir / "anvil", persist=False)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def postgres(stack_dir: Path) -> Iterator[Postgres]:
    """An embedded Postgres server with an empty `hedger` database."""
    server = start_postgres(port=free_port(), data_dir=stack_dir / "postgres" / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url(postgres: Postgres) -> str:
    """URL of the `hedger` database, migrated to the newest schema."""
    from ledger.migrate import upgrade

    upgrade(postgres.url())
    return postgres.url()


@pytest.fixture(scope="session")
def temporal_server(stack_dir: Path) -> Iterator[TemporalDevServer]:
    server = start_temporal(
        port=free_port(), ui_port=free_port(), state_dir=stack_dir / "temporal", headless=True
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def settings(temporal_server: TemporalDevServer) -> Settings:
    """Settings pointing at the test session's Temporal (other parts are added by their fixtures)."""
    return load_settings(temporal_address=temporal_server.address)


@pytest.fixture(scope="session")
async def temporal_client(settings: Settings) -> AsyncIterator[Client]:
    """A client of the dev server, with the hedger's search attributes registered."""
    from adapters.temporal import connect, setup_temporal

    await setup_temporal(settings)
    yield await connect(settings)


HISTORIES = Path(__file__).parent / "workflows" / "histories"


@pytest.fixture(scope="session")
def record_history():  # type: ignore[no-untyped-def]
    """`await record_history(handle, "IntentWorkflow", "label")` saves the history for the replay
    tests when HEDGER_RECORD_HISTORIES=1 (re-record after an intentional workflow change)."""
    import json
    import os

    async def _record(handle, workflow_type: str, label: str, *, every_run: bool = False):  # type: ignore[no-untyped-def]
        """The latest run's history; with `every_run`, each run of the chain as
        `<label>-run<N>` (N from 1, by start time): a workflow that continued-as-new took its
        earlier steps, and their patch markers, in earlier runs."""
        if os.environ.get("HEDGER_RECORD_HISTORIES") != "1":
            return None
        HISTORIES.mkdir(exist_ok=True)
        handles = [(handle, label)]
        if every_run:
            client = handle._client
            runs = [r async for r in client.list_workflows(f"WorkflowId = '{handle.id}'")]
            handles = [
                (client.get_workflow_handle(handle.id, run_id=r.run_id), f"{label}-run{n}")
                for n, r in enumerate(sorted(runs, key=lambda r: r.start_time), start=1)
            ]
        path = None
        for h, name in handles:
            history = await h.fetch_history()
            path = HISTORIES / f"{workflow_type}-{name}.json"
            payload = {"workflow_id": h.id, "history": json.loads(history.to_json())}
            path.write_text(json.dumps(payload, indent=1))
        return path

    return _record
