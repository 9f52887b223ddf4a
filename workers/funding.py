"""Funding on the ops worker: its read activities and its Temporal Schedule (`hedger-funding`).

`ensure_funding_schedule` runs when the ops worker starts, like the validator's: it creates the
Schedule or updates its interval and action (an operator's pause is kept; runs never overlap).
Interval `funding_interval_seconds`; 0 pauses it.
"""

from __future__ import annotations

from temporalio.client import Client, Schedule, ScheduleActionStartWorkflow

from activities.funding import FundingActivities
from activities.validator import ValidatorActivities
from config.settings import Settings
from interfaces.funding import FUNDING_SCHEDULE_ID, FundingInput, funding_workflow_id
from interfaces.temporal import TaskQueues
from workers.validator import RUN_TIMEOUT, _paused_note, _schedule, ensure_schedule
from workflows.funding import FundingWorkflow


def funding_activities(reads: ValidatorActivities) -> FundingActivities:
    """On the validator's chain and broker clients; the PartyAs the ledger knows."""
    return FundingActivities(lambda: reads.chain, lambda: reads.broker, reads.ledger_party_as)


def funding_schedule(settings: Settings, task_queue: str = TaskQueues.OPS) -> Schedule:
    action = ScheduleActionStartWorkflow(
        FundingWorkflow.run,
        FundingInput(
            settings.chain_id, format(settings.funding_spread, "f"), ops_queue=task_queue
        ),  # fmt: skip
        id=funding_workflow_id(settings.chain_id),
        task_queue=task_queue,
        execution_timeout=RUN_TIMEOUT,
        static_summary="funding: chargeFundingRate of open quotes in their window",
    )
    return _schedule(action, settings.funding_interval_seconds, "funding_interval_seconds")


async def ensure_funding_schedule(
    client: Client, settings: Settings, *, task_queue: str = TaskQueues.OPS
) -> None:
    await ensure_schedule(client, FUNDING_SCHEDULE_ID, funding_schedule(settings, task_queue),
                          _paused_note("funding_interval_seconds"))  # fmt: skip
