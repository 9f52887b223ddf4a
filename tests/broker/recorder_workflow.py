"""A tiny workflow that records the `broker_order_update` signals it receives (monitor tests)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from interfaces.broker import OrderSnapshot


@workflow.defn(name="BrokerUpdateRecorder")
class BrokerUpdateRecorder:
    def __init__(self) -> None:
        self.updates: list[OrderSnapshot] = []
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done, timeout=timedelta(minutes=5))
        return len(self.updates)

    @workflow.signal(name="broker_order_update")
    def broker_order_update(self, update: OrderSnapshot) -> None:
        self.updates.append(update)

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True

    @workflow.query(name="updates")
    def get_updates(self) -> list[OrderSnapshot]:
        return self.updates
