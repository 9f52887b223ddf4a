"""Every honest counter meets a real violation on the real devnet — and counts it.

No hedger runs here: the test plays PartyB by hand (transactions signed with the hedger's key)
and trades on the simulator behind anyone's back; the audit reads only the chain, the
simulator's own records and Temporal's visibility.
"""

from __future__ import annotations

import asyncio
import uuid

from audit_helpers import Devnet

from devnet.audit import audit_run


async def test_a_clean_lifecycle_counts_nothing(devnet: Devnet) -> None:
    scope = devnet.scope()
    quote_id = await devnet.send_quote()
    await devnet.lock(quote_id)
    await devnet.broker_order(f"h{quote_id}o1", "buy", "0.01")
    await devnet.open(quote_id)
    report = await audit_run(scope)
    # a run that wound down must end with nothing open
    assert report.counters["stuck"] == 1
    assert report.details["stuck"][0]["reasons"] == ["chain status OPENED"]
    scope.open_positions_ok = True  # a run that ends mid-trade: a hedged open position is fine
    report = await audit_run(scope)
    assert report.counters == dict.fromkeys(report.counters, 0), report.details
    assert report.outcomes == {"OPENED": 1}
    assert report.details["txs_by_action"] == {
        "allocateForPartyB": 1,
        "lockQuote": 1,
        "openPosition": 1,
    }
    assert report.details["net_exposure"] == {"BTCUSDT": {"chain": "0.01", "broker": "0.01"}}


async def test_locked_without_a_hedge_is_stuck_and_a_naked_broker_fill_is_over_hedging(
    devnet: Devnet,
) -> None:
    scope = devnet.scope()
    quote_id = await devnet.send_quote()
    await devnet.lock(quote_id)
    report = await audit_run(scope)
    assert report.counters["stuck"] == 1
    assert report.details["stuck"][0]["reasons"] == ["chain status LOCKED"]
    assert report.counters["over_hedged"] == 0

    await devnet.broker_order(f"h{quote_id}o1", "buy", "0.01")  # hedged, never opened on chain
    report = await audit_run(scope)
    assert report.counters["over_hedged"] == 1 and report.counters["unhedged_symbols"] == 1
    row = report.details["over_hedged"][0]
    assert {k: row[k] for k in ("quote", "status", "chain_open", "broker_net", "diff")} == {
        "quote": quote_id, "status": "LOCKED", "chain_open": "0", "broker_net": "0.01", "diff": "0.01",
    }  # fmt: skip
    assert row["fills"][0].startswith(f"h{quote_id}o1 BUY 0.01 @ ")
    assert report.details["net_exposure"]["BTCUSDT"]["mismatch"] == "0.01"


async def test_an_open_position_without_its_hedge_is_under_hedging(devnet: Devnet) -> None:
    scope = devnet.scope()
    quote_id = await devnet.send_quote()
    await devnet.lock(quote_id)
    await devnet.open(quote_id)  # opened on chain, nothing on the broker
    report = await audit_run(scope)
    assert report.counters["under_hedged"] == 1 and report.counters["unhedged_symbols"] == 1
    assert report.counters["stuck"] == 1  # broker side does not match
    assert report.details["under_hedged"][0]["diff"] == "-0.01"


async def test_a_second_lock_transaction_is_a_duplicate(devnet: Devnet) -> None:
    scope = devnet.scope()
    quote_id = await devnet.send_quote()
    await devnet.lock(quote_id)
    await devnet.lock(quote_id, expect_revert=True)  # mined, reverted: still a second lockQuote
    report = await audit_run(scope)
    assert report.counters["duplicate_txs"] == 1
    dup = report.details["duplicate_txs"][0]
    assert dup["quote"] == quote_id and dup["action"] == "lockQuote"
    assert [t["ok"] for t in dup["txs"]] == [True, False]
    assert report.details["reverted_txs"] == {"lockQuote": 1}


async def test_a_fill_close_that_is_not_needed_is_a_duplicate(devnet: Devnet) -> None:
    scope = devnet.scope()
    scope.open_positions_ok = True
    quote_id = await devnet.send_quote()
    await devnet.lock(quote_id)
    await devnet.broker_order(f"h{quote_id}o1", "buy", "0.01")
    await devnet.open(quote_id)
    await devnet.fill_close(quote_id, 10**16)  # no close request: reverts
    report = await audit_run(scope)
    assert report.counters["duplicate_txs"] == 1
    assert report.details["duplicate_txs"][0]["action"] == "fillCloseRequest"


async def test_an_order_placed_twice_under_one_client_id_is_a_duplicate_order(
    devnet: Devnet,
) -> None:
    scope = devnet.scope()
    scope.open_positions_ok = True
    quote_id = await devnet.send_quote()
    await devnet.lock(quote_id)
    await devnet.broker_order(f"h{quote_id}o1", "buy", "0.01")
    await devnet.open(quote_id)
    await devnet.broker_order(f"h{quote_id}o1", "buy", "0.01")  # the filled id, placed again
    report = await audit_run(scope)
    # one extra order under the id, and the quote traded beyond its quantity
    assert report.counters["duplicate_orders"] == 2
    rows = report.details["duplicate_orders"]
    assert {"client_order_id": f"h{quote_id}o1", "orders": 2} in rows
    assert any(r.get("quote") == quote_id and r["excess_open"] == "0.01" for r in rows)
    assert report.counters["over_hedged"] == 1


async def test_an_order_under_a_new_id_that_no_quote_needs_counts(devnet: Devnet) -> None:
    scope = devnet.scope()
    scope.open_positions_ok = True
    quote_id = await devnet.send_quote()
    await devnet.lock(quote_id)
    await devnet.broker_order(f"h{quote_id}o1", "buy", "0.01")
    await devnet.open(quote_id)
    await devnet.broker_order(f"h{quote_id}o2", "buy", "0.01")  # a second hedge, new id
    await devnet.broker_order(f"h{quote_id + 50}o1", "sell", "0.01")  # a quote that does not exist
    report = await audit_run(scope)
    assert report.counters["duplicate_orders"] == 1  # quote_id traded 0.02 for 0.01
    assert {r["quote"] for r in report.details["over_hedged"]} == {quote_id}
    assert {r["quote"] for r in report.details["under_hedged"]} == {quote_id + 50}
    assert report.counters["unhedged_symbols"] == 0  # the two mistakes cancel on the net only


async def test_a_running_workflow_is_stuck_whatever_it_says(devnet: Devnet) -> None:
    from temporalio.client import Client

    scope = devnet.scope()
    scope.open_positions_ok = True
    quote_id = await devnet.send_quote()
    await devnet.lock(quote_id)
    await devnet.broker_order(f"h{quote_id}o1", "buy", "0.01")
    await devnet.open(quote_id)
    client = await Client.connect(devnet.temporal_address)
    workflow_id = f"intent-{devnet.chain_id}-{quote_id}"
    handle = await client.start_workflow(
        "IntentWorkflow", id=workflow_id, task_queue=f"nobody-{uuid.uuid4().hex[:8]}"
    )
    try:
        report = await audit_run(scope)
        assert report.counters["stuck"] == 1
        assert report.details["stuck"] == [
            {"quote": quote_id, "status": "OPENED",
             "reasons": [f"workflow {workflow_id} still running"]},
        ]  # fmt: skip
    finally:
        await handle.terminate("test over")
    await asyncio.sleep(0.5)
    assert (await audit_run(scope)).counters["stuck"] == 0
