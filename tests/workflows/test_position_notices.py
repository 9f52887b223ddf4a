"""What the position workflow tells the trader's front-end from chain events: a cancel-close
accepted (a real log captured from protocol-core), a third party's force-close, a liquidation
of PartyA or of our PartyB; each once, and nothing at all in runs started before the patch.
(The workflow's event handling driven directly, as in test_removed_events; the e2e test
tests/e2e/test_notifications_steps.py follows the cancel-close through the websocket.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow

from domain import events as ev
from domain.enums import QuoteStatus
from interfaces.ledger import NotificationRow
from interfaces.workflows import ChainLog
from workflows.position import NOTIFY_CLOSE_STEPS_PATCH, PositionState, PositionWorkflow

VECTORS = Path(__file__).resolve().parents[1] / "muon" / "vectors" / "logs.json"
PARTY_A = "0x00000000000000000000000000000000000000A1"
US = "0x00000000000000000000000000000000000000B1"
W = 10**18


def _log(event: str) -> tuple[ChainLog, int]:
    logs = json.loads(VECTORS.read_text())["logs"]
    raw = next(x for x in logs if x["event"] == event)
    chain_log = ChainLog(
        address=raw["address"], topics=list(raw["topics"]), data=raw["data"],
        block_number=int(raw["blockNumber"]), tx_hash=raw["transactionHash"],
        log_index=int(raw["logIndex"]), source="ws", block_hash="0x" + "aa" * 32,
    )  # fmt: skip
    return chain_log, int(raw["args"]["quoteId"])


def _workflow(
    monkeypatch: pytest.MonkeyPatch, quote_id: int, *, patched: bool = True
) -> tuple[PositionWorkflow, list[NotificationRow]]:
    asked: list[str] = []

    def fake_patched(patch_id: str) -> bool:
        asked.append(patch_id)
        return patched

    monkeypatch.setattr(workflow, "patched", fake_patched)
    wf = PositionWorkflow()
    wf._begin(PositionState(31337, quote_id))
    assert wf._state is not None
    wf._state.quote = {"party_a": PARTY_A, "order_type": "LIMIT"}
    wf._state.close_key = f"{1000 * W}:1700000000"
    written: list[NotificationRow] = []
    wf._write = lambda row: written.append(row)  # type: ignore[assignment,method-assign,return-value]
    return wf, written


def _event(cls: type[ev.SymmioEvent], n: int = 1, *, legacy: bool = False, **fields: Any) -> Any:
    key = ev.EventKey(100 + n, "0x" + f"{n:064x}", 0)
    return cls(key=key, address=US, topic0="0x0", signature="", legacy=legacy, **fields)  # type: ignore[call-arg]


def test_an_accepted_cancel_close_is_told_once(monkeypatch: pytest.MonkeyPatch) -> None:
    log, quote_id = _log("AcceptCancelCloseRequest")
    wf, written = _workflow(monkeypatch, quote_id)
    wf._pending_logs.append(log)
    wf._drain_logs()
    wf._notify_close_cancelled(PARTY_A)  # the workflow's own accept returned too: no second one
    assert len(written) == 1
    n = written[0]
    assert (n.quote_id, n.counterparty_address) == (quote_id, PARTY_A)
    assert (n.last_seen_action, n.action_status, n.state_type) == (
        "RequestToCancelCloseRequest", "success", "alert",
    )  # fmt: skip


def test_a_force_close_is_told_with_its_amount_and_price(monkeypatch: pytest.MonkeyPatch) -> None:
    wf, written = _workflow(monkeypatch, 5)
    fields = dict(quote_id=5, party_a=PARTY_A, party_b=US, filled_amount=W // 100,
                  closed_price=51_000 * W, quote_status=QuoteStatus.CLOSED)  # fmt: skip
    wf._apply_event(_event(ev.ForceClosePosition, legacy=True, **fields), None)  # type: ignore[arg-type]
    wf._apply_event(_event(ev.ForceClosePosition, **fields), None)  # type: ignore[arg-type]
    wf._apply_event(_event(ev.ForceClosePosition, **fields), None)  # type: ignore[arg-type]
    assert len(written) == 1  # the legacy twin and a repeat tell nothing more
    n = written[0]
    assert (n.last_seen_action, n.action_status, n.state_type, n.failure_type) == (
        "FillLimitOrderClose", "success", "alert", "FORCE_CLOSED",
    )  # fmt: skip
    assert (n.filled_amount_close, n.avg_price_close) == ("0.01", "51000")
    assert n.order_type == 0  # the LIMIT close request it filled


@pytest.mark.parametrize(
    ("cls", "failure_type"),
    [
        (ev.LiquidatePositionsPartyA, "PARTY_A_LIQUIDATED"),
        (ev.LiquidatePositionsPartyB, "PARTY_B_LIQUIDATED"),
    ],
)
def test_a_liquidation_of_this_position_is_told_once(
    monkeypatch: pytest.MonkeyPatch, cls: type[ev.SymmioEvent], failure_type: str
) -> None:
    wf, written = _workflow(monkeypatch, 5)
    extra = {"party_b": US} if cls is ev.LiquidatePositionsPartyB else {}
    other = _event(cls, 1, liquidator=US, party_a=PARTY_A, quote_ids=(4,),
                   liquidated_amounts=(W,), **extra)  # fmt: skip
    ours = _event(cls, 2, liquidator=US, party_a=PARTY_A, quote_ids=(4, 5),
                  liquidated_amounts=(W, 3 * W // 100), **extra)  # fmt: skip
    wf._apply_event(other, None)  # type: ignore[arg-type]
    assert written == []  # another quote's liquidation
    wf._apply_event(ours, None)  # type: ignore[arg-type]
    wf._notify_liquidated(PARTY_A, None, None)  # the chain shows LIQUIDATED afterwards: once
    assert len(written) == 1
    n = written[0]
    assert (n.last_seen_action, n.action_status, n.state_type, n.failure_type) == (
        "LiquidatePosition", "success", "alert", failure_type,
    )  # fmt: skip
    assert n.filled_amount_close == "0.03"


def test_runs_before_the_patch_tell_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    log, quote_id = _log("AcceptCancelCloseRequest")
    wf, written = _workflow(monkeypatch, quote_id, patched=False)
    wf._pending_logs.append(log)
    wf._drain_logs()
    wf._apply_event(
        _event(ev.LiquidatePositionsPartyA, liquidator=US, party_a=PARTY_A, quote_ids=(quote_id,)),
        None,  # type: ignore[arg-type]
    )
    assert written == []
    assert NOTIFY_CLOSE_STEPS_PATCH == "notify-close-steps"
