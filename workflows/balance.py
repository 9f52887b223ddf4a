"""`BalanceWorkflow`: one run of the balance manager, started by the `hedger-balance` Schedule
(task queue `hedger-ops`).

Reads PartyB's balance per PartyA and the broker account's collateral (published as gauges
too), and keeps the broker's free collateral inside its band: below it, a `broker_margin_low`
alert (once per episode); back inside, the resolve message. The episode is a finding in
`validator_findings`, tracked like the validator's.

With allocation bands (`allocation_target` > 0), it also keeps PartyB's headroom towards each
PartyA inside them: one `chain_rebalance_party_b` per PartyA on `hedger-chain` (decided and
sent there, inside the pair lock, keyed by this run so a retry sends nothing twice), each action
recorded as an info alert; a headroom the free balance cannot bring up to `low` is a
`partyb_allocation_low` finding. `dry_run` reports what it would do. It never sends an order.

With `health_min_buffer` > 0 it reads PartyB's liquidation buffer towards each PartyA
(`chain_party_b_health`) and keeps a `partyb_health_low` finding (critical, alerted, resolved)
while the buffer is below it: the warning comes before `liquidatePartyB` can.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.balance import (
        BALANCE_KINDS,
        NOTHING,
        AllocationBands,
        AllocationDecision,
        allocation_findings,
        health_findings,
        margin_findings,
    )
    from domain.reconcile import track
    from interfaces.balance import (
        BALANCE_WORKFLOW,
        BalanceApi,
        BalanceInput,
        BalanceRequest,
        BalanceResult,
    )
    from interfaces.chain import ChainApi, RebalanceRequest, RebalanceResult
    from interfaces.ledger import AlertRow
    from interfaces.temporal import TaskQueues
    from interfaces.validator import RecordRequest, ValidatorApi

from workflows.validator import (
    READ_RETRY,
    READ_TIMEOUT,
    WRITE_RETRY,
    WRITE_TIMEOUT,
    finding_alert,
    our_party_b,
    raise_alerts,
)

BANDS_PATCH = "balance-allocation-bands"
HEALTH_PATCH = "balance-party-b-health"
# A rebalance that cannot go through is retried a few times, then reported; the next run tries again.
REBALANCE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
)  # fmt: skip
REBALANCE_TIMEOUT = timedelta(seconds=120)
REBALANCE_HEARTBEAT = timedelta(seconds=15)


def action_alert(run_id: str, r: RebalanceResult) -> AlertRow:
    """The info row of one allocation action (deduplicated per run and PartyA)."""
    verb = {"allocate": "allocated", "deallocate": "deallocated"}.get(r.action, r.action)
    amount = r.amount or "(as sent by an earlier attempt)"
    message = f"PartyB {verb} {amount} for PartyA {r.party_a}: {r.reason}"
    if r.dry_run:
        message = f"dry run: would have {verb} {amount} for PartyA {r.party_a}: {r.reason}"
    context = {"party_a": r.party_a, "amount": r.amount, "headroom": r.headroom,
               "tx_hash": r.tx_hash, "dry_run": r.dry_run}  # fmt: skip
    key = f"balance:{run_id}:{r.party_a}:{r.action}"
    return AlertRow(f"balance_{r.action}", "info", message, context, key)


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
        party_b = await our_party_b()
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
        try:
            bands = AllocationBands(
                d(params.allocation_low), d(params.allocation_target), d(params.allocation_high),
                d(params.allocation_margin),
            )  # fmt: skip
        except (ArithmeticError, ValueError) as exc:
            raise ApplicationError(f"allocation bands: {exc}", non_retryable=True) from None
        min_buffer = d(params.health_min_buffer)
        if min_buffer > 0 and workflow.patched(HEALTH_PATCH):
            for party in view.party_as:
                health = await workflow.execute_activity_method(
                    ChainApi.party_b_health, party.party_a, task_queue=TaskQueues.CHAIN,
                    start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY,
                    summary=f"PartyB health towards PartyA {party.party_a}",
                )  # fmt: skip
                findings += health_findings(
                    party.party_a, d(health.buffer), d(health.upnl), min_buffer
                )
        actions: list[RebalanceResult] = []
        action_alerts: list[AlertRow] = []
        if bands.enabled and workflow.patched(BANDS_PATCH):
            for party in view.party_as:
                try:
                    r = await workflow.execute_activity_method(
                        ChainApi.rebalance_party_b,
                        RebalanceRequest(
                            party.party_a, params.allocation_low, params.allocation_target,
                            params.allocation_high, params.allocation_margin,
                            key=f"balance:{info.run_id}", dry_run=params.dry_run,
                        ),
                        task_queue=TaskQueues.CHAIN, start_to_close_timeout=REBALANCE_TIMEOUT,
                        heartbeat_timeout=REBALANCE_HEARTBEAT, retry_policy=REBALANCE_RETRY,
                        summary=f"allocation band for PartyA {party.party_a}",
                    )  # fmt: skip
                except ActivityError as exc:
                    cause = exc.cause if exc.cause is not None else exc
                    action_alerts.append(AlertRow(
                        "balance_rebalance_failed", "warning",
                        f"allocation band for PartyA {party.party_a} not kept: {cause}",
                        {"party_a": party.party_a},
                        f"balance:{info.run_id}:{party.party_a}:failed",
                    ))  # fmt: skip
                    continue
                actions.append(r)
                decision = AllocationDecision(r.action, d(r.amount or "0"), d(r.headroom or "0"),
                                              r.reason, d(r.short))  # fmt: skip
                findings += allocation_findings(party.party_a, decision, bands)
                if r.action != NOTHING and (r.tx_hash or r.dry_run):
                    action_alerts.append(action_alert(info.run_id, r))
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
        alerts = [*action_alerts, *(finding_alert(t) for t in tracking.to_alert)]
        alerts += [finding_alert(t, resolved=True) for t in tracking.resolved if t.alerted]
        await raise_alerts(alerts)
        self._result = BalanceResult(
            info.workflow_id, view, [t.finding.key for t in tracking.to_alert],
            [t.finding.key for t in tracking.resolved], actions,
        )  # fmt: skip
        lines = [
            f"broker {params.asset}: free {view.broker_free}, used {view.broker_used}, "
            f"total {view.broker_total} (band: free >= {params.min_free_collateral})",
            f"PartyB deposited {view.deposited}; {len(view.party_as)} PartyA(s)",
            *[f"- {t.finding.message}" for t in tracking.open],
            *[f"- PartyA {r.party_a}: {r.action} {r.amount} ({r.reason})" for r in actions],
        ]
        workflow.set_current_details("\n".join(lines))
        return self._result
