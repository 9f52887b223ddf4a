"""End-to-end lifecycle on the real local stack: chain, broker, Temporal, ledger, all real.

Each test drives the hedger from the outside (PartyA transactions, exchange prices and faults,
operator signals) and ends with the invariant checked from the outside: what is open on chain
against us equals what the broker holds, and no client order id produced two orders.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from bench.stats import local_activity_type
from domain.enums import OrderType, PositionType, QuoteStatus
from interfaces.workflows import OperatorCommand

pytestmark = pytest.mark.slow

OPEN = {QuoteStatus.OPENED}
GONE = {QuoteStatus.CANCELED, QuoteStatus.EXPIRED, QuoteStatus.CLOSED}


async def test_market_open_then_market_close(hedger, record_history) -> None:  # type: ignore[no-untyped-def]
    before = await hedger.broker_position()
    quote_id = await hedger.send_quote(
        side=PositionType.LONG, order_type=OrderType.MARKET, quantity=Decimal("0.01")
    )
    view = await hedger.wait_chain(quote_id, OPEN)
    assert view.quantity == 10**16
    assert await hedger.wait_workflow(hedger.intent(quote_id)) == "opened"
    assert await hedger.broker_position() - before == Decimal("0.01")
    await hedger.assert_hedged()

    await hedger.request_close(quote_id)
    await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED})
    assert (await hedger.wait_workflow(hedger.position(quote_id))).startswith("flat")
    assert await hedger.broker_position() == before
    await hedger.assert_hedged()
    rows = await hedger.ledger("SELECT hedge_status FROM quotes WHERE quote_id = :q", q=quote_id)
    assert rows and rows[0][0] in {"OPEN", "CLOSED"}
    # every run: the e2e stack's small history limit continues them as new, and the first
    # runs hold the open and idle patch markers
    # before the lock: one round of reads that reserves too, then the lock (no reservation
    # of its own in between); the reads are local activities, in the first workflow task
    before_lock = await _before_lock(hedger.client, hedger.intent(quote_id).id)
    assert before_lock == (
        [],
        ["broker_market_snapshot", "chain_open_facts", "ops_open_inputs_reserving"],
        1,
    )
    # the position works on the symbol and market the intent hedged on: it reads neither again
    position_reads = await _activities_of_first_run(hedger.client, hedger.position(quote_id).id)
    assert not {"chain_symbol_info", "broker_market_rules"} & set(position_reads)
    assert "chain_position_facts" not in position_reads  # a local activity: a marker, not a task
    await record_history(hedger.intent(quote_id), "IntentWorkflow", "seq-clock", every_run=True)
    await record_history(hedger.position(quote_id), "PositionWorkflow", "seq-clock", every_run=True)


async def test_short_market_open_then_close(hedger) -> None:  # type: ignore[no-untyped-def]
    before = await hedger.broker_position()
    quote_id = await hedger.send_quote(side=PositionType.SHORT, quantity=Decimal("0.02"))
    await hedger.wait_chain(quote_id, OPEN)
    assert await hedger.broker_position() - before == Decimal("-0.02")
    await hedger.request_close(quote_id)
    await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED})
    await hedger.wait_workflow(hedger.position(quote_id))
    await hedger.assert_hedged()


async def test_cancel_while_locked_and_hedging(hedger, record_history) -> None:  # type: ignore[no-untyped-def]
    # A passive LIMIT far from a frozen market: the hedger locks and rests an order that cannot fill.
    await hedger.freeze_prices()
    quote_id = await hedger.send_quote(order_type=OrderType.LIMIT, price_offset=Decimal("0.05"))
    await hedger.wait_state(hedger.intent(quote_id), lambda s: s.get("hedge_status") == "HEDGING")
    assert (await asyncio.to_thread(hedger.quote, quote_id)).status == QuoteStatus.LOCKED
    await asyncio.to_thread(hedger.trader().request_to_cancel_quote, quote_id)
    await hedger.wait_chain(quote_id, {QuoteStatus.CANCELED})
    result = await hedger.wait_workflow(hedger.intent(quote_id))
    assert "CANCELED" in result
    orders = await hedger.broker_orders(quote_id)
    assert orders and all(o["status"] in {"CANCELED", "EXPIRED"} for o in orders)
    await hedger.assert_hedged()
    await hedger.freeze_prices()  # stays frozen: the session runs on a still market
    await record_history(hedger.intent(quote_id), "IntentWorkflow", "cancel-while-hedging")


async def test_cancel_close_request(hedger) -> None:  # type: ignore[no-untyped-def]
    quote_id = await hedger.send_quote(quantity=Decimal("0.01"))
    await hedger.wait_chain(quote_id, OPEN)
    # A LIMIT close far above the market: the hedger rests a reduce-only order that cannot fill.
    view = hedger.quote(quote_id)
    await hedger.request_close(quote_id, order_type=OrderType.LIMIT, price=Decimal("1000000"))
    await hedger.wait_state(
        hedger.position(quote_id),
        lambda s: any(leg["purpose"] == "close" for leg in s.get("legs", [])),
    )
    await asyncio.to_thread(hedger.trader().request_to_cancel_close_request, quote_id)
    back = await hedger.wait_chain(quote_id, OPEN)
    assert back.closed_amount == view.closed_amount
    await hedger.assert_hedged()
    await hedger.request_close(quote_id)  # clean up: a MARKET close
    await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED})
    await hedger.assert_hedged()


async def test_expiry_of_a_locked_quote(hedger) -> None:  # type: ignore[no-untyped-def]
    await hedger.freeze_prices()
    quote_id = await hedger.send_quote(
        order_type=OrderType.LIMIT, price_offset=Decimal("0.05"), deadline_in=90
    )
    await hedger.wait_state(hedger.intent(quote_id), lambda s: s.get("hedge_status") == "HEDGING")
    hedger.warp(120)  # past the deadline: the hedger cancels its order and lets the quote expire
    await hedger.wait_chain(quote_id, {QuoteStatus.EXPIRED, QuoteStatus.PENDING}, timeout=60)
    result = await hedger.wait_workflow(hedger.intent(quote_id))
    assert result.startswith("flat")
    await hedger.assert_hedged()
    await hedger.freeze_prices()  # stays frozen: the session runs on a still market


async def test_halt_rejects_new_intents_and_resume_trades_again(hedger) -> None:  # type: ignore[no-untyped-def]
    import sys

    async def ops(*args: str) -> None:
        env = dict(hedger.processes.env)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hedger", "ops", *args, env=env
        )
        assert await proc.wait() == 0

    await ops("halt", "--reason", "e2e")
    try:
        quote_id = await hedger.send_quote()
        assert await hedger.wait_workflow(hedger.intent(quote_id)) == "rejected"
        assert (await asyncio.to_thread(hedger.quote, quote_id)).status == QuoteStatus.PENDING
    finally:
        await ops("resume", "--reason", "e2e done")
    quote_id = await hedger.send_quote()
    await hedger.wait_chain(quote_id, OPEN)
    await hedger.request_close(quote_id)
    await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED})
    await hedger.assert_hedged()


async def test_a_refused_unwind_parks_in_stuck_until_an_operator_retries(hedger) -> None:  # type: ignore[no-untyped-def]
    """A LIMIT hedge fills while PartyB actions are paused, so the hedger holds the open back;
    the quote's deadline passes before the pause ends, so the fill must be unwound; the broker
    refuses the unwind for good: that needs a person (STUCK, found with the Temporal UI's
    query). The operator's `retry` unwinds it and the intent ends."""
    await hedger.freeze_prices()
    quote_id = await hedger.send_quote(order_type=OrderType.LIMIT, price_offset=Decimal("0.05"))
    (order,) = await hedger.wait_orders(quote_id)
    mark = await hedger.mark_price()
    await asyncio.to_thread(hedger.admin_send, "pausePartyBActions")
    await hedger.add_fault(kind="reject", path="/fapi/v1/order$", method="POST", count=None)
    try:
        await hedger.set_price(Decimal(order["price"]) * Decimal("0.99"))  # the hedge fills
        await hedger.wait_state(
            hedger.intent(quote_id),
            lambda s: any(
                Decimal(str((leg.get("snapshot") or {}).get("filled", "0"))) > 0
                for leg in s.get("legs", [])
            ),
        )
        hedger.warp(3700)  # past the quote's deadline while paused: openPosition is impossible
        await hedger.wait_state(
            hedger.intent(quote_id), lambda s: s.get("hedge_status") == "STUCK", timeout=120
        )
        stuck = [wf.id async for wf in hedger.client.list_workflows('HedgeStatus="STUCK"')]
        assert hedger.intent(quote_id).id in stuck
        # the Temporal UI shows why, and which signals it takes
        from temporalio.api.sdk.v1 import WorkflowMetadata

        meta = await hedger.intent(quote_id).query(
            "__temporal_workflow_metadata", result_type=WorkflowMetadata
        )
        assert "STUCK" in meta.current_details and "`retry`" in meta.current_details
        assert "unwind refused" in meta.current_details
    finally:
        await hedger.clear_faults()
        await hedger.set_price(mark)
        await asyncio.to_thread(hedger.admin_send, "unpausePartyBActions")
    await hedger.intent(quote_id).signal(
        "retry", OperatorCommand(reason="broker accepts again", operator="e2e")
    )
    result = await hedger.wait_workflow(hedger.intent(quote_id), timeout=120)
    assert result.startswith("flat"), result
    state = await hedger.intent(quote_id).query("state")
    assert any("retry by e2e" in line for line in state["operator_log"])
    assert await hedger.broker_traded(quote_id) == 0
    await hedger.assert_hedged()


