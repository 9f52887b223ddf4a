"""`BalanceWorkflow`: one run of the balance manager, started by the `hedger-balance` Schedule
(task queue `hedger-ops`).

Reads PartyB's balance per PartyA and the broker account's collateral (published as gauges
too), and keeps the broker's free collateral inside its band: below it, a `broker_margin_low`
alert (once per episode); back inside, the resolve message. The episode is a finding in
`validator_findings`, tracked like the validator's. It sends no transaction and no order.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.balance import BALANCE_KINDS, margin_findings
    from domain.reconcile import track
    from interfaces.balance import (
        BALANCE_WORKFLOW,
        BalanceApi,
        BalanceInput,
        BalanceRequest,
        BalanceResult,
    )
    from interfaces.chain import ChainApi
    from interfaces.ledger import OpsApi
    from interfaces.temporal import TaskQueues
    from interfaces.validator import RecordRequest, ValidatorApi

from workflows.validator import READ_RETRY, READ_TIMEOUT, WRITE_RETRY, WRITE_TIMEOUT, finding_alert


@workflow.defn(name=BALANCE_WORKFLOW)
class BalanceWorkflow:
    def __init__(self) -> None:
        self._result: BalanceResult | None = None

    @workflow.query(name="state")
    def state(self) -> BalanceResult | None:
        return self._result

    @workflow.run
    async def run(self, params: BalanceInput) -> BalanceResult:
        info = workflow.info()
        party_b = await workflow.execute_activity_method(
            ChainApi.party_b_address, task_queue=TaskQueues.CHAIN,
            start_to_close_timeout=timedelta(seconds=20), retry_policy=READ_RETRY,
        )  # fmt: skip
        view = await workflow.execute_activity_method(
            BalanceApi.snapshot, BalanceRequest(party_b, params.asset), task_queue=TaskQueues.OPS,
            start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY,
            summary="PartyB allocations per PartyA, broker collateral",
        )  # fmt: skip
        d = Decimal
        findings = margin_findings(
            params.asset, d(view.broker_free), d(view.broker_used), d(view.broker_total),
            d(params.min_free_collateral),
        )  # fmt: skip
        previous = await workflow.execute_activity_method(
            ValidatorApi.open_findings, task_queue=TaskQueues.OPS,
            start_to_close_timeout=WRITE_TIMEOUT, retry_policy=WRITE_RETRY,
        )  # fmt: skip
        mine = [t for t in previous if t.finding.kind in BALANCE_KINDS]
        now = workflow.now().timestamp()
        tracking = track(mine, findings, now, persist_runs=1)
        await workflow.execute_activity_method(
            ValidatorApi.record, RecordRequest(info.workflow_id, now, tracking.open, tracking.resolved),
            task_queue=TaskQueues.OPS, start_to_close_timeout=WRITE_TIMEOUT, retry_policy=WRITE_RETRY,
        )  # fmt: skip
        alerts = [finding_alert(t) for t in tracking.to_alert]
        alerts += [finding_alert(t, resolved=True) for t in tracking.resolved if t.alerted]
        for row in alerts:
            await workflow.execute_activity_method(
                OpsApi.raise_alert, row, task_queue=TaskQueues.OPS,
                start_to_close_timeout=WRITE_TIMEOUT, retry_policy=WRITE_RETRY,
                summary=f"alert {row.dedupe_key}",
            )  # fmt: skip
        self._result = BalanceResult(
            info.workflow_id, view, [t.finding.key for t in tracking.to_alert],
            [t.finding.key for t in tracking.resolved],
        )  # fmt: skip
        lines = [
            f"broker {params.asset}: free {view.broker_free}, used {view.broker_used}, "
            f"total {view.broker_total} (band: free >= {params.min_free_collateral})",
            f"PartyB deposited {view.deposited}; {len(view.party_as)} PartyA(s)",
            *[f"- {t.finding.message}" for t in tracking.open],
        ]
        workflow.set_current_details("\n".join(lines))
        return self._result
