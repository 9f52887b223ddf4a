"""Stand-ins registered under the real workflow names, recording the operator signals they get.

Real Temporal server, real signals: only the workflow bodies are small. `abandon` ends them.
"""

from __future__ import annotations

from temporalio import workflow

from interfaces.workflows import (
    INTENT_WORKFLOW,
    POSITION_WORKFLOW,
    QUERY_STATE,
    SIGNAL_ABANDON,
    SIGNAL_RETRY,
    SIGNAL_UNWIND,
    OperatorCommand,
)


@workflow.defn(name=INTENT_WORKFLOW)
class FakeIntentWorkflow:
    def __init__(self) -> None:
        self.received: list[list[str]] = []
        self.done = False

    @workflow.run
    async def run(self, quote_id: int) -> list[list[str]]:
        await workflow.wait_condition(lambda: self.done)
        return self.received

    @workflow.signal(name=SIGNAL_RETRY)
    def retry(self, cmd: OperatorCommand) -> None:
        self.received.append([SIGNAL_RETRY, cmd.reason, cmd.operator])

    @workflow.signal(name=SIGNAL_UNWIND)
    def unwind(self, cmd: OperatorCommand) -> None:
        self.received.append([SIGNAL_UNWIND, cmd.reason, cmd.operator])

    @workflow.signal(name=SIGNAL_ABANDON)
    def abandon(self, cmd: OperatorCommand) -> None:
        self.received.append([SIGNAL_ABANDON, cmd.reason, cmd.operator])
        self.done = True

    @workflow.query(name=QUERY_STATE)
    def state(self) -> list[list[str]]:
        return self.received


@workflow.defn(name=POSITION_WORKFLOW)
class FakePositionWorkflow:
    def __init__(self) -> None:
        self.received: list[list[str]] = []
        self.done = False

    @workflow.run
    async def run(self, quote_id: int) -> list[list[str]]:
        await workflow.wait_condition(lambda: self.done)
        return self.received

    @workflow.signal(name=SIGNAL_RETRY)
    def retry(self, cmd: OperatorCommand) -> None:
        self.received.append([SIGNAL_RETRY, cmd.reason, cmd.operator])

    @workflow.signal(name=SIGNAL_UNWIND)
    def unwind(self, cmd: OperatorCommand) -> None:
        self.received.append([SIGNAL_UNWIND, cmd.reason, cmd.operator])

    @workflow.signal(name=SIGNAL_ABANDON)
    def abandon(self, cmd: OperatorCommand) -> None:
        self.received.append([SIGNAL_ABANDON, cmd.reason, cmd.operator])
        self.done = True

    @workflow.query(name=QUERY_STATE)
    def state(self) -> list[list[str]]:
        return self.received
