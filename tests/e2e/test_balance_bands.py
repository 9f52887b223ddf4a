"""The balance manager's allocation bands on the real local stack: with bands on, a PartyA whose
headroom (PartyB's `partyBAvailableForQuote` towards it) is below the low band gets allocated
up to the target, a surplus above the high band is deallocated — again only after the
protocol's deallocate cooldown — and a run inside the band changes nothing. Checked from the
chain (`allocatedBalanceOfPartyB`, `balanceInfoOfPartyB`) and the ledger's alerts."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from eth_utils.address import to_checksum_address

from domain.enums import QuoteStatus
from interfaces.balance import BalanceInput, BalanceResult
from interfaces.temporal import TaskQueues
from workflows.balance import BalanceWorkflow

pytestmark = pytest.mark.slow

WAD = Decimal(10**18)


def allocated(hedger: Any, party_a: str) -> Decimal:  # type: ignore[no-untyped-def]
    return Decimal(hedger.contract().functions.allocatedBalanceOfPartyB(
        hedger.our_party_b, to_checksum_address(party_a)).call()) / WAD  # fmt: skip


def headroom_without_upnl(hedger: Any, party_a: str) -> Decimal:
    raw = (
        hedger.contract()
        .functions.balanceInfoOfPartyB(hedger.our_party_b, to_checksum_address(party_a))
        .call()
    )
    a, lcva, llf, _, lbmm, pcva, plf, _, pbmm = (Decimal(v) / WAD for v in raw)
    return a - (lcva + llf + lbmm) - (pcva + plf + pbmm)


async def run(hedger: Any, low: str, target: str, high: str, record: Any = None,
              label: str = "") -> tuple[BalanceResult, str]:  # fmt: skip
    handle = await hedger.client.start_workflow(
        BalanceWorkflow.run,
        BalanceInput(hedger.chain_id, "0", allocation_low=low, allocation_target=target,
                     allocation_high=high, allocation_margin="10"),  # fmt: skip
        id=f"balance-{hedger.chain_id}-bands-{uuid.uuid4().hex[:8]}", task_queue=TaskQueues.OPS,
    )  # fmt: skip
    result = await asyncio.wait_for(handle.result(), 180)
    if record is not None:
        await record(handle, "BalanceWorkflow", label)
    return result, handle.result_run_id or ""


def mine(result: BalanceResult, party_a: str) -> Any:
    (action,) = [a for a in result.actions if a.party_a == party_a]
    return action


async def action_alerts(hedger: Any, run_id: str, party_a: str) -> list[tuple[str, str]]:
    """The run's alerts about this test's own PartyA (a run acts on every PartyA: one an
    earlier test of the session left below its band gets its own alert in the same run)."""
    rows = await hedger.ledger(
        "SELECT kind, message FROM alerts WHERE lower(dedupe_key) LIKE :k ORDER BY id",
        k=f"balance:{run_id}:{party_a}:%".lower(),
    )
    return [(r[0], r[1]) for r in rows]


async def test_bands_allocate_below_low_and_deallocate_the_surplus_after_the_cooldown(  # type: ignore[no-untyped-def]
    hedger, record_history
) -> None:
    ACCOUNT = hedger.new_account()  # a trader of its own
    trader = hedger.trader(ACCOUNT)
    party_a = trader.address.lower()
    await hedger.freeze_prices()  # a steady uPnL: the headroom is what the allocation makes it
    try:
        quote_id = await hedger.send_quote(account=ACCOUNT)
        await hedger.wait_chain(quote_id, {QuoteStatus.OPENED}, account=ACCOUNT)
        deadline = time.monotonic() + 60
        while not await hedger.ledger("SELECT 1 FROM quotes WHERE lower(party_a) = :a", a=party_a):
            assert time.monotonic() < deadline, "the ledger never recorded the PartyA"
            await asyncio.sleep(0.5)
        before = allocated(hedger, party_a)
        assert headroom_without_upnl(hedger, party_a) < 4000

        # 1. below the low band: allocated up to the target
        up, up_run = await run(hedger, "4000", "5000", "8000", record_history, "allocation-bands")
        action = mine(up, party_a)
        assert action.action == "allocate" and action.tx_hash, action
        after = allocated(hedger, party_a)
        assert after - before == Decimal(action.amount)
        assert abs(headroom_without_upnl(hedger, party_a) - 5000) < 50
        # a second run inside the band changes nothing
        same, _ = await run(hedger, "4000", "5000", "8000")
        assert mine(same, party_a).action == "none" and allocated(hedger, party_a) == after

        # 2. above the high band: deallocated down to the target
        down, _ = await run(hedger, "1000", "3000", "4000")
        action = mine(down, party_a)
        assert action.action == "deallocate" and action.tx_hash, action
        assert allocated(hedger, party_a) == after - Decimal(action.amount)
        assert abs(headroom_without_upnl(hedger, party_a) - 3000) < 50
        after = allocated(hedger, party_a)

        # 3. a new surplus waits for the deallocate cooldown (120 s on the devnet) ...
        waiting, _ = await run(hedger, "500", "1000", "2000")
        action = mine(waiting, party_a)
        assert action.action == "none" and "cooldown" in action.reason, action
        assert allocated(hedger, party_a) == after
        # ... and goes once it has passed
        hedger.warp(125)
        later, later_run = await run(hedger, "500", "1000", "2000")
        action = mine(later, party_a)
        assert action.action == "deallocate" and action.tx_hash, action
        assert abs(headroom_without_upnl(hedger, party_a) - 1000) < 50
        final = allocated(hedger, party_a)
        again, _ = await run(hedger, "500", "1000", "2000")
        assert mine(again, party_a).action == "none" and allocated(hedger, party_a) == final

        # every action is an info alert operators see
        kinds = [k for k, _ in await action_alerts(hedger, up_run, party_a)]
        assert kinds == ["balance_allocate"]
        kinds = [k for k, _ in await action_alerts(hedger, later_run, party_a)]
        assert kinds == ["balance_deallocate"]
    finally:
        await hedger.freeze_prices(False)