async def test_broker_worker_killed_mid_order_loses_and_duplicates_nothing(hedger) -> None:  # type: ignore[no-untyped-def]
    import httpx

    async with httpx.AsyncClient(timeout=10) as client:
        # The order request reaches the exchange but its answer is slow: kill the worker meanwhile.
        fault = {
            "kind": "latency",
            "path": "/fapi/v1/order",
            "method": "POST",
            "count": 1,
            "delay": 4.0,
        }
        (await client.post(f"{hedger.exchange_url}/admin/faults", json=fault)).raise_for_status()
        quote_id = await hedger.send_quote(quantity=Decimal("0.01"))
        await hedger.wait_state(
            hedger.intent(quote_id), lambda s: s.get("hedge_status") == "HEDGING"
        )
        await asyncio.sleep(1.0)
        hedger.processes.kill("worker-broker")
        await asyncio.sleep(1.0)
        hedger.processes.restart("worker-broker")
    await hedger.wait_chain(quote_id, OPEN, timeout=150)
    orders = await hedger.broker_orders(quote_id)
    assert len({o["clientOrderId"] for o in orders}) == len(orders)
    sent = await asyncio.to_thread(hedger.our_transactions, quote_id)
    assert sent.get("openPosition") == 1 and sent.get("lockQuote") == 1, sent
    await hedger.assert_hedged()
    await hedger.request_close(quote_id)
    await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED})
    await hedger.assert_hedged()


