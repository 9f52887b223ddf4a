"""A workflow that proves the whole Temporal path works: client → server → worker → activity → back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from interfaces.healthcheck import EchoInput, HealthcheckApi


@dataclass(frozen=True)
class HealthcheckInput:
    message: str


@dataclass(frozen=True)
class HealthcheckResult:
    echoed: str
    worker_identity: str


@workflow.defn(name="Healthcheck")
class HealthcheckWorkflow:
    @workflow.run
    async def run(self, params: HealthcheckInput) -> HealthcheckResult:
        reply = await workflow.execute_activity_method(
            HealthcheckApi.echo,
            EchoInput(params.message),
            start_to_close_timeout=timedelta(seconds=10),
        )
        return HealthcheckResult(echoed=reply.message, worker_identity=reply.worker_identity)
