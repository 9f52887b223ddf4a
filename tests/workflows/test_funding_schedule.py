"""The `hedger-funding` Schedule the ops worker creates at start, on the real Temporal dev
server: created with `funding_interval_seconds`, updated in place on the next start, paused by
`0` (and resumed when configured again)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from config.settings import Settings
from interfaces.funding import FUNDING_SCHEDULE_ID, FUNDING_WORKFLOW
from workers.funding import ensure_funding_schedule


async def test_the_funding_schedule_follows_its_setting(
    temporal_client: Client, settings: Settings
) -> None:
    handle = temporal_client.get_schedule_handle(FUNDING_SCHEDULE_ID)
    try:
        await ensure_funding_schedule(temporal_client, settings.model_copy(
            update={"funding_interval_seconds": 30}), task_queue="funding-schedule-test")  # fmt: skip
        desc = await handle.describe()
        assert desc.schedule.spec.intervals[0].every == timedelta(seconds=30)
        assert not desc.schedule.state.paused
        action = desc.schedule.action
        assert action.workflow == FUNDING_WORKFLOW  # type: ignore[attr-defined]
        assert action.task_queue == "funding-schedule-test"  # type: ignore[attr-defined]

        await ensure_funding_schedule(temporal_client, settings.model_copy(
            update={"funding_interval_seconds": 0}), task_queue="funding-schedule-test")  # fmt: skip
        paused = (await handle.describe()).schedule.state
        assert paused.paused and paused.note == "paused: HEDGER_FUNDING_INTERVAL_SECONDS=0"

        await ensure_funding_schedule(temporal_client, settings.model_copy(
            update={"funding_interval_seconds": 45}), task_queue="funding-schedule-test")  # fmt: skip
        desc = await handle.describe()
        assert desc.schedule.spec.intervals[0].every == timedelta(seconds=45)
        assert not desc.schedule.state.paused
    finally:
        await handle.delete()
