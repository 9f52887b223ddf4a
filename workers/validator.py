"""The position validator and the balance manager on the ops worker: their activities, and
their Temporal Schedules.

`ensure_validator_schedule` runs when the ops worker starts: it creates the `hedger-validator`
and `hedger-balance` Schedules, or updates their interval and action if they exist (an
operator's pause from the Temporal UI is kept). Runs never overlap (a run still going when the
next is due skips it).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

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

from activities.balance import BalanceActivities
from activities.validator import ValidatorActivities, refresh_open_findings_gauge
from adapters.broker.adapter import BrokerAdapter
from adapters.broker.client import BrokerConfig
from adapters.chain.client import ChainClient
from config.settings import Settings
from domain.balance import AllocationBands
from interfaces.balance import BALANCE_SCHEDULE_ID, BalanceInput, balance_workflow_id
from interfaces.temporal import TaskQueues
from interfaces.validator import (
    REPAIRABLE,
    VALIDATOR_SCHEDULE_ID,
    ValidatorInput,
    validator_workflow_id,
)
from workflows.balance import BalanceWorkflow
from workflows.validator import ValidatorWorkflow

log = logging.getLogger(__name__)

RUN_TIMEOUT = timedelta(minutes=10)
GAUGE_REFRESH_SECONDS = 30.0


class ValidatorReads:
    """The validator's and the balance manager's activities around one pair of read-only chain
    and broker clients (built on first use); `close` them when the worker stops."""

    def __init__(self, client: Client, settings: Settings, engine: AsyncEngine) -> None:
        self.reads = ValidatorActivities(
            engine,
            client,
            settings.chain_id,
            chain=lambda: ChainClient.from_settings(settings),
            broker=lambda: BrokerAdapter.from_config(BrokerConfig.from_settings(settings)),
        )
        self.balance = BalanceActivities(self.reads)

    def activities(self) -> list[Any]:
        return [*self.reads.activities(), *self.balance.activities()]

    async def close(self) -> None:
        await self.reads.close()


def _paused_note(variable: str) -> str:
    return f"paused: HEDGER_{variable.upper()}=0"


def _schedule(action: ScheduleActionStartWorkflow, interval: int, variable: str) -> Schedule:
    return Schedule(
        action=action,
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=interval or 60))]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(
            paused=interval == 0, note=_paused_note(variable) if interval == 0 else None
        ),
    )


def repair_classes(settings: Settings) -> list[str]:
    """The auto-repair classes, checked at worker start (an unknown class stops it)."""
    unknown = set(settings.validator_auto_repair) - set(REPAIRABLE)
    if unknown:
        raise ValueError(
            f"HEDGER_VALIDATOR_AUTO_REPAIR: no repair for {sorted(unknown)}; "
            f"repairable: {sorted(REPAIRABLE)}"
        )
    return list(settings.validator_auto_repair)


def validator_schedule(settings: Settings, task_queue: str = TaskQueues.OPS) -> Schedule:
    action = ScheduleActionStartWorkflow(
        ValidatorWorkflow.run,
        ValidatorInput(settings.chain_id, auto_repair=repair_classes(settings)),
        id=validator_workflow_id(settings.chain_id),
        task_queue=task_queue,
        execution_timeout=RUN_TIMEOUT,
        static_summary="position validator: chain vs broker vs ledger",
    )
    return _schedule(action, settings.validator_interval_seconds, "validator_interval_seconds")


def balance_input(settings: Settings) -> BalanceInput:
    """The balance run's input from settings (the bands validated here, at worker start)."""
    low, target = settings.balance_allocation_low, settings.balance_allocation_target
    high, margin = settings.balance_allocation_high, settings.balance_allocation_margin
    AllocationBands(low, target, high, margin)  # raises on inconsistent bands

    def s(value: Decimal) -> str:
        return format(value, "f")

    return BalanceInput(
        settings.chain_id, s(settings.balance_min_free_collateral),
        allocation_low=s(low), allocation_target=s(target), allocation_high=s(high),
        allocation_margin=s(margin), dry_run=settings.balance_dry_run,
        health_min_buffer=s(settings.balance_health_min_buffer),
    )  # fmt: skip


def balance_schedule(settings: Settings, task_queue: str = TaskQueues.OPS) -> Schedule:
    action = ScheduleActionStartWorkflow(
        BalanceWorkflow.run,
        balance_input(settings),
        id=balance_workflow_id(settings.chain_id),
        task_queue=task_queue,
        execution_timeout=RUN_TIMEOUT,
        static_summary="balance manager: PartyB allocation bands, broker margin band",
    )
    return _schedule(action, settings.balance_interval_seconds, "balance_interval_seconds")


async def ensure_schedule(
    client: Client, schedule_id: str, wanted: Schedule, paused_note: str
) -> None:
    """Create the Schedule, or bring an existing one up to date (idempotent). An operator's
    pause is kept, unless configuration pauses it (or did, and no longer does)."""
    try:
        await client.create_schedule(schedule_id, wanted)
        log.info("schedule %s created", schedule_id)
        return
    except ScheduleAlreadyRunningError:
        pass

    def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
        state = current.description.schedule.state
        if wanted.state.paused or state.note == paused_note:
            state = wanted.state
        return ScheduleUpdate(schedule=replace(wanted, state=state))

    await client.get_schedule_handle(schedule_id).update(update)
    log.info("schedule %s updated", schedule_id)


async def ensure_validator_schedule(
    client: Client,
    settings: Settings,
    *,
    schedule_id: str = VALIDATOR_SCHEDULE_ID,
    task_queue: str = TaskQueues.OPS,
) -> None:
    """The validator's and the balance manager's Schedules (`hedger-validator`, `hedger-balance`)."""
    await ensure_schedule(client, schedule_id, validator_schedule(settings, task_queue),
                          _paused_note("validator_interval_seconds"))  # fmt: skip
    await ensure_schedule(client, BALANCE_SCHEDULE_ID, balance_schedule(settings, task_queue),
                          _paused_note("balance_interval_seconds"))  # fmt: skip


async def refresh_findings_gauge(engine: AsyncEngine, stop: asyncio.Event) -> None:
    """Until `stop`: keep this process's open-findings gauge in step with the table."""
    while not stop.is_set():
        try:
            await refresh_open_findings_gauge(engine)
        except Exception as exc:  # noqa: BLE001 - a metric, never worth stopping the worker
            log.warning("validator findings gauge not refreshed: %s", exc)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), GAUGE_REFRESH_SECONDS)
