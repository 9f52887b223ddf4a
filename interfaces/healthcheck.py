"""The healthcheck activity's contract: the Temporal path client → server → worker → activity."""

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


class HealthcheckApi:
    @activity.defn(name="echo")
    async def echo(self, params: EchoInput) -> EchoReply:
        raise NotImplementedError
