"""End-to-end protocol paths on the real local stack: the diamond's pause switches, PartyB
liquidation, emergency close, LIMIT closes and force-close.

Each test drives the protocol from the outside (its admin's switches, a liquidator, PartyA) and
checks the chain's views against the exchange simulator's records, never the hedger's word.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest
from temporalio.service import RPCError

from adapters.risk_control import RiskControl
from domain.enums import OrderType, QuoteStatus

pytestmark = pytest.mark.slow

OPEN = {QuoteStatus.OPENED}


async def _wait_trading_state(hedger: Any, state: str, timeout: float = 60) -> Any:
    risk = RiskControl(hedger.client, hedger.chain_id)
    deadline = time.monotonic() + timeout
    view = None
    while time.monotonic() < deadline:
        try:
            view = await risk.trading_state()
        except RPCError as exc:  # a loaded machine: the query timed out before a worker took it
            view = f"unanswered ({exc})"
        else:
            if view.state == state:
                return view
        await asyncio.sleep(0.5)
    raise AssertionError(f"trading state still {view}; wanted {state}")


async def test_a_party_b_actions_pause_sends_nothing_and_every_intent_resumes_or_ends(
    hedger: Any, record_history: Any
) -> None:
    """While `partyBActionsPaused` is set the hedger locks nothing, opens nothing, fills no close
    and places no broker order; once the admin unpauses, the intent still workable is locked
    and opened, the one whose deadline passed meanwhile ends without a transaction, and a close
    request made during a second pause is filled after it."""
    await hedger.freeze_prices()
    before = await hedger.broker_position()
    await asyncio.to_thread(hedger.admin_send, "pausePartyBActions")
    try:
        view = await _wait_trading_state(hedger, "PROTOCOL_PAUSED")
        assert view.reason == "protocol paused: partyB actions"
        workable = await hedger.send_quote(order_type=OrderType.MARKET, deadline_in=3600)
        doomed = await hedger.send_quote(order_type=OrderType.MARKET, deadline_in=90)
        for quote_id in (workable, doomed):  # the intents exist and hold back
            await hedger.wait_state(
                hedger.intent(quote_id), lambda s: s.get("trading_state") == "PROTOCOL_PAUSED"
            )
        hedger.warp(120)  # the second quote's deadline passes during the pause
        await asyncio.sleep(12)  # two of the hedger's pause re-checks
        for quote_id in (workable, doomed):
            assert (await asyncio.to_thread(hedger.quote, quote_id)).status == QuoteStatus.PENDING
            assert await asyncio.to_thread(hedger.our_transactions, quote_id) == {}
            assert await hedger.broker_orders(quote_id) == []
        alerts = await hedger.ledger(
            "SELECT message FROM alerts WHERE kind = 'protocol_state' ORDER BY id"
        )
        assert any("protocol paused: partyB actions" in a[0] for a in alerts), alerts
    finally:
        await asyncio.to_thread(hedger.admin_send, "unpausePartyBActions")
    await _wait_trading_state(hedger, "ACTIVE")

    await hedger.wait_chain(workable, OPEN, timeout=90)
    assert await hedger.wait_workflow(hedger.intent(workable)) == "opened"
    sent = await asyncio.to_thread(hedger.our_transactions, workable)
    assert sent.get("lockQuote") == 1 and sent.get("openPosition") == 1, sent
    assert await hedger.broker_position() - before == Decimal("0.01")
    assert await hedger.wait_workflow(hedger.intent(doomed)) == "rejected"
    assert await asyncio.to_thread(hedger.our_transactions, doomed) == {}
    assert await hedger.broker_orders(doomed) == []
    await hedger.assert_hedged()

    # A close request while paused: no broker close order, no fillCloseRequest, until unpaused.
    await asyncio.to_thread(hedger.admin_send, "pausePartyBActions")
    try:
        await _wait_trading_state(hedger, "PROTOCOL_PAUSED")
        await hedger.request_close(workable)
        await hedger.wait_chain(workable, {QuoteStatus.CLOSE_PENDING})
        await hedger.wait_state(
            hedger.position(workable), lambda s: s.get("trading_state") == "PROTOCOL_PAUSED"
        )
        await asyncio.sleep(8)
        assert (await asyncio.to_thread(hedger.quote, workable)).status == QuoteStatus.CLOSE_PENDING
        closes = [o for o in await hedger.broker_orders(workable) if "c" in o["clientOrderId"]]
        assert closes == []
        assert await hedger.broker_position() - before == Decimal("0.01")  # still hedged
    finally:
        await asyncio.to_thread(hedger.admin_send, "unpausePartyBActions")
    await hedger.wait_chain(workable, {QuoteStatus.CLOSED}, timeout=90)
    assert (await hedger.wait_workflow(hedger.position(workable))).startswith("flat")
    assert (await asyncio.to_thread(hedger.our_transactions, workable)).get("fillCloseRequest") == 1
    assert await hedger.broker_position() == before
    await hedger.assert_hedged()
    await record_history(hedger.intent(workable), "IntentWorkflow", "protocol-pause")
    await record_history(hedger.position(workable), "PositionWorkflow", "protocol-pause")
    await record_history(
        hedger.client.get_workflow_handle(f"risk-control-{hedger.chain_id}"),
        "RiskControlWorkflow",
        "protocol-pause",
    )


async def test_party_b_liquidation_flattens_every_broker_hedge_once(hedger: Any) -> None:
    """The price runs against us until our PartyB is insolvent for one PartyA; a liquidator
    liquidates it (liquidatePartyB) and then its positions (liquidatePositionsPartyB). Every
    affected hedge is flattened on the broker by exactly one order, an alert says so, and the
    positions of other PartyAs are untouched."""
    from adapters.muon.client import MuonClient

    account = hedger.new_account()
    party_a = hedger.trader(account).address
    before = await hedger.broker_position()
    mark = await hedger.mark_price()
    quotes = [await hedger.send_quote(quantity=Decimal("0.01"), account=account) for _ in range(2)]
    for quote_id in quotes:
        await hedger.wait_chain(quote_id, OPEN, account=account)
        assert await hedger.wait_workflow(hedger.intent(quote_id)) == "opened"
    bystander = hedger.new_account()  # another PartyA
    other = await hedger.send_quote(quantity=Decimal("0.01"), account=bystander)
    await hedger.wait_chain(other, OPEN, account=bystander)
    assert await hedger.broker_position() - before == Decimal("0.03")
    await hedger.assert_hedged()

    await hedger.set_price((mark * Decimal("1.6")).quantize(Decimal("0.1")))  # traders win big
    try:
        async with MuonClient([hedger.muon_url]) as muon:
            upnl = await muon.party_b_upnl_sig(
                party_b=hedger.our_party_b, party_a=party_a, chain_id=hedger.chain_id,
                symmio=hedger.symmio,
            )  # fmt: skip
            await asyncio.to_thread(
                hedger.admin_send, "liquidatePartyB", hedger.our_party_b, party_a,
                upnl.to_abi_tuple(),
            )  # fmt: skip
            prices = await muon.quote_price_sig(
                quote_ids=quotes, chain_id=hedger.chain_id, symmio=hedger.symmio
            )
            await asyncio.to_thread(
                hedger.admin_send, "liquidatePositionsPartyB", hedger.our_party_b, party_a,
                prices.to_abi_tuple(),
            )  # fmt: skip
        for quote_id in quotes:
            view = await asyncio.to_thread(hedger.quote, quote_id, account)
            assert view.status == QuoteStatus.LIQUIDATED
        for quote_id in quotes:
            assert (await hedger.wait_workflow(hedger.position(quote_id))).startswith("flat")
        await hedger.assert_hedged()
        assert await hedger.broker_position() - before == Decimal("0.01")  # the other PartyA's
        for quote_id in quotes:
            orders = await hedger.broker_orders(quote_id)
            flattening = [o for o in orders if "c" in o["clientOrderId"]]
            assert len(flattening) == 1, orders  # exactly one order brought it back
            assert await hedger.broker_traded(quote_id) == 0
        assert (await asyncio.to_thread(hedger.quote, other, 9)).status == QuoteStatus.OPENED
        alerts: list[Any] = []
        for _ in range(60):
            alerts = await hedger.ledger(
                "SELECT message FROM alerts WHERE kind = 'party_b_liquidated' ORDER BY id"
            )
            if len(alerts) >= 2:
                break
            await asyncio.sleep(0.5)
        assert any(party_a in a[0] and "liquidated for" in a[0] for a in alerts), alerts
        assert any("complete" in a[0] for a in alerts), alerts
    finally:
        await hedger.set_price(mark)
    await hedger.request_close(other, account=bystander)
    await hedger.wait_chain(other, {QuoteStatus.CLOSED}, account=bystander)
    await hedger.assert_hedged()


async def test_a_symbol_made_invalid_emergency_closes_its_positions_and_the_broker(
    hedger: Any,
) -> None:
    """The protocol delists BTCUSDT (setSymbolValidationState false): every position of ours on
    it is closed with emergencyClosePosition at the oracle's price and its broker hedge
    flattened, with an alert; a position on another symbol stays open and hedged."""
    a, b, c = hedger.new_account(), hedger.new_account(), hedger.new_account()
    btc_before = await hedger.broker_position()
    btc = [
        await hedger.send_quote(quantity=Decimal("0.01"), account=a),
        await hedger.send_quote(quantity=Decimal("0.02"), account=b),
    ]
    eth = await hedger.send_quote(quantity=Decimal("0.1"), account=c, symbol_id=2)
    for quote_id, account in ((btc[0], a), (btc[1], b), (eth, c)):
        await hedger.wait_chain(quote_id, OPEN, account=account)
    await hedger.assert_hedged()
    await hedger.assert_hedged(symbol_id=2, symbol="ETHUSDT")
    assert await hedger.broker_position() - btc_before == Decimal("0.03")

    await asyncio.to_thread(hedger.admin_send, "setSymbolValidationState", 1, False)
    try:
        for quote_id, account in ((btc[0], a), (btc[1], b)):
            view = await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED}, account=account)
            assert view.closed_amount == view.quantity
            assert (await hedger.wait_workflow(hedger.position(quote_id))).startswith("flat")
            sent = await asyncio.to_thread(hedger.our_transactions, quote_id)
            assert sent.get("emergencyClosePosition") == 1, sent
            assert "fillCloseRequest" not in sent
            assert await hedger.broker_traded(quote_id) == 0
        # every position of ours on the symbol is closed, including any an earlier test left open
        assert await hedger.chain_net(1) == 0
        assert await hedger.broker_position() == 0
        await hedger.assert_hedged()
        assert (await asyncio.to_thread(hedger.quote, eth, c)).status == QuoteStatus.OPENED
        await hedger.assert_hedged(symbol_id=2, symbol="ETHUSDT")
        alerts = await hedger.ledger(
            "SELECT message FROM alerts WHERE kind = 'emergency_close' ORDER BY id"
        )
        for quote_id in btc:
            assert any(f"position {quote_id}:" in a[0] and "made invalid" in a[0] for a in alerts)
    finally:
        await asyncio.to_thread(hedger.admin_send, "setSymbolValidationState", 1, True)
    await hedger.request_close(eth, account=c)
    await hedger.wait_chain(eth, {QuoteStatus.CLOSED}, account=c)
    await hedger.assert_hedged(symbol_id=2, symbol="ETHUSDT")


async def test_a_limit_close_the_market_touched_is_filled_well_inside_the_cooldown(
    hedger: Any, record_history: Any
) -> None:
    """A LIMIT close rests above a still market; the price spikes through it for a moment (its
    resting order trades one chunk) and falls back. From then on anyone could force-close it
    after the cooldowns, so the hedger closes the rest at market and fills the whole request
    at the requested price, long before forceCloseFirstCooldown (300 s) is over."""
    await hedger.freeze_prices()
    before = await hedger.broker_position()
    mark = await hedger.mark_price()
    quote_id = await hedger.send_quote(quantity=Decimal("0.02"))
    await hedger.wait_chain(quote_id, OPEN)
    close_price = (mark * Decimal("1.003")).quantize(Decimal("0.1"))
    await hedger.request_close(quote_id, order_type=OrderType.LIMIT, price=close_price)
    await hedger.wait_state(
        hedger.position(quote_id),
        lambda s: any(leg["purpose"] == "close" for leg in s.get("legs", [])),
    )
    started = time.monotonic()
    await hedger.set_price(close_price + 10)  # the market touches the limit: one chunk trades
    await asyncio.sleep(2)  # long enough for one of the hedger's mark reads to see it
    await hedger.set_price(mark)  # and falls back
    view = await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED}, timeout=90)
    assert time.monotonic() - started < 90
    assert view.closed_amount == view.quantity
    q = await asyncio.to_thread(hedger.contract().functions.getQuote(quote_id).call)
    assert int(q[17]) >= int(close_price * 10**18)  # avgClosedPrice: at least what was asked
    sent = await asyncio.to_thread(hedger.our_transactions, quote_id)
    assert sent.get("fillCloseRequest", 0) >= 1, sent
    assert (await hedger.wait_workflow(hedger.position(quote_id))).startswith("flat")
    assert await hedger.broker_traded(quote_id) == 0
    assert await hedger.broker_position() == before
    await hedger.assert_hedged()
    await record_history(hedger.position(quote_id), "PositionWorkflow", "limit-close-touched")


def _send_as(hedger: Any, key: str, fn: str, *args: Any) -> None:
    symmio = hedger.contract()
    w3 = symmio.w3
    account = w3.eth.account.from_key(key)
    tx = getattr(symmio.functions, fn)(*args).build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address),
         "gas": 5_000_000}
    )  # fmt: skip
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    )
    assert receipt["status"] == 1, fn


async def _price_range_sig(hedger: Any, party_a: str, t0: int, t1: int) -> tuple[Any, ...]:
    import httpx

    from adapters.muon.client import build_query
    from devnet.oracle import structs

    query = build_query(
        "priceRange",
        {"partyA": party_a, "partyB": hedger.our_party_b, "symbolId": 1, "t0": t0, "t1": t1,
         "chainId": hedger.chain_id, "symmio": hedger.symmio},
    )  # fmt: skip
    async with httpx.AsyncClient(timeout=10) as client:
        url = hedger.muon_url
        reply = await client.get(f"{url}{'&' if '?' in url else '?'}{query}")
    return structs.high_low_price_sig(reply.json())


async def test_a_third_party_force_close_is_followed_by_the_broker_and_its_cost_alerted(
    hedger: Any, record_history: Any
) -> None:
    """The broker refuses the hedge of a LIMIT close, so it stays unfilled while the market
    runs through it;
    after the force-close cooldowns the trader force-closes it with the oracle's high/low
    signature. Once the broker accepts again the hedge follows the chain (flat for the quote)
    and an alert states what the force-close cost."""
    from adapters.muon.client import MuonClient
    from tests.e2e.conftest import trader_key

    await hedger.freeze_prices()
    account = hedger.new_account()
    trader = hedger.trader(account)
    before = await hedger.broker_position()
    mark = await hedger.mark_price()
    quote_id = await hedger.send_quote(quantity=Decimal("0.01"), account=account)
    await hedger.wait_chain(quote_id, OPEN, account=account)
    close_price = (mark * Decimal("1.003")).quantize(Decimal("0.1"))
    await hedger.add_fault(kind="reject", path="/fapi/v1/order$", method="POST", count=None)
    try:
        await hedger.request_close(
            quote_id, order_type=OrderType.LIMIT, price=close_price, account=account
        )
        await hedger.wait_state(hedger.position(quote_id), lambda s: s.get("broker_rejected"))
        await hedger.clear_faults()  # the request's hedge was refused: the hedger leaves it
        requested_at = int(
            (await asyncio.to_thread(hedger.contract().functions.getQuote(quote_id).call))[22]
        )
        hedger.warp(310)  # past forceCloseFirstCooldown
        await hedger.set_price(close_price * Decimal("1.01"))  # the market runs through it
        async with MuonClient([hedger.muon_url]) as muon:  # the oracle stamps the new price
            await muon.party_a_upnl_and_price_sig(
                party_a=trader.address, chain_id=hedger.chain_id, symmio=hedger.symmio,
                symbol_id=1,
            )  # fmt: skip
        hedger.warp(200)  # past forceCloseSecondCooldown after that
        now = await asyncio.to_thread(trader.now)
        sig = await _price_range_sig(hedger, trader.address, requested_at + 300, now - 120)
        await asyncio.to_thread(
            _send_as, hedger, trader_key(account), "forceClosePosition", quote_id, sig
        )
        view = await asyncio.to_thread(hedger.quote, quote_id, account)
        assert view.status == QuoteStatus.CLOSED
    finally:
        await hedger.clear_faults()
        await hedger.set_price(mark)
    assert (await hedger.wait_workflow(hedger.position(quote_id))).startswith("flat")
    assert await hedger.broker_traded(quote_id) == 0
    assert await hedger.broker_position() == before
    await hedger.assert_hedged()
    assert "fillCloseRequest" not in await asyncio.to_thread(hedger.our_transactions, quote_id)
    alerts: list[Any] = []
    for _ in range(60):
        alerts = await hedger.ledger("SELECT message FROM alerts WHERE kind = 'force_closed'")
        if alerts:
            break
        await asyncio.sleep(0.5)
    assert any(f"position {quote_id}:" in a[0] and "cost" in a[0] for a in alerts), alerts
    assert any(f"requested {close_price:.2f}" in a[0] for a in alerts), alerts
    await record_history(hedger.position(quote_id), "PositionWorkflow", "force-closed")
