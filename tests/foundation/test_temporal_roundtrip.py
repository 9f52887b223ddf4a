"""A workflow round-trips through the real dev server; search attributes are registered and queryable."""

from __future__ import annotations

import uuid

from temporalio.client import Client, WorkflowHistory
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import Replayer, Worker

from activities.healthcheck import HealthcheckActivities
from adapters.temporal import SEARCH_ATTRIBUTE_TYPES
from interfaces.temporal import SearchAttributes
from workflows.healthcheck import HealthcheckInput, HealthcheckWorkflow

_histories: list[WorkflowHistory] = []


async def test_workflow_round_trips_through_dev_server(
    temporal_client: Client, record_history
) -> None:  # type: ignore[no-untyped-def]
    queue = f"test-{uuid.uuid4()}"
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[HealthcheckWorkflow],
        activities=[HealthcheckActivities().echo],
    ):
        handle = await temporal_client.start_workflow(
            HealthcheckWorkflow.run,
            HealthcheckInput("ping"),
            id=f"healthcheck-{uuid.uuid4()}",
            task_queue=queue,
        )
        result = await handle.result()
    assert result.echoed == "ping"
    assert result.worker_identity == queue
    _histories.append(await handle.fetch_history())
    await record_history(handle, "Healthcheck", "ping")


async def test_healthcheck_history_replays_deterministically(temporal_client: Client) -> None:
    if not _histories:
        queue = f"test-{uuid.uuid4()}"
        async with Worker(
            temporal_client,
            task_queue=queue,
            workflows=[HealthcheckWorkflow],
            activities=[HealthcheckActivities().echo],
        ):
            handle = await temporal_client.start_workflow(
                HealthcheckWorkflow.run,
                HealthcheckInput("x"),
                id=f"healthcheck-{uuid.uuid4()}",
                task_queue=queue,
            )
            await handle.result()
        _histories.append(await handle.fetch_history())
    await Replayer(workflows=[HealthcheckWorkflow]).replay_workflow(_histories[0])


async def test_search_attributes_are_registered_and_filterable(temporal_client: Client) -> None:
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    listing = await temporal_client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=temporal_client.namespace)
    )
    for name, kind in SEARCH_ATTRIBUTE_TYPES.items():
        assert listing.custom_attributes[name] == kind

    queue = f"test-{uuid.uuid4()}"
    marker = f"0x{uuid.uuid4().hex[:40]}"
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(SearchAttributes.HEDGE_STATUS, "STUCK"),
            SearchAttributePair(SearchAttributes.PARTY_A, marker),
            SearchAttributePair(SearchAttributes.QUOTE_ID, 7),
        ]
    )
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[HealthcheckWorkflow],
        activities=[HealthcheckActivities().echo],
    ):
        handle = await temporal_client.start_workflow(
            HealthcheckWorkflow.run,
            HealthcheckInput("sa"),
            id=f"healthcheck-{uuid.uuid4()}",
            task_queue=queue,
            search_attributes=attributes,
        )
        await handle.result()

    import asyncio

    query = f'HedgeStatus="STUCK" AND PartyA="{marker}" AND QuoteId=7'
    for _ in range(50):  # visibility is eventually consistent
        found = [wf.id async for wf in temporal_client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.2)
    assert found == [handle.id]


async def test_setup_is_idempotent(settings) -> None:  # type: ignore[no-untyped-def]
    from adapters.temporal import setup_temporal

    await setup_temporal(settings)
    again = await setup_temporal(settings)
    assert again.added == []
    assert sorted(again.present) == sorted(SEARCH_ATTRIBUTE_TYPES)
