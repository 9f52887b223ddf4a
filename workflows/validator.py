"""`ValidatorWorkflow`: one run of the position validator, started by the `hedger-validator`
Temporal Schedule (task queue `hedger-ops`).

Reads our PartyB's address (from the chain worker, the signer's own answer), one snapshot of
the chain, the broker, the ledger and the live workflows, reconciles them (`domain.reconcile`),
records the findings, resolves those that cleared, and alerts each finding once it persisted
`persist_runs` consecutive runs (a hedge in flight clears sooner), with a resolve message when
it clears. It never trades; the one repair an operator may enable (`auto_repair`,
HEDGER_VALIDATOR_AUTO_REPAIR) cancels a confirmed orphan broker order, recorded and alerted. Its current details in the Temporal UI are its last findings.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.reconcile import (
        FindingKind,
        TrackedFinding,
        alert_key,
        counts_by_kind,
        reconcile,
        track,
    )
    from interfaces.broker import BrokerApi, OrderRef
    from interfaces.chain import ChainApi
    from interfaces.ledger import AlertRow, OpsApi
    from interfaces.temporal import TaskQueues
    from interfaces.validator import (
        VALIDATOR_WORKFLOW,
        ReconcileView,
        RecordRequest,
        SnapshotRequest,
        ValidatorApi,
        ValidatorInput,
        ValidatorResult,
        to_snapshot,
    )

AUTO_REPAIR_PATCH = "validator-auto-repair"
# The snapshot is reconciled in the activity that read it; the workflow gets the findings only
# (a snapshot of ~12,000 open positions was over Temporal's 2 MB payload limit).
RECONCILE_IN_ACTIVITY_PATCH = "validator-reconcile-in-activity"

# A run that cannot read a side fails after a few tries; the next scheduled run tries again.
READ_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10),
    maximum_attempts=4,
)  # fmt: skip
WRITE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=15),
    maximum_attempts=10,
)  # fmt: skip
READ_TIMEOUT = timedelta(seconds=120)
WRITE_TIMEOUT = timedelta(seconds=30)
DETAIL_LINES = 20
VALIDATOR_KINDS = frozenset(kind.value for kind in FindingKind)


async def our_party_b() -> str:
    """Our PartyB's address, from the chain worker (the signer's own answer)."""
    return await workflow.execute_activity_method(
        ChainApi.party_b_address, task_queue=TaskQueues.CHAIN,
        start_to_close_timeout=timedelta(seconds=20), retry_policy=READ_RETRY,
    )  # fmt: skip


async def raise_alerts(rows: list[AlertRow]) -> None:
    """Raise each alert through `ops_raise_alert`, in order (deduplicated by its key there)."""
    for row in rows:
        await workflow.execute_activity_method(
            OpsApi.raise_alert, row, task_queue=TaskQueues.OPS,
            start_to_close_timeout=WRITE_TIMEOUT, retry_policy=WRITE_RETRY,
            summary=f"alert {row.dedupe_key}",
        )  # fmt: skip


def finding_alert(tracked: TrackedFinding, *, resolved: bool = False) -> AlertRow:
    """The alert of a finding (or its resolve message), deduplicated per occurrence."""
    f = tracked.finding
    context = {
        "finding": f.key, "symbol": f.symbol, "quote_ids": f.quote_ids, "detail": f.detail,
        "first_seen": tracked.first_seen, "runs": tracked.seen_runs,
    }  # fmt: skip
    if resolved:
        return AlertRow(f"validator_{f.kind}", "info", f"resolved: {f.message}", context,
                        alert_key(tracked, resolved=True))  # fmt: skip
    return AlertRow(f"validator_{f.kind}", f.severity, f.message, context, alert_key(tracked))


@workflow.defn(name=VALIDATOR_WORKFLOW)
class ValidatorWorkflow:
    def __init__(self) -> None:
        self._result: ValidatorResult | None = None

    @workflow.query(name="state")
    def state(self) -> ValidatorResult | None:
        return self._result

    @workflow.run
    async def run(self, params: ValidatorInput) -> ValidatorResult:
        info = workflow.info()
        workflow.set_current_details("reading the chain, the broker, the ledger and workflows")
        party_b = await our_party_b()
        found = await self._reconcile(party_b)
        previous = await workflow.execute_activity_method(
            ValidatorApi.open_findings, task_queue=TaskQueues.OPS,
            start_to_close_timeout=WRITE_TIMEOUT, retry_policy=WRITE_RETRY,
        )  # fmt: skip
        # the table holds the balance manager's findings too: those are not ours to resolve
        ours = [t for t in previous if t.finding.kind in VALIDATOR_KINDS]
        now = workflow.now().timestamp()
        tracking = track(ours, found.findings, now, params.persist_runs)
        await workflow.execute_activity_method(
            ValidatorApi.record, RecordRequest(info.workflow_id, now, tracking.open, tracking.resolved),
            task_queue=TaskQueues.OPS, start_to_close_timeout=WRITE_TIMEOUT, retry_policy=WRITE_RETRY,
            summary=f"record {len(tracking.open)} open, {len(tracking.resolved)} resolved",
        )  # fmt: skip
        alerts = [finding_alert(t) for t in tracking.to_alert]
        alerts += [finding_alert(t, resolved=True) for t in tracking.resolved if t.alerted]
        repaired: list[str] = []
        if params.auto_repair and workflow.patched(AUTO_REPAIR_PATCH):
            for tracked in tracking.open:
                if not self._repairable(tracked, params):
                    continue
                row = await self._repair(tracked)
                alerts.append(row)
                if row.severity == "info":
                    repaired.append(tracked.finding.key)
        await raise_alerts(alerts)
        self._result = ValidatorResult(
            run_id=info.workflow_id,
            open_by_kind=counts_by_kind(tracking.open),
            alerted=[t.finding.key for t in tracking.to_alert],
            resolved=[t.finding.key for t in tracking.resolved],
            repaired=repaired,
        )
        workflow.set_current_details(self._details(tracking.open, found.positions, found.party_as))
        return self._result

    @staticmethod
    async def _reconcile(party_b: str) -> ReconcileView:
        """The findings of one snapshot; runs started before the patch reconciled the whole
        snapshot here."""
        if workflow.patched(RECONCILE_IN_ACTIVITY_PATCH):
            return await workflow.execute_activity_method(
                ValidatorApi.reconcile, SnapshotRequest(party_b), task_queue=TaskQueues.OPS,
                start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY,
                summary="reconcile chain, broker, ledger and live workflows",
            )  # fmt: skip
        view = await workflow.execute_activity_method(
            ValidatorApi.snapshot, SnapshotRequest(party_b), task_queue=TaskQueues.OPS,
            start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY,
            summary="snapshot of chain, broker, ledger and live workflows",
        )  # fmt: skip
        return ReconcileView(party_b, reconcile(to_snapshot(view)), len(view.chain), view.party_as)

    @staticmethod
    def _repairable(tracked: TrackedFinding, params: ValidatorInput) -> bool:
        """Confirmed (seen on `persist_runs` runs, as an alert is) and of a class the operator
        enabled; only an orphan order has a repair."""
        kind = tracked.finding.kind
        return (
            kind == FindingKind.ORPHAN_BROKER_ORDER
            and kind in params.auto_repair
            and tracked.seen_runs >= params.persist_runs
            and bool(tracked.finding.symbol)
        )

    @staticmethod
    async def _repair(tracked: TrackedFinding) -> AlertRow:
        """Cancel the orphan order (idempotent: cancelling a cancelled order is a no-op at the
        broker activity); the repair is an alert row of its own, keyed per occurrence."""
        f = tracked.finding
        client_id = str(f.detail.get("client_order_id", f.key.split(":", 1)[1]))
        key = f"repair:{alert_key(tracked)}"
        context = {"key": f.key, "symbol": f.symbol, "client_order_id": client_id}
        try:
            await workflow.execute_activity_method(
                BrokerApi.cancel_order, OrderRef(f.symbol or "", client_id),
                task_queue=TaskQueues.BROKER, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=READ_RETRY, summary=f"auto-repair: cancel {client_id}",
            )  # fmt: skip
        except ActivityError as exc:
            cause = exc.cause if exc.cause is not None else exc
            return AlertRow("validator_repair_failed", "warning",
                            f"auto-repair of {f.key} failed: {cause}", context, key)  # fmt: skip
        return AlertRow("validator_repair", "info",
                        f"auto-repair: cancelled orphan broker order {client_id} ({f.symbol})",
                        context, key)  # fmt: skip

    @staticmethod
    def _details(open_findings: list[TrackedFinding], positions: int, party_as: int) -> str:
        head = (
            f"{len(open_findings)} open finding(s); {positions} chain position(s) of "
            f"{party_as} PartyA(s) checked"
        )
        lines = [head]
        for t in open_findings[:DETAIL_LINES]:
            mark = "ALERTED" if t.alerted else f"seen {t.seen_runs}x"
            lines.append(f"- [{t.finding.severity}] {t.finding.message} ({mark})")
        if len(open_findings) > DETAIL_LINES:
            lines.append(
                f"- ... and {len(open_findings) - DETAIL_LINES} more (GET /admin/findings)"
            )
        return "\n".join(lines)