async def test_opposite_hedges_net_on_one_broker_position(hedger) -> None:  # type: ignore[no-untyped-def]
    """Two traders on opposite sides: closing one quote's hedge crosses the netted broker position."""
    before = await hedger.broker_position()
    long_id = await hedger.send_quote(side=PositionType.LONG, quantity=Decimal("0.01"), account=5)
    short_id = await hedger.send_quote(side=PositionType.SHORT, quantity=Decimal("0.03"), account=6)
    await hedger.wait_chain(long_id, OPEN, account=5)
    await hedger.wait_chain(short_id, OPEN, account=6)
    assert await hedger.broker_position() - before == Decimal("-0.02")
    await hedger.request_close(long_id, account=5)  # a SELL while the account is net short
    await hedger.wait_chain(long_id, {QuoteStatus.CLOSED}, account=5)
    assert await hedger.broker_position() - before == Decimal("-0.03")
    await hedger.request_close(short_id, account=6)
    await hedger.wait_chain(short_id, {QuoteStatus.CLOSED}, account=6)
    assert await hedger.broker_position() == before
    await hedger.assert_hedged()


async def test_force_cancel_after_the_cooldown_leaves_the_broker_flat(hedger) -> None:  # type: ignore[no-untyped-def]
    """The chain agent is down while a trader cancels a LOCKED quote; after forceCancelCooldown the
    trader force-cancels. When the agent is back the intent sees CANCELED and the broker is flat."""
    await hedger.freeze_prices()
    try:
        quote_id = await hedger.send_quote(order_type=OrderType.LIMIT, price_offset=Decimal("0.05"))
        await hedger.wait_state(
            hedger.intent(quote_id), lambda s: s.get("hedge_status") == "HEDGING"
        )
        hedger.processes.kill("worker-chain")
        trader = hedger.trader()
        await asyncio.to_thread(trader.request_to_cancel_quote, quote_id)
        assert (
            await asyncio.to_thread(hedger.quote, quote_id)
        ).status == QuoteStatus.CANCEL_PENDING
        hedger.warp(301)  # past forceCancelCooldown (300 s on the devnet)
        await asyncio.to_thread(trader.send, "forceCancelQuote(uint256)", quote_id)
        assert (await asyncio.to_thread(hedger.quote, quote_id)).status == QuoteStatus.CANCELED
        hedger.processes.restart("worker-chain")
        result = await hedger.wait_workflow(hedger.intent(quote_id), timeout=150)
        assert "CANCELED" in result
        orders = await hedger.broker_orders(quote_id)
        assert orders and all(o["status"] in {"CANCELED", "EXPIRED"} for o in orders)
        await hedger.assert_hedged()
    finally:
        await hedger.freeze_prices()  # stays frozen: the session runs on a still market


