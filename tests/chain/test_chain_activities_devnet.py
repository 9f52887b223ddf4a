"""The chain activities against our devnet SYMMIO diamond (real Muon verification on chain), the
devnet oracle and Postgres, through a real Temporal worker — with the packaged ABI, as in
production. The contract checks every Schnorr + gateway signature and its embedded nonces, so a
signature carried across a nonce bump, or two transactions of one pair in flight at once,
would revert with "LibMuon: TSS not verified"."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from chain_helpers import funded_key
from conftest import PRICE
from devnet_diamond import DevnetSymmio, devnet_diamond_fixtures
from temporalio.client import Client
from test_chain_activities import call, ok, status_of, tx_rows, wait_rows

from devnet.stack.anvil import Anvil
from domain.enums import QuoteStatus

pytestmark = pytest.mark.usefixtures("chain_worker")


hedger_key, symmio, oracle, party_a = devnet_diamond_fixtures()


async def test_lifecycle_on_the_devnet_diamond(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    party_a: tuple[str, str], hedger_key: tuple[str, str], database_url: str,
) -> None:  # fmt: skip
    quote_id = symmio.send_quote(party_a[0])
    view = ok(await call(temporal_client, chain_worker, "chain_read_quote", {"quote_id": quote_id}))
    assert view["status"] == QuoteStatus.PENDING and Decimal(view["quantity"]) == Decimal("0.01")
    locked = ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                           {"quote_id": quote_id, "allocate_first": "5000"}))  # fmt: skip
    assert locked["tx_hash"] and status_of(symmio, quote_id) == QuoteStatus.LOCKED
    count = symmio.w3.eth.get_transaction_count(hedger_key[1])
    again = ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                          {"quote_id": quote_id, "allocate_first": "5000"}))  # fmt: skip
    assert again["already_done"] and symmio.w3.eth.get_transaction_count(hedger_key[1]) == count
    opened = ok(await call(temporal_client, chain_worker, "chain_open_position",
                           {"quote_id": quote_id, "filled_amount": "0.01", "opened_price": "60000"}))  # fmt: skip
    assert opened["tx_hash"] and status_of(symmio, quote_id) == QuoteStatus.OPENED
    symmio.request_to_close(party_a[0], quote_id, PRICE - 100, Decimal("0.01"))
    assert status_of(symmio, quote_id) == QuoteStatus.CLOSE_PENDING
    filled = ok(await call(temporal_client, chain_worker, "chain_fill_close_request",
                           {"quote_id": quote_id, "filled_amount": "0.01", "closed_price": "60000"}))  # fmt: skip
    assert filled["tx_hash"] and status_of(symmio, quote_id) == QuoteStatus.CLOSED
    expected = [
        ("lock_quote", "mined"), ("open_position", "mined"), ("fill_close_request", "mined"),
    ]  # fmt: skip
    rows = await wait_rows(database_url, quote_id, hedger_key[1],
                           lambda rows: tx_rows(rows) == expected)  # fmt: skip
    assert tx_rows(rows) == expected


async def test_invalid_state_and_real_revert(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    party_a: tuple[str, str],
) -> None:  # fmt: skip
    cancelled = symmio.send_quote(party_a[0])
    symmio.request_to_cancel_quote(party_a[0], cancelled)
    answer = await call(temporal_client, chain_worker, "chain_lock_quote",
                        {"quote_id": cancelled}, attempts=3)  # fmt: skip
    assert answer["error"]["type"] == "InvalidState" and answer["error"]["non_retryable"]
    q = symmio.send_quote(party_a[0])  # LONG, requested 60100
    ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                  {"quote_id": q, "allocate_first": "5000"}))  # fmt: skip
    bad = await call(temporal_client, chain_worker, "chain_open_position",
                     {"quote_id": q, "filled_amount": "0.01", "opened_price": "60200"}, attempts=3)  # fmt: skip
    assert bad["error"]["type"] == "TxReverted" and bad["error"]["non_retryable"]
    assert bad["error"]["details"] == ["PartyBFacet: Opened price isn't valid"]
    accepted = ok(await call(temporal_client, chain_worker, "chain_unlock_quote", {"quote_id": q}))
    assert accepted["tx_hash"] and status_of(symmio, q) == QuoteStatus.PENDING


async def test_concurrent_opens_of_one_pair_all_verify(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    party_a: tuple[str, str], hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """Each open bumps both nonces; serialised per pair with a signature fetched right before
    each send, all of them verify on chain."""
    quotes = [symmio.send_quote(party_a[0]) for _ in range(3)]
    for q in quotes:
        ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                      {"quote_id": q, "allocate_first": "5000"}))  # fmt: skip
    nonce_b = symmio.contract.functions.nonceOfPartyB(hedger_key[1], party_a[1]).call()
    answers = await asyncio.gather(*[
        call(temporal_client, chain_worker, "chain_open_position",
             {"quote_id": q, "filled_amount": "0.01", "opened_price": "60000"})
        for q in quotes
    ])  # fmt: skip
    assert all(ok(a)["tx_hash"] for a in answers), answers
    assert all(status_of(symmio, q) == QuoteStatus.OPENED for q in quotes)
    assert symmio.contract.functions.nonceOfPartyB(hedger_key[1], party_a[1]).call() == nonce_b + 3


async def test_open_facts_in_one_activity_and_the_lock_leaves_its_facts(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    party_a: tuple[str, str], hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """`chain_open_facts` answers what `read_quote`, `chain_time`, `party_b_address`,
    `symbol_info` and `party_b_funds` answer one by one; the lock told the PartyA (no read
    before the pair lock) returns the quote as the chain shows it after the lock."""
    quote_id = symmio.send_quote(party_a[0])
    facts = ok(
        await call(temporal_client, chain_worker, "chain_open_facts", {"quote_id": quote_id})
    )
    alone = ok(
        await call(temporal_client, chain_worker, "chain_read_quote", {"quote_id": quote_id})
    )
    assert facts["quote"] == alone and facts["party_b"].lower() == hedger_key[1].lower()
    now = ok(await call(temporal_client, chain_worker, "chain_quote_now", {"quote_id": quote_id}))
    assert now["quote"] == alone and now["time"]["timestamp"] >= facts["time"]["timestamp"]
    position = ok(
        await call(temporal_client, chain_worker, "chain_position_facts", {"quote_id": quote_id})
    )  # the close path's facts: the same, and the protocol's pause (off here)
    assert position["quote"] == alone and position["party_b_paused"] is False
    assert now["party_b_paused"] is None
    symbol = ok(await call(temporal_client, chain_worker, "chain_symbol_info",
                           {"quote_id": alone["symbol_id"]}))  # fmt: skip
    assert facts["symbol"] == symbol and facts["symbol_error"] is None
    funds = ok(await call(temporal_client, chain_worker, "chain_party_b_funds",
                          {"party_a": party_a[1]}))  # fmt: skip
    assert facts["funds"] == funds
    block = symmio.w3.eth.get_block("latest")
    assert 0 < facts["time"]["block_number"] <= block["number"]
    assert facts["time"]["timestamp"] <= block["timestamp"]

    locked = ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                           {"quote_id": quote_id, "allocate_first": "5000",
                            "party_a": party_a[1]}))  # fmt: skip
    assert locked["tx_hash"] and status_of(symmio, quote_id) == QuoteStatus.LOCKED
    after = locked["quote"]
    assert after["status"] == QuoteStatus.LOCKED
    assert after["party_b"].lower() == hedger_key[1].lower()
    assert locked["chain_time"] >= facts["time"]["timestamp"]


async def test_open_facts_with_the_events_hints_read_at_once_and_the_quote_decides(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    party_a: tuple[str, str],
) -> None:  # fmt: skip
    """The SendQuote event's PartyA and symbol let every read start with the quote's; the facts
    are the same as without them, and a hint the quote contradicts is read again for the
    quote's own PartyA and symbol."""
    allocating = symmio.send_quote(party_a[0])  # the lock allocates PartyB funds for the pair
    ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                  {"quote_id": allocating, "allocate_first": "5000"}))  # fmt: skip
    quote_id = symmio.send_quote(party_a[0])

    async def facts_with(**hints: Any) -> dict[str, Any]:
        answer = ok(await call(temporal_client, chain_worker, "chain_open_facts",
                               {"quote_id": quote_id, **hints}))  # fmt: skip
        return {k: answer[k] for k in ("party_b", "quote", "symbol", "symbol_error", "funds")}

    plain = await facts_with()
    assert plain["symbol"] is not None and Decimal(plain["funds"]["available_for_quote"]) > 0
    assert await facts_with(party_a=party_a[1], symbol_id=plain["quote"]["symbol_id"]) == plain
    stranger = "0x" + "11" * 20
    assert await facts_with(party_a=stranger, symbol_id=plain["quote"]["symbol_id"] + 1) == plain
    assert await facts_with(party_a=stranger, symbol_id=0) == plain  # no symbol: not hinted


