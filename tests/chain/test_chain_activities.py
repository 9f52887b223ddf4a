"""Chain activities through a real Temporal worker on the dev server, against a SYMMIO contract on
anvil, the devnet Muon oracle and the embedded Postgres ledger."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from call_workflow import CallInput, ChainActivityProbe
from conftest import PRICE, SymmioUnderTest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from temporalio.client import Client

from domain.enums import QuoteStatus
from ledger.models import ChainTransaction

pytestmark = pytest.mark.usefixtures("chain_worker")


async def call(
    client: Client, worker: tuple[str, Any], activity: str, arg: Any = None, attempts: int = 1,
    timeout: float = 60.0,  # noqa: ASYNC109 - the activity start-to-close timeout
) -> dict[str, Any]:  # fmt: skip
    queue, _ = worker
    return await client.execute_workflow(
        ChainActivityProbe.run,
        CallInput(
            activity,
            arg,
            task_queue=queue,
            maximum_attempts=attempts,
            start_to_close_seconds=timeout,
        ),  # fmt: skip
        id=f"probe-{activity}-{uuid.uuid4().hex[:8]}",
        task_queue=queue + "-wf",
    )


def ok(answer: dict[str, Any]) -> Any:
    assert "error" not in answer, answer
    return answer["result"]


async def journal_rows(
    database_url: str, quote_id: int | None = None, signer: str | None = None
) -> list[ChainTransaction]:
    """The Postgres mirror's rows (of `quote_id` / `signer`: each test module has its own
    contract, so quote ids repeat across modules, and its own hedger key)."""
    engine = create_async_engine(database_url)
    try:
        async with async_sessionmaker(engine)() as session:
            query = select(ChainTransaction).order_by(ChainTransaction.id)  # type: ignore[arg-type]
            if quote_id is not None:
                query = query.where(ChainTransaction.quote_id == quote_id)  # type: ignore[arg-type]
            if signer is not None:
                query = query.where(ChainTransaction.signer == signer)  # type: ignore[arg-type]
            return list((await session.scalars(query)).all())
    finally:
        await engine.dispose()


async def wait_rows(
    database_url: str, quote_id: int | None, signer: str,
    ready: Callable[[list[ChainTransaction]], bool],
    timeout: float = 30.0,  # noqa: ASYNC109
) -> list[ChainTransaction]:  # fmt: skip
    """The mirror's rows once `ready(rows)` holds: the mirror is caught up in the background."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await journal_rows(database_url, quote_id, signer)
        if ready(rows) or asyncio.get_running_loop().time() > deadline:
            return rows
        await asyncio.sleep(0.1)


def tx_rows(rows: list[ChainTransaction]) -> list[tuple[str, str]]:
    """(action, status) of the rows, allocations left out."""
    return [(r.action, r.status) for r in rows if not r.action.startswith("alloc:")]


def status_of(symmio: SymmioUnderTest, quote_id: int) -> QuoteStatus:
    return QuoteStatus(symmio.quote(quote_id)[16])


