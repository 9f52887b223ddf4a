"""PartyB's health towards one PartyA (#15, with the balance manager): the balance run alerts
`partyb_health_low` while PartyB's liquidation buffer (allocated - locked cva - lf + uPnL, the
contract's `partyBAvailableBalanceForLiquidation`) is below the configured floor, before it
reaches zero, and resolves it when the price comes back. The buffer is checked from outside:
the chain's `balanceInfoOfPartyB` and the oracle's signed uPnL."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest

from adapters.muon.client import MuonClient
from domain.enums import OrderType, PositionType, QuoteStatus
from interfaces.balance import BALANCE_SCHEDULE_ID, BalanceInput, BalanceResult
from interfaces.temporal import TaskQueues
from workflows.balance import BalanceWorkflow

pytestmark = pytest.mark.slow

WAD = Decimal(10**18)


async def _buffer(hedger: Any, party_a: str) -> Decimal:
    """allocated - (locked cva + lf) + uPnL, from the chain and the oracle (not the hedger)."""
    symmio = hedger.contract()
    info = symmio.functions.balanceInfoOfPartyB(hedger.our_party_b, party_a).call()
    async with MuonClient([hedger.muon_url]) as muon:
        sig = await muon.party_b_upnl_sig(
            party_b=hedger.our_party_b, party_a=party_a, chain_id=hedger.chain_id,
            symmio=hedger.symmio,
        )  # fmt: skip
    return (Decimal(info[0]) - Decimal(info[1]) - Decimal(info[2]) + Decimal(sig.upnl)) / WAD


async def _run(hedger: Any, min_buffer: Decimal, record: Any = None) -> BalanceResult:
    handle = await hedger.client.start_workflow(
        BalanceWorkflow.run,
        BalanceInput(hedger.chain_id, "0", health_min_buffer=format(min_buffer, "f")),
        id=f"balance-{hedger.chain_id}-health-{uuid.uuid4().hex[:8]}", task_queue=TaskQueues.OPS,
    )  # fmt: skip
    result: BalanceResult = await asyncio.wait_for(handle.result(), 180)
    if record is not None:
        await record(handle, "BalanceWorkflow", "party-b-health")
    return result


async def test_party_b_health_alerts_before_liquidation_and_resolves(  # type: ignore[no-untyped-def]
    hedger, record_history
) -> None:
    schedule = hedger.client.get_schedule_handle(BALANCE_SCHEDULE_ID)
    await schedule.pause(note="e2e: PartyB health runs by hand")
    ACCOUNT = hedger.new_account()  # a PartyA of its own: PartyB's margin is per PartyA
    start = await hedger.mark_price()
    quote_id = await hedger.send_quote(
        side=PositionType.LONG, order_type=OrderType.MARKET, quantity=Decimal("0.1"),
        leverage=50, account=ACCOUNT,
    )  # fmt: skip
    try:
        await hedger.wait_chain(quote_id, {QuoteStatus.OPENED}, account=ACCOUNT)
        await hedger.wait_workflow(hedger.intent(quote_id))
        party_a = hedger.trader(ACCOUNT).address
        key = f"partyb_health_low:{party_a.lower()}"
        before = await _buffer(hedger, party_a)
        # a +3% move costs PartyB (short the trader's LONG) about 0.1 × 3% × price ≈ 150 USD
        loss = Decimal("0.1") * start * Decimal("0.03")
        floor = before - loss / 2
        assert floor > 0, (before, loss)  # the alert must come while PartyB is still solvent
        calm = await _run(hedger, floor)
        assert key not in calm.alerted, calm

        await hedger.set_price((start * Decimal("1.03")).quantize(Decimal("0.1")))
        after = await _buffer(hedger, party_a)
        assert 0 < after < floor, (
            before,
            after,
            floor,
        )  # from outside: close, not yet liquidatable
        low = await _run(hedger, floor, record_history)
        assert key in low.alerted, low

        await hedger.set_price(start)
        assert await _buffer(hedger, party_a) > floor
        back = await _run(hedger, floor)
        assert key in back.resolved, back
    finally:
        await hedger.set_price(start)
        await schedule.unpause(note="e2e: PartyB health done")
        await hedger.request_close(quote_id, account=ACCOUNT)
        await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED}, account=ACCOUNT, timeout=120)
