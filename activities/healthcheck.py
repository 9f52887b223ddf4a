"""The activity behind the healthcheck workflow: answers with what it got and who it is."""

from __future__ import annotations

from temporalio import activity

from interfaces.healthcheck import EchoInput, EchoReply, HealthcheckApi


class HealthcheckActivities(HealthcheckApi):
    @activity.defn(name="echo")
    async def echo(self, params: EchoInput) -> EchoReply:
        return EchoReply(message=params.message, worker_identity=activity.info().task_queue)