async def test_views(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: SymmioUnderTest,
    party_a: tuple[str, str], hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    quote_id = symmio.send_quote(party_a[0])
    view = ok(await call(temporal_client, chain_worker, "chain_read_quote", {"quote_id": quote_id}))
    assert view["quote_id"] == quote_id and view["status"] == QuoteStatus.PENDING
    assert view["party_a"].lower() == party_a[1].lower() and view["party_b"] is None
    assert Decimal(view["quantity"]) == Decimal("0.01")
    assert Decimal(view["requested_open_price"]) == PRICE + 100
    assert Decimal(view["cva"]) == Decimal("60.1")
    t = ok(await call(temporal_client, chain_worker, "chain_time"))
    assert t["timestamp"] == symmio.now()
    me = ok(await call(temporal_client, chain_worker, "chain_party_b_address"))
    assert me.lower() == hedger_key[1].lower()
    info = ok(await call(temporal_client, chain_worker, "chain_symbol_info", {"quote_id": 1}))
    assert info["name"] == "BTCUSDT" and info["is_valid"] and Decimal(info["max_leverage"]) == 100
    funds = ok(await call(temporal_client, chain_worker, "chain_party_b_funds",
                          {"party_a": party_a[1]}))  # fmt: skip
    assert Decimal(funds["allocatable"]) == 100_000 and Decimal(funds["available_for_quote"]) == 0
    missing = await call(temporal_client, chain_worker, "chain_read_quote", {"quote_id": 10**6})
    assert missing["error"]["type"] == "InvalidState" and missing["error"]["non_retryable"]


async def test_lifecycle_lock_open_close(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: SymmioUnderTest,
    party_a: tuple[str, str], hedger_key: tuple[str, str], database_url: str,
) -> None:  # fmt: skip
    _, agent = chain_worker
    quote_id = symmio.send_quote(party_a[0])
    locked = ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                           {"quote_id": quote_id, "allocate_first": "1000"}))  # fmt: skip
    assert locked["tx_hash"] and not locked["already_done"]
    assert status_of(symmio, quote_id) == QuoteStatus.LOCKED
    tx_count = symmio.w3.eth.get_transaction_count(hedger_key[1])
    # idempotent: a second lock is "already done" and sends nothing
    again = ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                          {"quote_id": quote_id, "allocate_first": "1000"}))  # fmt: skip
    assert again["already_done"] and again["tx_hash"] is None
    assert symmio.w3.eth.get_transaction_count(hedger_key[1]) == tx_count
    nonce_b = symmio.contract.functions.nonceOfPartyB(hedger_key[1], party_a[1]).call()
    opened = ok(await call(temporal_client, chain_worker, "chain_open_position",
                           {"quote_id": quote_id, "filled_amount": "0.01", "opened_price": "60050"}))  # fmt: skip
    assert opened["tx_hash"] and status_of(symmio, quote_id) == QuoteStatus.OPENED
    assert symmio.contract.functions.nonceOfPartyB(hedger_key[1], party_a[1]).call() == nonce_b + 1
    reopened = ok(await call(temporal_client, chain_worker, "chain_open_position",
                             {"quote_id": quote_id, "filled_amount": "0.01", "opened_price": "60050"}))  # fmt: skip
    assert reopened["already_done"]
    # PartyA asks to close (directly on the contract); the hedger fills it
    symmio.request_to_close(party_a[0], quote_id, PRICE - 100, Decimal("0.01"))
    assert status_of(symmio, quote_id) == QuoteStatus.CLOSE_PENDING
    filled = ok(await call(temporal_client, chain_worker, "chain_fill_close_request",
                           {"quote_id": quote_id, "filled_amount": "0.01", "closed_price": "59990"}))  # fmt: skip
    assert filled["tx_hash"] and status_of(symmio, quote_id) == QuoteStatus.CLOSED
    # the ledger: every transaction journaled under its action and quote, then marked mined
    # (the allocation the lock made first too, under the quote)
    expected = [
        ("lock_quote", "mined"), ("open_position", "mined"), ("fill_close_request", "mined"),
    ]  # fmt: skip
    rows = await wait_rows(database_url, quote_id, hedger_key[1],
                           lambda rows: tx_rows(rows) == expected)  # fmt: skip
    assert tx_rows(rows) == expected
    txs = [r for r in rows if not r.action.startswith("alloc:")]
    assert {r.tx_hash for r in txs} == {locked["tx_hash"], opened["tx_hash"], filled["tx_hash"]}
    assert all(r.signer == agent.sender.address and r.block_number and r.gas_used for r in rows)
    allocations = [
        r for r in await journal_rows(database_url, signer=hedger_key[1])
        if r.action.startswith("alloc:")
    ]  # fmt: skip
    assert [(a.quote_id, a.status) for a in allocations] == [(quote_id, "mined")]


