"""Stand-ins registered as "IntentWorkflow" / "PositionWorkflow" on a test task queue: they
record every `chain_event` signal (duplicates included) and expose them by query, so the
listener tests can assert exactly what each workflow received."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from interfaces.workflows import ChainLog, IntentInput, PositionInput


class _Recorder:
    def __init__(self) -> None:
        self.logs: list[ChainLog] = []
        self.done = False

    @workflow.signal(name="chain_event")
    def chain_event(self, log: ChainLog) -> None:
        self.logs.append(log)

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True

    @workflow.query(name="events")
    def events(self) -> list[ChainLog]:
        return self.logs

    async def _wait(self) -> int:
        await workflow.wait_condition(lambda: self.done, timeout=timedelta(minutes=10))
        return len(self.logs)


@workflow.defn(name="IntentWorkflow")
class RecordingIntentWorkflow(_Recorder):
    @workflow.init
    def __init__(self, input: IntentInput) -> None:
        super().__init__()

    @workflow.run
    async def run(self, input: IntentInput) -> int:
        return await self._wait()


@workflow.defn(name="PositionWorkflow")
class RecordingPositionWorkflow(_Recorder):
    @workflow.init
    def __init__(self, input: PositionInput) -> None:
        super().__init__()

    @workflow.run
    async def run(self, input: PositionInput) -> int:
        return await self._wait()
