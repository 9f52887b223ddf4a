"""The broker side of a hedge, shared by the intent and position workflows: each order ("leg")
this workflow placed, and how legs are placed, refreshed, cancelled and recorded.

A leg is recorded in the ledger before it is sent (Hummingbot's "track before send") and again
with the broker's answer; its client order id derives from the workflow (`domain.ids`), so a
retried placement is recognised by the broker activity instead of becoming a second order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from interfaces.broker import OrderRequest, OrderSnapshot
    from interfaces.ledger import OrderRow
    from workflows import calls
    from workflows.calls import ActionImpossible

ZERO = Decimal(0)

Record = Callable[["BrokerLeg"], Awaitable[None]]


@dataclass
class BrokerLeg:
    client_order_id: str
    purpose: str  # intent: "open" | "unwind"; position: "close" | "reduce" | "increase"
    symbol: str
    side: str
    amount: str
    snapshot: OrderSnapshot | None = None

    @property
    def filled(self) -> Decimal:
        return Decimal(self.snapshot.filled) if self.snapshot else ZERO

    @property
    def final(self) -> bool:
        return self.snapshot is not None and self.snapshot.is_final

    @property
    def average(self) -> Decimal | None:
        if self.snapshot is None or self.snapshot.average_price is None:
            return None
        return Decimal(self.snapshot.average_price)

    def rejected(self) -> OrderSnapshot:
        """The snapshot of a placement the broker refused for good."""
        return OrderSnapshot(
            self.client_order_id, None, self.symbol, "rejected", self.side, "", self.amount
        )


def working(legs: list[BrokerLeg]) -> list[BrokerLeg]:
    """Legs the broker may still fill."""
    return [leg for leg in legs if not leg.final]


async def refresh(legs: list[BrokerLeg]) -> None:
    """Read every working leg from the broker (concurrently)."""
    open_legs = working(legs)
    if open_legs:
        snapshots = await asyncio.gather(
            *(calls.fetch_order(leg.symbol, leg.client_order_id) for leg in open_legs)
        )
        for leg, snap in zip(open_legs, snapshots, strict=True):
            leg.snapshot = snap


async def cancel_working(legs: list[BrokerLeg], record: Record) -> None:
    """Cancel every working leg, one after the other, recording each answer."""
    for leg in legs:
        if not leg.final:
            leg.snapshot = await calls.cancel_order(leg.symbol, leg.client_order_id)
            await record(leg)


async def place(
    legs: list[BrokerLeg], leg: BrokerLeg, request: OrderRequest, record: Record
) -> ActionImpossible | None:
    """Track `leg`, record it, send `request`. A refusal marks the leg rejected and is returned
    (the caller decides what it means, then records the leg again)."""
    legs.append(leg)
    await record(leg)  # recorded before it is sent
    try:
        leg.snapshot = await calls.place_order(request)
    except ActionImpossible as exc:
        leg.snapshot = leg.rejected()
        return exc
    return None


def order_row(
    leg: BrokerLeg, chain_id: int, quote_id: int, *, default_type: str, close_id: int | None = None
) -> OrderRow:
    snap = leg.snapshot
    return OrderRow(
        client_order_id=leg.client_order_id, chain_id=chain_id, quote_id=quote_id, close_id=close_id,
        symbol=leg.symbol, side=leg.side, order_type=snap.type if snap and snap.type else default_type,
        amount=leg.amount, status=snap.status if snap else "new",
        exchange_order_id=snap.exchange_order_id if snap else None,
        filled=snap.filled if snap else None, average_price=snap.average_price if snap else None,
        reduce_only=False,
    )  # fmt: skip
