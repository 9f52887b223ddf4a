"""Stand-ins registered as "IntentWorkflow" / "PositionWorkflow" on a test task queue: they
record every `chain_event` signal (duplicates included) and expose them by query, so the
listener tests can assert exactly what each workflow received.

They also *apply* events the way the hedge workflows must (query ``applied``): once per
(block, tx, logIndex) however many listeners deliver it, and a ``removed`` log un-applies the
key when it names the block hash that was applied (a removal of another version is ignored), so
a re-mined log is applied again. ``applications`` counts how often each key was applied."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from interfaces.workflows import ChainLog, IntentInput, PositionInput


def _key(log: ChainLog) -> str:
    return f"{log.block_number}:{log.tx_hash.lower()}:{log.log_index}"


class _Recorder:
    def __init__(self) -> None:
        self.logs: list[ChainLog] = []
        self.applied_hash: dict[str, str | None] = {}  # key -> block hash of the applied log
        self.applications: dict[str, int] = {}
        self.done = False

    @workflow.signal(name="chain_event")
    def chain_event(self, log: ChainLog) -> None:
        self.logs.append(log)
        key = _key(log)
        if log.removed:
            have = self.applied_hash.get(key, "absent")
            if have != "absent" and (have is None or log.block_hash in (None, have)):
                del self.applied_hash[key]
        elif key not in self.applied_hash:
            self.applied_hash[key] = log.block_hash
            self.applications[key] = self.applications.get(key, 0) + 1

    @workflow.query(name="applied")
    def applied(self) -> list[str]:
        return sorted(self.applied_hash)

    @workflow.query(name="applications")
    def applications_by_key(self) -> dict[str, int]:
        return dict(self.applications)

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