async def test_cancelled_quote_is_invalid_state(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: SymmioUnderTest,
    party_a: tuple[str, str], hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    quote_id = symmio.send_quote(party_a[0])
    symmio.request_to_cancel_quote(party_a[0], quote_id)
    tx_count = symmio.w3.eth.get_transaction_count(hedger_key[1])
    answer = await call(temporal_client, chain_worker, "chain_lock_quote", {"quote_id": quote_id},
                        attempts=3)  # fmt: skip
    assert answer["error"]["type"] == "InvalidState" and answer["error"]["non_retryable"]
    assert "CANCELED" in answer["error"]["message"]
    assert symmio.w3.eth.get_transaction_count(hedger_key[1]) == tx_count  # nothing sent


async def test_cancel_and_unlock_paths(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: SymmioUnderTest,
    party_a: tuple[str, str],
) -> None:  # fmt: skip
    # lock → unlock → PENDING; unlocking again is already done
    q1 = symmio.send_quote(party_a[0])
    ok(
        await call(
            temporal_client,
            chain_worker,
            "chain_lock_quote",
            {"quote_id": q1, "allocate_first": "1000"},
        )
    )
    unlocked = ok(await call(temporal_client, chain_worker, "chain_unlock_quote", {"quote_id": q1}))
    assert unlocked["tx_hash"] and status_of(symmio, q1) == QuoteStatus.PENDING
    again = ok(await call(temporal_client, chain_worker, "chain_unlock_quote", {"quote_id": q1}))
    assert again["already_done"]
    # lock → PartyA cancels (CANCEL_PENDING) → accept → CANCELED
    q2 = symmio.send_quote(party_a[0])
    ok(
        await call(
            temporal_client,
            chain_worker,
            "chain_lock_quote",
            {"quote_id": q2, "allocate_first": "1000"},
        )
    )
    symmio.request_to_cancel_quote(party_a[0], q2)
    assert status_of(symmio, q2) == QuoteStatus.CANCEL_PENDING
    # unlocking a CANCEL_PENDING quote is impossible
    bad = await call(temporal_client, chain_worker, "chain_unlock_quote", {"quote_id": q2})
    assert bad["error"]["type"] == "InvalidState"
    accepted = ok(await call(temporal_client, chain_worker, "chain_accept_cancel_request",
                             {"quote_id": q2}))  # fmt: skip
    assert accepted["tx_hash"] and status_of(symmio, q2) == QuoteStatus.CANCELED
    assert ok(await call(temporal_client, chain_worker, "chain_accept_cancel_request",
                         {"quote_id": q2}))["already_done"]  # fmt: skip


async def test_cancel_close_request(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: SymmioUnderTest,
    party_a: tuple[str, str],
) -> None:  # fmt: skip
    q = symmio.send_quote(party_a[0], position_type=1, price=PRICE - 100)  # SHORT
    ok(
        await call(
            temporal_client,
            chain_worker,
            "chain_lock_quote",
            {"quote_id": q, "allocate_first": "1000"},
        )
    )
    ok(await call(temporal_client, chain_worker, "chain_open_position",
                  {"quote_id": q, "filled_amount": "0.01", "opened_price": "59950"}))  # fmt: skip
    symmio.request_to_close(party_a[0], q, PRICE + 100, Decimal("0.01"), order_type=0)
    symmio.request_to_cancel_close(party_a[0], q)
    assert status_of(symmio, q) == QuoteStatus.CANCEL_CLOSE_PENDING
    accepted = ok(await call(temporal_client, chain_worker, "chain_accept_cancel_close_request",
                             {"quote_id": q}))  # fmt: skip
    assert accepted["tx_hash"] and status_of(symmio, q) == QuoteStatus.OPENED


async def test_revert_is_non_retryable_tx_reverted(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: SymmioUnderTest,
    party_a: tuple[str, str],
) -> None:  # fmt: skip
    q = symmio.send_quote(party_a[0])  # LONG, requested 60100
    ok(
        await call(
            temporal_client,
            chain_worker,
            "chain_lock_quote",
            {"quote_id": q, "allocate_first": "1000"},
        )
    )
    # a LONG may not open above the requested price: the contract refuses
    answer = await call(temporal_client, chain_worker, "chain_open_position",
                        {"quote_id": q, "filled_amount": "0.01", "opened_price": "60200"},
                        attempts=3)  # fmt: skip
    err = answer["error"]
    assert err["type"] == "TxReverted" and err["non_retryable"]
    assert err["details"] == ["PartyBFacet: Opened price isn't valid"]
    assert status_of(symmio, q) == QuoteStatus.LOCKED


async def test_retry_after_timeout_resumes_the_journaled_tx(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: SymmioUnderTest,
    party_a: tuple[str, str], hedger_key: tuple[str, str], database_url: str,
) -> None:  # fmt: skip
    """Attempt 1 broadcasts lockQuote and times out before it is mined; attempt 2 finds the
    journaled transaction, waits for it and reports it — no second lockQuote is sent."""
    ok(await call(temporal_client, chain_worker, "chain_allocate_for_party_b",
                  {"party_a": party_a[1], "amount": "500"}))  # fmt: skip
    q = symmio.send_quote(party_a[0])
    before = symmio.w3.eth.get_transaction_count(hedger_key[1])
    symmio.anvil.rpc("evm_setAutomine", [False])
    try:
        probe = asyncio.create_task(
            call(
                temporal_client,
                chain_worker,
                "chain_lock_quote",
                {"quote_id": q},
                attempts=5,
                timeout=1.5,
            )  # fmt: skip
        )
        await asyncio.sleep(3.0)  # attempt 1 timed out, attempt 2 is running
        rows = await journal_rows(database_url, q, hedger_key[1])
        pending = [r for r in rows if r.action == "lock_quote"]
        assert len(pending) == 1 and pending[0].status == "pending"
        symmio.anvil.rpc("evm_mine")
    finally:
        symmio.anvil.rpc("evm_setAutomine", [True])
    answer = ok(await asyncio.wait_for(probe, 30))
    assert answer["already_done"] and answer["tx_hash"] == pending[0].tx_hash
    assert status_of(symmio, q) == QuoteStatus.LOCKED
    assert symmio.w3.eth.get_transaction_count(hedger_key[1]) == before + 1
    rows = await wait_rows(database_url, q, hedger_key[1],
                           lambda rows: tx_rows(rows) == [("lock_quote", "mined")])  # fmt: skip
    assert [(r.tx_hash, r.status) for r in rows] == [(pending[0].tx_hash, "mined")]


async def test_transactions_for_one_pair_are_serialised(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: SymmioUnderTest,
    party_a: tuple[str, str], hedger_key: tuple[str, str], database_url: str,
) -> None:  # fmt: skip
    """Two opens for the same (partyB, partyA) run one after the other: the second is signed
    (and journaled) only after the first is mined, so its Muon signature sees the new nonces."""
    quotes = [symmio.send_quote(party_a[0]) for _ in range(3)]
    for q in quotes:
        ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                      {"quote_id": q, "allocate_first": "1000"}))  # fmt: skip
    nonce_b = symmio.contract.functions.nonceOfPartyB(hedger_key[1], party_a[1]).call()
    answers = await asyncio.gather(*[
        call(temporal_client, chain_worker, "chain_open_position",
             {"quote_id": q, "filled_amount": "0.01", "opened_price": "60000"})
        for q in quotes
    ])  # fmt: skip
    assert all(ok(a)["tx_hash"] for a in answers)
    assert symmio.contract.functions.nonceOfPartyB(hedger_key[1], party_a[1]).call() == nonce_b + 3
    rows = sorted(
        [r for q in quotes for r in await wait_rows(database_url, q, hedger_key[1],
         lambda rows: ("open_position", "mined") in tx_rows(rows)) if r.action == "open_position"],
        key=lambda r: r.created_at,
    )  # fmt: skip
    assert len(rows) == 3 and len({r.block_number for r in rows}) == 3
    for earlier, later in zip(rows, rows[1:], strict=False):
        assert later.created_at >= earlier.updated_at  # journaled after the previous was mined