async def test_limit_partial_fill_opens_what_filled(hedger) -> None:  # type: ignore[no-untyped-def]
    """A resting LIMIT hedge fills one chunk; near the deadline the hedger cancels the rest and
    opens what filled; the contract turns the remainder into a child quote (its own intent)."""
    await hedger.freeze_prices()
    try:
        quote_id = await hedger.send_quote(
            order_type=OrderType.LIMIT,
            quantity=Decimal("0.02"),
            price_offset=Decimal("0.05"),
            deadline_in=120,
        )
        await hedger.wait_state(
            hedger.intent(quote_id), lambda s: s.get("hedge_status") == "HEDGING"
        )
        orders = await hedger.broker_orders(quote_id)
        for _ in range(60):  # HEDGING is set just before the order is sent
            if orders:
                break
            await asyncio.sleep(0.5)
            orders = await hedger.broker_orders(quote_id)
        (order,) = orders
        # 18 s before the deadline (inside the hedger's margin) a chunk fills: the fill wakes
        # the hedger, which cancels the rest and opens what filled. (The chain's clock jumps
        # here; the hedger notices the jump on its next look at the chain.)
        hedger.warp(102)
        # crosses for one match: a 300 USD chunk fills, the rest of the order keeps resting (two
        # set_price calls let a chunk fill per 0.25 s tick between them: under load, all of it)
        await hedger.touch_price(Decimal(order["price"]) - 1)
        view = await hedger.wait_chain(quote_id, OPEN, timeout=60)
        assert 0 < view.quantity < 2 * 10**16  # what filled; the rest moved to the child quote
        assert await hedger.wait_workflow(hedger.intent(quote_id)) == "opened"
        children = await hedger.ledger(
            "SELECT quote_id FROM quotes WHERE parent_id = :q", q=quote_id
        )
        for _ in range(40):
            if children:
                break
            await asyncio.sleep(0.5)
            children = await hedger.ledger(
                "SELECT quote_id FROM quotes WHERE parent_id = :q", q=quote_id
            )
        assert children, "the remainder's SendQuote did not start an intent"
        child = children[0][0]
        assert (await asyncio.to_thread(hedger.quote, child)).quantity == 2 * 10**16 - view.quantity
        await hedger.wait_workflow(hedger.intent(child))  # too close to its deadline: not taken
        await hedger.assert_hedged()
        await hedger.request_close(quote_id)
        await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED})
        await hedger.assert_hedged()
    finally:
        await hedger.freeze_prices()  # stays frozen: the session runs on a still market