async def test_a_lock_told_the_party_a_allocates_from_the_balance_read_beside_the_quote(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    party_a: tuple[str, str], hedger_key: tuple[str, str], anvil: Anvil,
) -> None:  # fmt: skip
    """Told the PartyA, the lock reads PartyB's balance for the pair inside the pair lock with
    the quote (one round trip) and allocates up to twice what the lock needs, once; a PartyA
    hint the quote contradicts never counts that PartyA's balance: the quote's own PartyA is
    allocated for."""
    key, trader = funded_key(anvil)
    symmio.trader(key).fund(100_000 * 10**18)

    def allocated(who: str) -> int:
        return int(symmio.contract.functions.allocatedBalanceOfPartyB(hedger_key[1], who).call())

    first = symmio.send_quote(key)
    assert allocated(trader) == 0
    locked = ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                           {"quote_id": first, "allocate_first": "5000", "party_a": trader}))  # fmt: skip
    assert locked["tx_hash"] and status_of(symmio, first) == QuoteStatus.LOCKED
    after_first = allocated(trader)
    assert after_first > 0
    second = symmio.send_quote(key)  # the same quote: half the allocation is free, topped up
    ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                  {"quote_id": second, "allocate_first": "5000", "party_a": trader}))  # fmt: skip
    assert status_of(symmio, second) == QuoteStatus.LOCKED
    assert allocated(trader) == after_first * 3 // 2  # up to twice what the lock needs, once

    key_c, other = funded_key(anvil)
    symmio.trader(key_c).fund(100_000 * 10**18)
    hinted = symmio.send_quote(key_c)
    theirs = allocated(party_a[1])
    ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                  {"quote_id": hinted, "allocate_first": "5000", "party_a": party_a[1]}))  # fmt: skip
    assert status_of(symmio, hinted) == QuoteStatus.LOCKED
    assert allocated(other) > 0 and allocated(party_a[1]) == theirs