async def test_emergency_close(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: SymmioUnderTest,
    party_a: tuple[str, str], hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    q = symmio.send_quote(party_a[0])
    ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                  {"quote_id": q, "allocate_first": "1000"}))  # fmt: skip
    ok(await call(temporal_client, chain_worker, "chain_open_position",
                  {"quote_id": q, "filled_amount": "0.01", "opened_price": "60000"}))  # fmt: skip
    refused = await call(temporal_client, chain_worker, "chain_emergency_close_position",
                         {"quote_id": q})  # fmt: skip
    assert refused["error"]["type"] == "TxReverted" and refused["error"]["non_retryable"]
    assert refused["error"]["details"][0].startswith("PartyBFacet: Operation not allowed")
    deployer = symmio.w3.eth.accounts[0]
    symmio.w3.eth.wait_for_transaction_receipt(
        symmio.contract.functions.setPartyBEmergencyStatus(hedger_key[1], True).transact(
            {"from": deployer}
        )
    )
    try:
        closed = ok(await call(temporal_client, chain_worker, "chain_emergency_close_position",
                               {"quote_id": q}))  # fmt: skip
        assert closed["tx_hash"] and status_of(symmio, q) == QuoteStatus.CLOSED
        assert symmio.quote(q)[17] == 60000 * 10**18  # avgClosedPrice = the oracle's price
        again = ok(await call(temporal_client, chain_worker, "chain_emergency_close_position",
                              {"quote_id": q}))  # fmt: skip
        assert again["already_done"] and again["tx_hash"] is None
    finally:
        symmio.w3.eth.wait_for_transaction_receipt(
            symmio.contract.functions.setPartyBEmergencyStatus(hedger_key[1], False).transact(
                {"from": deployer}
            )
        )
