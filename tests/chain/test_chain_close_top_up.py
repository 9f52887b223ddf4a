"""The close top-up in `chain_fill_close_request`, against our devnet diamond (protocol-core
0.8.4's close-settlement rules, real Muon verification) through a real Temporal worker: a close
where PartyA's profit exceeds PartyB's allocation for that PartyA reverts without a top-up, and
passes with one `allocateForPartyB` of the shortfall + margin sent first; a repeated fill sends
neither again. What was sent is read from the chain's blocks, not from the hedger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from chain_helpers import chain_calls, funded_key
from conftest import PRICE
from devnet_diamond import DevnetSymmio, devnet_diamond_fixtures
from temporalio.client import Client
from test_chain_activities import call, ok, status_of

from devnet.oracle.prices import StaticPriceSource
from devnet.stack.anvil import Anvil
from domain.enums import QuoteStatus
from domain.quote import Quote

pytestmark = pytest.mark.usefixtures("chain_worker")
WAD = 10**18
PRICES = StaticPriceSource({"BTCUSDT": PRICE, "ETHUSDT": Decimal("3000")})  # moved by tests
hedger_key, symmio, oracle, party_a = devnet_diamond_fixtures(PRICES)


def _allocated(symmio: DevnetSymmio, party_b: str, party_a: str) -> Decimal:
    return (
        Decimal(symmio.contract.functions.allocatedBalanceOfPartyB(party_b, party_a).call()) / WAD
    )


async def test_a_profitable_close_is_topped_up_once_then_filled(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    party_a: tuple[str, str], hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    _, agent = chain_worker
    us = hedger_key[1]
    PRICES.set_price("BTCUSDT", PRICE)
    # LONG 0.1 at 10x: the lock allocates twice what it locks (2 × 480.8) for this PartyA
    qid = symmio.send_quote(party_a[0], quantity=Decimal("0.1"))
    ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                  {"quote_id": qid, "allocate_first": "5000"}))  # fmt: skip
    ok(await call(temporal_client, chain_worker, "chain_open_position",
                  {"quote_id": qid, "filled_amount": "0.1", "opened_price": str(PRICE)}))  # fmt: skip
    allocation = _allocated(symmio, us, party_a[1])
    assert allocation == Decimal("961.6")
    # +20%: PartyA's profit on the close (1,200) is more than PartyB holds for it
    PRICES.set_price("BTCUSDT", PRICE * Decimal("1.2"))
    symmio.request_to_close(party_a[0], qid, PRICE * Decimal("1.19"), Decimal("0.1"))
    start = symmio.w3.eth.block_number
    fill = {"quote_id": qid, "filled_amount": "0.1", "closed_price": str(PRICE * Decimal("1.2")),
            "closed_amount_before": "0"}  # fmt: skip

    agent.activities.close_top_up = False  # the hedger before this change
    try:
        refused = await call(temporal_client, chain_worker, "chain_fill_close_request", fill)
    finally:
        agent.activities.close_top_up = True
    assert refused["error"]["type"] == "TxReverted", refused
    assert refused["error"]["details"] == ["LibSolvency: Available balance is lower than zero"]
    assert status_of(symmio, qid) == QuoteStatus.CLOSE_PENDING

    filled = ok(await call(temporal_client, chain_worker, "chain_fill_close_request", fill))
    assert filled["tx_hash"] and status_of(symmio, qid) == QuoteStatus.CLOSED
    allocations = chain_calls(symmio, us, "allocateForPartyB", start)
    assert len(allocations) == 1 and allocations[0]["status"] == 1
    profit = Decimal("1200")
    assert Decimal(allocations[0]["args"]["amount"]) / WAD == profit - allocation + 1
    assert _allocated(symmio, us, party_a[1]) == 1  # exactly the margin is left

    again = ok(await call(temporal_client, chain_worker, "chain_fill_close_request", fill))
    assert again["already_done"]
    assert len(chain_calls(symmio, us, "allocateForPartyB", start)) == 1
    assert len(chain_calls(symmio, us, "fillCloseRequest", start)) == 1


async def test_a_close_the_allocation_covers_sends_no_top_up(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    party_a: tuple[str, str], hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    PRICES.set_price("BTCUSDT", PRICE)
    qid = symmio.send_quote(party_a[0], quantity=Decimal("0.1"))
    ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                  {"quote_id": qid, "allocate_first": "5000"}))  # fmt: skip
    ok(await call(temporal_client, chain_worker, "chain_open_position",
                  {"quote_id": qid, "filled_amount": "0.1", "opened_price": str(PRICE)}))  # fmt: skip
    PRICES.set_price("BTCUSDT", PRICE * Decimal("1.01"))  # PartyA's profit 60: covered
    symmio.request_to_close(party_a[0], qid, PRICE, Decimal("0.1"))
    start = symmio.w3.eth.block_number
    fill = {"quote_id": qid, "filled_amount": "0.1", "closed_price": str(PRICE * Decimal("1.01")),
            "closed_amount_before": "0"}  # fmt: skip
    ok(await call(temporal_client, chain_worker, "chain_fill_close_request", fill))
    assert status_of(symmio, qid) == QuoteStatus.CLOSED
    assert chain_calls(symmio, hedger_key[1], "allocateForPartyB", start) == []


async def test_without_free_balance_for_a_top_up_partya_losing_quote_is_settled_first(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    anvil: Anvil, hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """PartyA holds a LONG and an offsetting SHORT with us; the price rises 50%. The LONG's
    close needs more than PartyB's allocation for PartyA and PartyB's free balance cannot pay a
    top-up: the fill reverts ("PartyA should first exit its positions that are incurring
    losses") unless the hedger first `settleUpnl`s the losing SHORT, which moves PartyA's loss
    into PartyB's allocation. Then the fill passes; no allocation is sent; a repeat sends
    nothing more."""
    us = hedger_key[1]
    key, trader = funded_key(anvil)
    symmio.trader(key).fund(100_000 * WAD)
    PRICES.set_price("BTCUSDT", PRICE)
    qty = Decimal("0.1")
    long_q = symmio.send_quote(key, quantity=qty)
    short_q = symmio.send_quote(key, position_type=1, price=PRICE - 100, quantity=qty)
    for qid in (long_q, short_q):
        ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                      {"quote_id": qid, "allocate_first": "5000"}))  # fmt: skip
        ok(await call(temporal_client, chain_worker, "chain_open_position",
                      {"quote_id": qid, "filled_amount": str(qty), "opened_price": str(PRICE)}))  # fmt: skip
    # PartyB's free balance goes elsewhere (allocated for another PartyA): no top-up possible
    free = Decimal(symmio.contract.functions.balanceOf(us).call()) / WAD
    elsewhere = funded_key(anvil)[1]
    ok(await call(temporal_client, chain_worker, "chain_allocate_for_party_b",
                  {"amount": str(free - 10), "party_a": elsewhere}))  # fmt: skip
    allocation = _allocated(symmio, us, trader)
    PRICES.set_price("BTCUSDT", PRICE * Decimal("1.5"))
    profit = qty * PRICE / 2
    assert profit > allocation and profit - allocation > 10  # more than a top-up could pay
    symmio.request_to_close(key, long_q, PRICE * Decimal("1.49"), qty)
    start = symmio.w3.eth.block_number
    fill = {"quote_id": long_q, "filled_amount": str(qty),
            "closed_price": str(PRICE * Decimal("1.5")), "closed_amount_before": "0"}  # fmt: skip

    _, agent = chain_worker
    agent.activities.close_settle_upnl = False  # the hedger before this change
    try:
        refused = await call(temporal_client, chain_worker, "chain_fill_close_request", fill)
    finally:
        agent.activities.close_settle_upnl = True
    assert refused["error"]["type"] == "TxReverted", refused
    assert refused["error"]["details"] == [
        "LibQuote: PartyA should first exit its positions that are incurring losses"
    ]
    assert status_of(symmio, long_q) == QuoteStatus.CLOSE_PENDING

    filled = ok(await call(temporal_client, chain_worker, "chain_fill_close_request", fill))
    assert filled["tx_hash"] and status_of(symmio, long_q) == QuoteStatus.CLOSED
    settles = chain_calls(symmio, us, "settleUpnl", start)
    assert len(settles) == 1 and settles[0]["status"] == 1
    assert chain_calls(symmio, us, "allocateForPartyB", start) == []
    # the SHORT was settled fully at the signed price; it stays open
    assert status_of(symmio, short_q) == QuoteStatus.OPENED
    assert Quote.from_struct(symmio.quote(short_q)).opened_price == PRICE * Decimal("1.5")

    again = ok(await call(temporal_client, chain_worker, "chain_fill_close_request", fill))
    assert again["already_done"]
    assert len(chain_calls(symmio, us, "settleUpnl", start)) == 1
    assert len(chain_calls(symmio, us, "fillCloseRequest", start)) == 1