async def test_party_a_liquidation_brings_the_broker_side_to_match(hedger) -> None:  # type: ignore[no-untyped-def]
    """A liquidator liquidates an insolvent PartyA with our position open: the position workflow
    sees LIQUIDATED and flattens the broker hedge."""
    from web3 import Web3

    from adapters.chain.abi import symmio_abi
    from devnet.contracts.deploy import ANVIL_KEYS
    from devnet.oracle.signer import DEVNET_MUON_APP_ID, default_devnet_signer
    from domain.muon import LiquidationSig, SchnorrSign, liquidation_hash

    before = await hedger.broker_position()
    quote_id = await hedger.send_quote(quantity=Decimal("0.01"), account=7)
    await hedger.wait_chain(quote_id, OPEN, account=7)
    assert await hedger.broker_position() - before == Decimal("0.01")

    w3 = Web3(Web3.HTTPProvider(hedger.rpc_url))
    symmio = w3.eth.contract(
        address=Web3.to_checksum_address(hedger.symmio), abi=list(symmio_abi())
    )
    party_a = hedger.trader(7).address
    admin = w3.eth.account.from_key(ANVIL_KEYS[0])

    def send(fn: str, *args: object) -> None:
        tx = getattr(symmio.functions, fn)(*args).build_transaction(
            {
                "from": admin.address,
                "nonce": w3.eth.get_transaction_count(admin.address),
                "gas": 5_000_000,
            }
        )
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(admin.sign_transaction(tx).raw_transaction)
        )
        assert receipt["status"] == 1, fn

    def liquidate() -> None:
        allocated = symmio.functions.partyAStats(party_a).call()[1]
        signer, ts, lid, req = (
            default_devnet_signer(),
            w3.eth.get_block("latest")["timestamp"],
            b"e2e-liq",
            b"\x01",
        )
        upnl = -int(allocated) - 10**18  # deeper than everything PartyA has: insolvent
        digest = liquidation_hash(
            muon_app_id=DEVNET_MUON_APP_ID, req_id=req, liquidation_id=lid, symmio=hedger.symmio, party_a=party_a,
            nonce_a=symmio.functions.nonceOfPartyA(party_a).call(), upnl=upnl, total_unrealized_loss=upnl,
            symbol_ids=[], prices=[], timestamp=ts, chain_id=hedger.chain_id,
        )  # fmt: skip
        signed = signer.sign(digest.digest)
        sig = LiquidationSig(req, ts, lid, upnl, upnl, (), (), signed.gateway_signature,
                             SchnorrSign(signed.s, signed.owner, signed.nonce_address))  # fmt: skip
        send("liquidatePartyA", party_a, sig.to_abi_tuple())
        send("liquidatePendingPositionsPartyA", party_a)
        send("liquidatePositionsPartyA", party_a, [quote_id])

    await asyncio.to_thread(liquidate)
    assert (await asyncio.to_thread(hedger.quote, quote_id, 7)).status == QuoteStatus.LIQUIDATED
    # Whichever workflow sees it first flattens the hedge: the position workflow, or the intent
    # itself when the liquidation lands before it handed over.
    for _ in range(240):
        if await hedger.broker_position() == before:
            break
        await asyncio.sleep(0.5)
    assert await hedger.broker_position() == before
    await hedger.assert_hedged()


async def _before_lock(client: Any, workflow_id: str) -> tuple[list[str], list[str], int]:
    """What the first run did before it scheduled `chain_lock_quote`: the activities it
    scheduled (ledger writes aside), the local activities it recorded, and the workflow tasks
    it completed (the lock's included)."""
    runs = [r async for r in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    first = min(runs, key=lambda r: r.start_time)
    history = await client.get_workflow_handle(workflow_id, run_id=first.run_id).fetch_history()
    names: list[str] = []
    local: list[str] = []
    tasks = 0
    for event in history.events:
        if event.HasField("workflow_task_completed_event_attributes"):
            tasks += 1
        local_type = local_activity_type(event)
        if local_type is not None:
            local.append(local_type)
        if event.HasField("activity_task_scheduled_event_attributes"):
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            if name == "chain_lock_quote":
                return sorted(names), sorted(local), tasks
            if not name.startswith(("ledger_", "ops_resize")):
                names.append(name)
    raise AssertionError(f"{workflow_id}: no lock in its first run's history")


async def _activities_of_first_run(client: Any, workflow_id: str) -> list[str]:
    runs = [r async for r in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    first = min(runs, key=lambda r: r.start_time)
    history = await client.get_workflow_handle(workflow_id, run_id=first.run_id).fetch_history()
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
