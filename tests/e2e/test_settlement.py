"""A close where PartyA is in profit beyond PartyB's allocation for that PartyA (issue #14), on
the whole local stack: protocol-core 0.8.4's rules (modelled by the devnet contract) refuse the
fill until PartyB tops its allocation up; the hedger does so before `fillCloseRequest`, so the
close fills and the broker side is closed exactly once — never bought back because of a revert.

Without the top-up (`HEDGER_CLOSE_TOP_UP=false` for the chain worker) the fill reverts
("LibSolvency: Available balance is lower than zero"), the close stays CLOSE_PENDING and this
test fails on its wait for CLOSED.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from domain.enums import OrderType, PositionType, QuoteStatus

pytestmark = pytest.mark.slow

WAD = 10**18


async def test_profitable_close_beyond_the_allocation_fills_once(hedger) -> None:  # type: ignore[no-untyped-def]
    ACCOUNT = hedger.new_account()  # a PartyA of its own: PartyB's allocation is per PartyA
    start_price = await hedger.mark_price()
    quantity = Decimal("0.1")
    # 50x: the hedger allocates about twice what the quote locks, 2 × notional / 50 ≈ 4% of it
    quote_id = await hedger.send_quote(
        side=PositionType.LONG, order_type=OrderType.MARKET, quantity=quantity, leverage=50,
        account=ACCOUNT,
    )  # fmt: skip
    await hedger.wait_chain(quote_id, {QuoteStatus.OPENED}, account=ACCOUNT)
    await hedger.wait_workflow(hedger.intent(quote_id))
    await hedger.assert_hedged()
    symmio = hedger.contract()
    party_a = hedger.trader(ACCOUNT).address
    us = hedger.our_party_b
    allocation = Decimal(symmio.functions.allocatedBalanceOfPartyB(us, party_a).call()) / WAD
    opened = Decimal(symmio.functions.getQuote(quote_id).call()[5]) / WAD  # openedPrice

    # +6%: PartyA's profit on the close is well beyond what PartyB holds for it
    new_price = (start_price * Decimal("1.06")).quantize(Decimal("0.1"))
    await hedger.set_price(new_price)
    try:
        profit = (new_price - opened) * quantity
        assert profit > allocation * Decimal("1.2"), (profit, allocation)
        await hedger.request_close(quote_id, account=ACCOUNT)
        closed = await hedger.wait_chain(
            quote_id, {QuoteStatus.CLOSED}, account=ACCOUNT, timeout=120
        )
        assert (await hedger.wait_workflow(hedger.position(quote_id))).startswith("flat")
    finally:
        await hedger.set_price(start_price)

    # chain: one fill, PartyA got its profit, and PartyB's allocation paid it after a top-up
    assert closed.closed_amount == closed.quantity
    sent = await asyncio.to_thread(hedger.our_transactions, quote_id)
    assert sent.get("fillCloseRequest") == 1, sent
    left = Decimal(symmio.functions.allocatedBalanceOfPartyB(us, party_a).call()) / WAD
    avg_closed = Decimal(symmio.functions.getQuote(quote_id).call()[17]) / WAD  # avgClosedPrice
    realised = (avg_closed - opened) * quantity
    assert realised > allocation  # more than PartyB held for this PartyA before the close
    assert 0 <= left < 5  # the top-up was the shortfall plus the small margin

    # broker: opened once, closed once, nothing bought back (the trader's LONG is a broker BUY)
    orders = await hedger.broker_orders(quote_id)
    closes = [o for o in orders if str(o["clientOrderId"]).startswith(f"h{quote_id}c")]
    assert len(closes) == 1, orders
    assert closes[0]["side"] == "SELL" and Decimal(str(closes[0]["executedQty"])) == quantity
    assert await hedger.broker_traded(quote_id) == 0
    await hedger.assert_hedged()