async def test_a_lock_that_allocates_tops_up_to_the_band_target(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    hedger_key: tuple[str, str], anvil: Anvil,
) -> None:  # fmt: skip
    """With an allocation band target, the lock that must allocate allocates up to it in one
    transaction, and the PartyA's next locks allocate nothing (a transaction less before each)."""
    key, trader = funded_key(anvil)
    symmio.trader(key).fund(100_000 * 10**18)
    activities = chain_worker[1].activities
    activities.lock_top_up_to = Decimal(300)
    try:
        first = symmio.send_quote(key)
        ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                      {"quote_id": first, "allocate_first": "5000", "party_a": trader}))  # fmt: skip
        allocated = symmio.contract.functions.allocatedBalanceOfPartyB(hedger_key[1], trader)
        assert allocated.call() == 300 * 10**18
        sent = symmio.w3.eth.get_transaction_count(hedger_key[1])
        for _ in range(2):
            quote_id = symmio.send_quote(key)
            ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                          {"quote_id": quote_id, "allocate_first": "5000", "party_a": trader}))  # fmt: skip
            assert status_of(symmio, quote_id) == QuoteStatus.LOCKED
        assert symmio.w3.eth.get_transaction_count(hedger_key[1]) == sent + 2  # the locks alone
        assert allocated.call() == 300 * 10**18
    finally:
        activities.lock_top_up_to = Decimal(0)
