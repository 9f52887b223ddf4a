"""The broker side of a hedge, shared by the intent and position workflows: each order ("leg")
this workflow placed, and how legs are placed, refreshed, cancelled and recorded.

A leg is recorded in the ledger before it is sent (Hummingbot's "track before send") and again
with the broker's answer; its client order id derives from the workflow (`domain.ids`), so a
retried placement is recognised by the broker activity instead of becoming a second order.

What the broker says about a leg is merged, never copied over (`BrokerLeg.observe`): a leg's
filled quantity never goes down, and "not found" is read lag until it has repeated for a while
(`LOST_AFTER_MISSES` look-ups over `LOST_AFTER_SECONDS`); even then the leg is settled by
cancelling it by client order id, whose answer comes from the exchange's matching engine, so
an order that still rests can never fill behind the hedger's back. A cancel that answers
"unknown order" for an order the broker had acknowledged says only that it is no longer open,
not what it filled: the leg stays unsettled (`not_open`) and is looked up until it is found.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from interfaces.broker import OrderRequest, OrderSnapshot
    from interfaces.ledger import OrderRow

# Other workflow modules are imported by the sandbox like this one (never passed
# through), so every class in them, exceptions included, is one object per workflow.
from workflows import calls
from workflows.calls import ActionImpossible

ZERO = Decimal(0)
NOT_FOUND = "not_found"
LOST_AFTER_MISSES = 3  # consecutive "not found" look-ups ...
LOST_AFTER_SECONDS = 10.0  # ... over at least this long, before the leg is settled by a cancel
NOT_OPEN_RECHECK_SECONDS = 2.0  # a leg the broker has closed but not shown yet is looked up again
# Runs started before it took a cancel's "unknown order" for an acknowledged leg as "final,
# nothing filled": a close (or hedge) that had filled unseen was then placed a second time.
UNSEEN_FILL_PATCH = "unseen-fill-kept-open"

Record = Callable[["BrokerLeg"], Awaitable[None]]


@dataclass
class BrokerLeg:
    client_order_id: str
    purpose: str  # intent: "open" | "unwind"; position: "close" | "reduce" | "increase"
    symbol: str
    side: str
    amount: str
    snapshot: OrderSnapshot | None = None
    misses: int = 0  # consecutive look-ups that did not find the order
    first_miss_at: float | None = None  # workflow time of the first of them
    # the matching engine says the order is no longer open, but no look-up has shown what it
    # filled yet: it is not final, and it is not cancelled again, only looked up
    not_open: bool = False

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

    def observe(self, snap: OrderSnapshot, now: float, *, settled: bool = False) -> None:
        """Merge what the broker says. `settled`: the answer to a cancel by client order id
        (authoritative: a "not found" then means the order is not open, so the leg is final)."""
        old = self.snapshot
        if snap.status == NOT_FOUND and not settled:
            self.misses += 1
            if self.first_miss_at is None:
                self.first_miss_at = now
            return  # read lag until proven otherwise: keep what we knew
        self.misses, self.first_miss_at, self.not_open = 0, None, False
        if snap.status == NOT_FOUND:
            self.snapshot = replace(old, status=NOT_FOUND) if old is not None else snap
        elif old is not None and Decimal(snap.filled) < self.filled:
            # a stale read: the filled quantity never goes down
            self.snapshot = replace(snap, filled=old.filled, average_price=old.average_price)
        else:
            self.snapshot = snap

    @property
    def acknowledged(self) -> bool:
        """The broker has answered for this order: it exists there (or did)."""
        return self.snapshot is not None and self.snapshot.status not in (NOT_FOUND, "rejected")

    def closed_unseen(self, now: float) -> None:
        """A cancel answered "unknown order" for this acknowledged order: it is not open, and
        what it filled is unknown until a look-up finds it (a miss, not a settlement)."""
        self.not_open = True
        self.misses += 1
        if self.first_miss_at is None:
            self.first_miss_at = now

    def looks_lost(self, now: float) -> bool:
        return (
            self.misses >= LOST_AFTER_MISSES
            and self.first_miss_at is not None
            and now - self.first_miss_at >= LOST_AFTER_SECONDS
        )

    def rejected(self) -> OrderSnapshot:
        """The snapshot of a placement the broker refused for good."""
        return OrderSnapshot(
            self.client_order_id, None, self.symbol, "rejected", self.side, "", self.amount
        )


def working(legs: list[BrokerLeg]) -> list[BrokerLeg]:
    """Legs the broker may still fill."""
    return [leg for leg in legs if not leg.final]


def _now() -> float:
    return workflow.now().timestamp()


async def refresh(legs: list[BrokerLeg], record: Record) -> None:
    """Read every working leg from the broker (concurrently); settle a leg that has looked
    lost for a while by cancelling it by client order id."""
    open_legs = working(legs)
    if not open_legs:
        return
    snapshots = await asyncio.gather(
        *(calls.fetch_order(leg.symbol, leg.client_order_id) for leg in open_legs)
    )
    for leg, snap in zip(open_legs, snapshots, strict=True):
        leg.observe(snap, _now())
    for leg in open_legs:
        if leg.looks_lost(_now()) and not leg.not_open:
            _settle(leg, await calls.cancel_order(leg.symbol, leg.client_order_id))
            await record(leg)


async def cancel_working(legs: list[BrokerLeg], record: Record) -> None:
    """Cancel every working leg, one after the other, recording each answer. A leg the broker
    has closed but not shown is looked up instead, after a pause when it is still not found
    (the caller decides again on what is known, and must not spin)."""
    for leg in legs:
        if leg.final:
            continue
        if leg.not_open:
            leg.observe(await calls.fetch_order(leg.symbol, leg.client_order_id), _now())
            if leg.final:
                await record(leg)
            else:
                await workflow.sleep(NOT_OPEN_RECHECK_SECONDS)
            continue
        _settle(leg, await calls.cancel_order(leg.symbol, leg.client_order_id))
        await record(leg)


def _settle(leg: BrokerLeg, snap: OrderSnapshot) -> None:
    """Merge a cancel's answer. "Unknown order" for an order the broker acknowledged means it
    is no longer open, not that nothing filled: it stays unsettled until a look-up finds it."""
    if (
        snap.status == NOT_FOUND
        and leg.acknowledged
        and not leg.final
        and workflow.patched(UNSEEN_FILL_PATCH)
    ):
        leg.closed_unseen(_now())
        return
    leg.observe(snap, _now(), settled=True)


async def place(
    legs: list[BrokerLeg], leg: BrokerLeg, request: OrderRequest, record: Record
) -> ActionImpossible | None:
    """Track `leg`, record it, send `request`. A refusal marks the leg rejected and is returned
    (the caller decides what it means, then records the leg again)."""
    legs.append(leg)
    await record(leg)  # recorded before it is sent
    try:
        leg.observe(await calls.place_order(request), _now())
    except ActionImpossible as exc:
        leg.snapshot = leg.rejected()
        return exc
    return None


def order_row(
    leg: BrokerLeg,
    chain_id: int,
    quote_id: int,
    *,
    default_type: str,
    seq: int,
    close_id: int | None = None,
) -> OrderRow:
    snap = leg.snapshot
    return OrderRow(
        client_order_id=leg.client_order_id, chain_id=chain_id, quote_id=quote_id, close_id=close_id,
        symbol=leg.symbol, side=leg.side, order_type=snap.type if snap and snap.type else default_type,
        amount=leg.amount, status=snap.status if snap else "new",
        exchange_order_id=snap.exchange_order_id if snap else None,
        filled=snap.filled if snap else None, average_price=snap.average_price if snap else None,
        reduce_only=False, seq=seq,
    )  # fmt: skip
