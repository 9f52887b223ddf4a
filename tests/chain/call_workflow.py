"""A tiny workflow that runs one activity by name and reports its result or failure (tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError


@dataclass
class CallInput:
    activity: str
    arg: Any = None
    task_queue: str = "hedger-chain"
    maximum_attempts: int = 1
    start_to_close_seconds: float = 60.0


@workflow.defn(name="ChainActivityProbe")
class ChainActivityProbe:
    @workflow.run
    async def run(self, inp: CallInput) -> dict[str, Any]:
        try:
            result = await workflow.execute_activity(
                inp.activity,
                args=[] if inp.arg is None else [inp.arg],
                task_queue=inp.task_queue,
                start_to_close_timeout=timedelta(seconds=inp.start_to_close_seconds),
                retry_policy=RetryPolicy(
                    maximum_attempts=inp.maximum_attempts,
                    initial_interval=timedelta(milliseconds=200),
                ),
            )
        except ActivityError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError):
                return {
                    "error": {
                        "type": cause.type,
                        "message": cause.message,
                        "non_retryable": cause.non_retryable,
                        "details": [str(d) for d in cause.details],
                    }
                }
            return {"error": {"type": type(cause).__name__, "message": str(cause)}}
        return {"result": result}
