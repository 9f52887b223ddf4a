"""Listener fixtures: our own anvil (restartable, `--state`) with a contract that re-emits the
real SYMMIO logs of symmio-vectors/logs.json, the ledger database, and a Temporal worker hosting
the recording "IntentWorkflow" / "PositionWorkflow" on a test task queue."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from listener_helpers import HERE, OUR_PARTY_B, Chain, Subgraph, make_chain, start_subgraph
from listener_workflows import RecordingIntentWorkflow, RecordingPositionWorkflow
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client
from temporalio.worker import Worker

from devnet.paths import NODE_MODULES
from workers.listeners.delivery import Delivery


@pytest.fixture(scope="session")
def emitter_build() -> dict[str, Any]:
    if not (NODE_MODULES / "solc").exists():
        pytest.fail("solc-js missing: run `make deps` (npm install in devnet/)")
    out = subprocess.run(
        ["node", str(HERE / "emitter" / "compile.js")], check=True, capture_output=True, timeout=120
    ).stdout
    build: dict[str, Any] = json.loads(out)
    return build


@pytest.fixture(scope="module")
def chain(
    tmp_path_factory: pytest.TempPathFactory, emitter_build: dict[str, Any]
) -> Iterator[Chain]:
    c = make_chain(tmp_path_factory.mktemp("listener-anvil"), emitter_build)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def subgraph(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Subgraph]:
    """`hedger devnet subgraph` (a separate process) indexing the module's chain."""
    node = start_subgraph(chain, tmp_path_factory.mktemp("subgraph"))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(database_url, pool_size=5)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture(scope="module")
async def workflow_queue(temporal_client: Client) -> AsyncIterator[str]:
    """A worker hosting the recording workflows; yields its task queue."""
    queue = f"listeners-test-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[RecordingIntentWorkflow, RecordingPositionWorkflow],
    ):
        yield queue


@pytest.fixture
def make_delivery(
    temporal_client: Client, engine: AsyncEngine, workflow_queue: str
) -> Callable[..., Delivery]:
    def make(chain_id: int, **kwargs: Any) -> Delivery:
        return Delivery(
            temporal_client,
            engine,
            chain_id=chain_id,
            our_party_b=OUR_PARTY_B,
            task_queue=workflow_queue,
            **kwargs,
        )

    return make
