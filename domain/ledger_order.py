"""The order of one quote's ledger writes (`ledger_seq`): what makes a newer write win.

A workflow numbers its writes; the ledger keeps a row's newest write and drops an older one
(and a notice's id carries its number). Counting alone (1, 2, 3, ...) repeats numbers after an
operator *resets* a workflow in the Temporal UI: the new run replays the history up to the
reset point and counts on from there, so its writes reuse numbers the old run already wrote,
its notices are dropped as duplicates and its row updates lose to the old run's.

So a number is also never below the workflow's clock: 10 ms ticks since 2026-01-01. The clock
is `workflow.now()`, the same on every replay; a reset run's new writes happen after every
write of the run it replaced, so they number above all of them. Within a run the numbers still
rise by at least one per write. 10**12 ticks (a position's writes start there, above any
intent's) is 317 years away.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

SEQ_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SEQ_TICK = timedelta(milliseconds=10)


def clock_ticks(now: datetime) -> int:
    """`now` in ticks since `SEQ_EPOCH` (0 before it)."""
    return max(0, (now - SEQ_EPOCH) // SEQ_TICK)


def next_ledger_seq(last: int, now: datetime) -> int:
    """The number of the write after `last`, made at workflow time `now`."""
    return max(last + 1, clock_ticks(now))
