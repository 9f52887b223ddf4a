"""The reads the workflows run as local activities are the ones the workflow worker hosts.

A workflow asking for a local activity its worker lacks does not fail at once: the SDK retries
it until the step fails and the hedge parks in STUCK. So the two lists are checked against each
other here, from the source of `workflows/calls.py` and from `workers.local_reads` built on real
settings (its clients connect lazily: nothing is reached, so no contract need be deployed)."""

from __future__ import annotations

import ast
import inspect
from typing import Any

from temporalio.client import Client

from config.settings import Settings
from interfaces.broker import BrokerApi
from interfaces.chain import ChainApi
from interfaces.ledger import OpsApi
from workers.local_reads import build_local_reads, party_b_of
from workflows import calls

DIAMOND = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # any address: nothing is called
CONTRACTS: dict[str, Any] = {"ChainApi": ChainApi, "BrokerApi": BrokerApi, "OpsApi": OpsApi}


def _activity_name(fn: Any) -> str:
    return str(fn.__temporal_activity_definition.name)


def _called_locally() -> set[str]:
    """The activity of every `_local(...)` / `_local0(...)` call in `workflows/calls.py`."""
    tree = ast.parse(inspect.getsource(calls))
    names: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id not in {"_local", "_local0"} or not node.args:
            continue
        target = node.args[0]
        assert isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
        names.add(_activity_name(getattr(CONTRACTS[target.value.id], target.attr)))
    return names


async def test_the_workflow_worker_hosts_every_read_the_workflows_run_locally(
    temporal_client: Client, settings: Settings
) -> None:
    configured = settings.model_copy(update={"symmio_address": DIAMOND})
    reads = build_local_reads(temporal_client, configured)
    try:
        hosted = {_activity_name(fn) for fn in reads.activities()}
        assert _called_locally() == hosted == {
            "chain_open_facts", "chain_position_facts", "ops_open_inputs",
            "ops_open_inputs_reserving", "broker_market_snapshot",
        }  # fmt: skip
        assert reads.chain.party_b == party_b_of(configured)  # the chain worker's signer
    finally:
        await reads.close()
