"""Operator actions on intent/position workflows through Temporal (DESIGN §6).

Shared by the admin API and `hedger ops`: deliver `retry` / `unwind` / `abandon` (payload
`OperatorCommand{reason, operator}`) to the workflow of a quote, and list STUCK workflows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import quote as urlquote

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from domain.ids import intent_workflow_id, position_workflow_id
from interfaces.temporal import SearchAttributes
from interfaces.workflows import SIGNAL_ABANDON, SIGNAL_RETRY, SIGNAL_UNWIND, OperatorCommand

STUCK_QUERY = 'HedgeStatus="STUCK" AND ExecutionStatus="Running"'


class Action(StrEnum):
    RETRY = SIGNAL_RETRY
    UNWIND = SIGNAL_UNWIND
    ABANDON = SIGNAL_ABANDON


class WorkflowKind(StrEnum):
    INTENT = "intent"
    POSITION = "position"


class WorkflowNotFound(LookupError):
    pass


class WorkflowNotRunning(RuntimeError):
    pass


@dataclass(frozen=True)
class SignalResult:
    workflow_id: str
    run_id: str | None
    kind: WorkflowKind
    signal: str


def workflow_id_for(kind: WorkflowKind, chain_id: int, quote_id: int) -> str:
    if kind is WorkflowKind.INTENT:
        return intent_workflow_id(chain_id, quote_id)
    return position_workflow_id(chain_id, quote_id)


async def _status(
    client: Client, workflow_id: str
) -> tuple[WorkflowExecutionStatus | None, str | None]:
    """(status, run id) of the latest run, or (None, None) when no such workflow exists."""
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None, None
        raise
    return desc.status, desc.run_id


async def signal_quote(
    client: Client,
    chain_id: int,
    quote_id: int,
    action: Action | str,
    reason: str,
    operator: str,
    kind: WorkflowKind | str | None = None,
) -> SignalResult:
    """Signal the running workflow of `quote_id`. Without `kind`, the position workflow is tried
    first, then the intent workflow. Raises WorkflowNotFound / WorkflowNotRunning."""
    signal = Action(action).value
    kinds = [WorkflowKind(kind)] if kind else [WorkflowKind.POSITION, WorkflowKind.INTENT]
    closed: list[str] = []
    for k in kinds:
        wid = workflow_id_for(k, chain_id, quote_id)
        status, run_id = await _status(client, wid)
        if status is None:
            continue
        if status != WorkflowExecutionStatus.RUNNING:
            closed.append(f"{wid} is {status.name}")
            continue
        handle = client.get_workflow_handle(wid, run_id=run_id)
        try:
            await handle.signal(signal, OperatorCommand(reason=reason, operator=operator))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:  # closed between describe and signal
                closed.append(f"{wid} closed before the signal")
                continue
            raise
        return SignalResult(wid, run_id, k, signal)
    if closed:
        raise WorkflowNotRunning("; ".join(closed))
    tried = ", ".join(workflow_id_for(k, chain_id, quote_id) for k in kinds)
    raise WorkflowNotFound(f"no workflow for quote {quote_id} (tried {tried})")


@dataclass(frozen=True)
class StuckWorkflow:
    workflow_id: str
    run_id: str
    workflow_type: str
    quote_id: int | None
    symbol: str | None
    party_a: str | None
    start_time: datetime | None
    url: str

    def as_json(self) -> dict[str, object]:
        return {
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "workflow_type": self.workflow_type,
            "quote_id": self.quote_id,
            "symbol": self.symbol,
            "party_a": self.party_a,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "url": self.url,
        }


def ui_link(ui_url: str, namespace: str, workflow_id: str) -> str:
    return f"{ui_url.rstrip('/')}/namespaces/{urlquote(namespace, safe='')}/workflows/{urlquote(workflow_id, safe='')}"


async def list_stuck(client: Client, ui_url: str, limit: int = 500) -> list[StuckWorkflow]:
    """Running workflows whose `HedgeStatus` search attribute is STUCK (visibility query)."""
    out: list[StuckWorkflow] = []
    async for wf in client.list_workflows(STUCK_QUERY, limit=limit):
        attrs = wf.typed_search_attributes
        out.append(
            StuckWorkflow(
                workflow_id=wf.id,
                run_id=wf.run_id,
                workflow_type=wf.workflow_type,
                quote_id=attrs.get(SearchAttributes.QUOTE_ID),
                symbol=attrs.get(SearchAttributes.SYMBOL),
                party_a=attrs.get(SearchAttributes.PARTY_A),
                start_time=wf.start_time,
                url=ui_link(ui_url, client.namespace, wf.id),
            )
        )
    return out
