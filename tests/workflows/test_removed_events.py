"""A reorg's removed log is never applied, takes back what it applied, and a late copy of the
orphaned log is ignored; the same event re-mined in another block counts again. (The event
handling of the hedge workflows, driven directly with real logs captured from protocol-core.)"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from interfaces.workflows import ChainLog
from workflows.position import PositionState, PositionWorkflow

VECTORS = Path(__file__).resolve().parents[1] / "muon" / "vectors" / "logs.json"


def _close_request_log() -> ChainLog:
    logs = json.loads(VECTORS.read_text())["logs"]
    raw = next(x for x in logs if x["event"] == "RequestToClosePosition")
    return ChainLog(
        address=raw["address"], topics=list(raw["topics"]), data=raw["data"],
        block_number=int(raw["blockNumber"]), tx_hash=raw["transactionHash"],
        log_index=int(raw["logIndex"]), source="ws", block_hash="0x" + "aa" * 32,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _new_code_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Driven outside a workflow, every `workflow.patched` answers as new code does."""
    monkeypatch.setattr("workflows.hedge_base.workflow.patched", lambda _patch_id: True)


def _workflow() -> PositionWorkflow:
    wf = PositionWorkflow()
    wf._begin(PositionState(31337, 1))
    return wf


def _feed(wf: PositionWorkflow, *logs: ChainLog) -> None:
    wf._pending_logs.extend(logs)
    wf._drain_logs()


def test_a_removed_log_takes_back_what_it_applied() -> None:
    wf, log = _workflow(), _close_request_log()
    s = wf._state
    assert s is not None
    _feed(wf, log)
    assert len(s.events_applied) == 1 and len(s.close_ids_seen) == 1
    _feed(wf, replace(log, removed=True))
    assert s.events_applied == [] and s.close_ids_seen == {}
    _feed(wf, log)  # a lagging listener's copy of the orphaned log: ignored
    assert s.events_applied == [] and s.close_ids_seen == {}
    _feed(wf, replace(log, block_hash="0x" + "bb" * 32))  # re-mined in another block
    assert len(s.events_applied) == 1 and len(s.close_ids_seen) == 1


def test_a_removed_log_never_applied_is_not_applied() -> None:
    wf, log = _workflow(), _close_request_log()
    s = wf._state
    assert s is not None
    _feed(wf, replace(log, removed=True))
    assert s.events_applied == [] and s.close_ids_seen == {}


def test_a_copy_of_an_applied_log_wakes_nothing() -> None:
    """Three listeners deliver each log: a lagging one's copy of a log already applied is
    queued (and skipped) but does not wake the workflow for another look at the chain."""
    wf, log = _workflow(), _close_request_log()
    wf.chain_event(log)
    assert wf._wake.is_set()
    wf._drain_logs()
    assert not wf._wake.is_set()
    wf.chain_event(replace(log, source="subgraph"))
    assert not wf._wake.is_set()
    wf.chain_event(replace(log, block_hash="0x" + "bb" * 32))  # the same event in another block
    assert wf._wake.is_set()
    wf._drain_logs()
    wf.chain_event(replace(log, removed=True))  # a reorg took it away
    assert wf._wake.is_set()
