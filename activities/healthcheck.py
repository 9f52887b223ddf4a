"""The activity behind the healthcheck workflow: answers with what it got and who it is."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import activity


@dataclass(frozen=True)
class EchoInput:
    message: str


@dataclass(frozen=True)
class EchoReply:
    message: str
    worker_identity: str


@activity.defn(name="echo")
async def echo(params: EchoInput) -> EchoReply:
    return EchoReply(message=params.message, worker_identity=activity.info().task_queue)
