"""The position validator on the ops worker: its activities, and its Temporal Schedule.

`ensure_validator_schedule` runs when the ops worker starts: it creates the `hedger-validator`
Schedule, or updates its interval and action if it exists (an operator's pause from the
Temporal UI is kept). Runs never overlap (a run still going when the next is due skips it).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from activities.validator import ValidatorActivities, refresh_open_findings_gauge
from adapters.broker.adapter import BrokerAdapter
from adapters.broker.client import BrokerConfig
from adapters.chain.client import ChainClient
from config.settings import Settings
from interfaces.temporal import TaskQueues
from interfaces.validator import VALIDATOR_SCHEDULE_ID, ValidatorInput, validator_workflow_id
from workflows.validator import ValidatorWorkflow

log = logging.getLogger(__name__)

RUN_TIMEOUT = timedelta(minutes=10)
GAUGE_REFRESH_SECONDS = 30.0
PAUSED_NOTE = "paused: HEDGER_VALIDATOR_INTERVAL_SECONDS=0"


def build_validator_activities(
    client: Client, settings: Settings, engine: AsyncEngine
) -> ValidatorActivities:
    return ValidatorActivities(
        engine,
        client,
        settings.chain_id,
        chain=lambda: ChainClient.from_settings(settings),
        broker=lambda: BrokerAdapter.from_config(BrokerConfig.from_settings(settings)),
    )


def validator_schedule(settings: Settings, task_queue: str = TaskQueues.OPS) -> Schedule:
    interval = settings.validator_interval_seconds
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ValidatorWorkflow.run,
            ValidatorInput(settings.chain_id),
            id=validator_workflow_id(settings.chain_id),
            task_queue=task_queue,
            execution_timeout=RUN_TIMEOUT,
            static_summary="position validator: chain vs broker vs ledger",
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=interval or 60))]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(
            paused=interval == 0,
            note=PAUSED_NOTE if interval == 0 else None,
        ),
    )


async def ensure_validator_schedule(
    client: Client,
    settings: Settings,
    *,
    schedule_id: str = VALIDATOR_SCHEDULE_ID,
    task_queue: str = TaskQueues.OPS,
) -> None:
    """Create the validator's Schedule, or bring an existing one up to date (idempotent)."""
    wanted = validator_schedule(settings, task_queue)
    try:
        await client.create_schedule(schedule_id, wanted)
        log.info(
            "schedule %s created (every %ss)", schedule_id, settings.validator_interval_seconds
        )
        return
    except ScheduleAlreadyRunningError:
        pass

    def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
        state = current.description.schedule.state
        if settings.validator_interval_seconds == 0 or state.note == PAUSED_NOTE:
            state = wanted.state  # paused by configuration, or no longer
        return ScheduleUpdate(schedule=replace(wanted, state=state))

    await client.get_schedule_handle(schedule_id).update(update)
    log.info("schedule %s updated (every %ss)", schedule_id, settings.validator_interval_seconds)


async def refresh_findings_gauge(engine: AsyncEngine, stop: asyncio.Event) -> None:
    """Until `stop`: keep this process's open-findings gauge in step with the table."""
    while not stop.is_set():
        try:
            await refresh_open_findings_gauge(engine)
        except Exception as exc:  # noqa: BLE001 - a metric, never worth stopping the worker
            log.warning("validator findings gauge not refreshed: %s", exc)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), GAUGE_REFRESH_SECONDS)
