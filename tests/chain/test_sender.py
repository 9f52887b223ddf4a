"""TransactionSender against a real anvil: nonces, journal order, reverts, replacement, fallback."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from chain_helpers import (
    REVERT_MESSAGE,
    deploy_raw,
    error_string_revert_code,
    funded_key,
    methods_asked,
    panic_code,
)
from eth_account import Account

from adapters.chain.client import ChainClient
from adapters.chain.errors import RpcUnavailable, TxDropped, TxReverted
from adapters.chain.journal import NO_TAG, TxTag
from adapters.chain.sender import FeePolicy, TransactionSender, receipt_poll_delay
from devnet.stack.anvil import Anvil
from devnet.stack.process import free_port


class Journal:
    """Records journal calls and what the node knew about each hash at that moment."""

    def __init__(self, client: ChainClient) -> None:
        self.client = client
        self.entries: list[tuple[str, int, str, str, int | None]] = []
        self.known_at_journal: list[bool] = []
        self.statuses: dict[str, list[str]] = {}
        self.preflight: list[tuple[str, int | None, str]] = []

    async def sent(
        self, signer: str, nonce: int, tx_hash: str, action: str, quote_id: int | None,
        tag: TxTag = NO_TAG,
    ) -> None:  # fmt: skip
        self.known_at_journal.append(await self.client.get_transaction(tx_hash) is not None)
        self.entries.append((signer, nonce, tx_hash, action, quote_id))

    async def status(
        self, tx_hash: str, status: str, reason: str | None = None, gas: int | None = None,
        block: int | None = None,
    ) -> None:  # fmt: skip
        self.statuses.setdefault(tx_hash, []).append(status)

    async def preflight_reverted(
        self, signer: str, action: str, quote_id: int | None, reason: str, tag: TxTag = NO_TAG
    ) -> None:
        self.preflight.append((action, quote_id, reason))


@pytest.fixture
async def client(anvil: Anvil) -> AsyncIterator[ChainClient]:
    c = ChainClient.create([anvil.http_url], None, timeout=5.0)
    yield c
    await c.close()


def make_sender(client: ChainClient, key: str, journal: Journal, **kw: Any) -> TransactionSender:
    return TransactionSender(client, key, chain_id=31337, journal=journal, poll_interval=0.05, **kw)


def sink() -> str:
    return Account.from_key("0x" + secrets.token_hex(32)).address


async def test_concurrent_sends_use_contiguous_nonces(anvil: Anvil, client: ChainClient) -> None:
    key, address = funded_key(anvil)
    journal = Journal(client)
    sender = make_sender(client, key, journal)
    target = sink()
    start = await client.transaction_count(address)
    outcomes = await asyncio.gather(
        *[
            sender.send(to=target, data="0x", value=i + 1, action="transfer", quote_id=i)
            for i in range(25)
        ]
    )
    nonces = sorted(o.nonce for o in outcomes)
    assert nonces == list(range(start, start + 25))  # no gaps, no duplicates
    assert len({o.tx_hash for o in outcomes}) == 25
    assert all(o.status == 1 for o in outcomes)
    assert await client.transaction_count(address, "latest") == start + 25
    # journal: one entry per tx, each written while the node did not know the hash yet
    assert len(journal.entries) == 25 and not any(journal.known_at_journal)
    assert {e[2] for e in journal.entries} == {o.tx_hash for o in outcomes}
    assert all(journal.statuses[o.tx_hash] == ["mined"] for o in outcomes)
    balance = int(str(anvil.rpc("eth_getBalance", [target, "latest"])), 16)
    assert balance == sum(range(1, 26))


async def test_nonce_too_low_resyncs(anvil: Anvil, client: ChainClient) -> None:
    key, address = funded_key(anvil)
    journal = Journal(client)
    sender = make_sender(client, key, journal)
    await sender.send(to=sink(), data="0x", value=1, action="transfer")
    used = sender.next_nonce
    assert used is not None
    # another process with the same key takes the next nonce behind our back
    signed = Account.from_key(key).sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "nonce": used,
            "to": sink(),
            "value": 1,
            "gas": 21000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**9,
        }  # fmt: skip
    )
    anvil.rpc("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
    outcome = await sender.send(to=sink(), data="0x", value=2, action="transfer")
    assert outcome.status == 1 and outcome.nonce == used + 1
    # the hash signed with the stale nonce was journaled, never broadcast, and marked dropped
    stale = [e for e in journal.entries if e[1] == used]
    assert len(stale) == 1 and journal.statuses[stale[0][2]] == ["dropped"]


async def test_revert_reason_before_and_after_broadcast(anvil: Anvil, client: ChainClient) -> None:
    key, _ = funded_key(anvil)
    journal = Journal(client)
    sender = make_sender(client, key, journal)
    reverter = deploy_raw(anvil, error_string_revert_code(REVERT_MESSAGE))
    # pre-flight simulation: nothing is signed or sent; the refusal itself is journaled
    with pytest.raises(TxReverted) as pre:
        await sender.send(to=reverter, data="0x12345678", action="lock_quote", quote_id=7)
    assert pre.value.reason == REVERT_MESSAGE and pre.value.tx_hash is None
    assert journal.entries == []
    assert journal.preflight == [("lock_quote", 7, REVERT_MESSAGE)]
    # forced broadcast (gas given): mined with status 0, reason replayed at the block
    with pytest.raises(TxReverted) as mined:
        await sender.send(
            to=reverter, data="0x12345678", action="lock_quote", quote_id=7, gas=100_000
        )
    assert mined.value.reason == REVERT_MESSAGE
    assert mined.value.tx_hash is not None
    receipt: Any = anvil.rpc("eth_getTransactionReceipt", [mined.value.tx_hash])
    assert receipt["status"] == "0x0"
    assert journal.statuses[mined.value.tx_hash] == ["reverted"]
    panicker = deploy_raw(anvil, panic_code(0x11))
    with pytest.raises(TxReverted) as panic:
        await sender.send(to=panicker, data="0x", action="x", gas=100_000)
    assert panic.value.reason.startswith("Panic(0x11")


# Init code of a contract whose every call stores 1 at the slot of the block number: a fresh
# slot per block (about 43,000 gas a call with anvil's automine).
STORE_PER_BLOCK = "0x6005600c60003960056000f3" + "6001435500"


async def test_a_fixed_gas_limit_is_pre_flighted_by_one_call_not_an_estimate(
    anvil: Anvil, client: ChainClient
) -> None:
    key, _ = funded_key(anvil)
    journal = Journal(client)
    sender = make_sender(client, key, journal, fees=FeePolicy(fixed_gas_limit=200_000))
    storer = deploy_raw(anvil, STORE_PER_BLOCK)
    asked = methods_asked(client)
    outcome = await sender.send(to=storer, data="0x", action="store", quote_id=1)
    assert outcome.status == 1
    tx: Any = anvil.rpc("eth_getTransactionByHash", [outcome.tx_hash])
    assert int(tx["gas"], 16) == 200_000
    assert "eth_estimateGas" not in asked and asked.count("eth_call") == 1, asked
    # a revert is still caught before anything is signed
    reverter = deploy_raw(anvil, error_string_revert_code(REVERT_MESSAGE))
    with pytest.raises(TxReverted) as pre:
        await sender.send(to=reverter, data="0x12345678", action="lock_quote", quote_id=7)
    assert pre.value.reason == REVERT_MESSAGE and pre.value.tx_hash is None
    assert journal.preflight == [("lock_quote", 7, REVERT_MESSAGE)]
    assert [e[4] for e in journal.entries] == [1]  # only the store was signed


async def test_a_fixed_gas_limit_too_low_for_the_call_is_estimated_instead(
    anvil: Anvil, client: ChainClient
) -> None:
    key, _ = funded_key(anvil)
    sender = make_sender(client, key, Journal(client), fees=FeePolicy(fixed_gas_limit=25_000))
    storer = deploy_raw(anvil, STORE_PER_BLOCK)
    asked = methods_asked(client)
    outcome = await sender.send(to=storer, data="0x", action="store")
    assert outcome.status == 1 and outcome.gas_used > 25_000
    tx: Any = anvil.rpc("eth_getTransactionByHash", [outcome.tx_hash])
    assert int(tx["gas"], 16) >= outcome.gas_used
    assert asked.index("eth_call") < asked.index("eth_estimateGas"), asked


async def _wait_for(predicate: Any, limit: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


@pytest.fixture
def manual_mining(anvil: Anvil) -> Any:
    anvil.rpc("evm_setAutomine", [False])
    try:
        yield
    finally:
        anvil.rpc("evm_setAutomine", [True])
        anvil.rpc("evm_mine")


@pytest.mark.usefixtures("manual_mining")
async def test_stuck_transaction_is_replaced_with_same_nonce(
    anvil: Anvil, client: ChainClient
) -> None:
    key, _ = funded_key(anvil)
    journal = Journal(client)
    sender = make_sender(client, key, journal, stuck_after=0.3)
    target = sink()
    task = asyncio.create_task(sender.send(to=target, data="0x", value=5, action="open_position"))

    def broadcast_versions() -> int:
        pending = sender.inflight("open_position", None)
        return 0 if pending is None else len(pending.hashes)

    # original + one fee-bumped replacement, both accepted by the node (a journal entry alone
    # is written before its broadcast)
    await _wait_for(lambda: broadcast_versions() >= 2)
    anvil.rpc("evm_mine")
    outcome = await asyncio.wait_for(task, 10)
    nonces = {e[1] for e in journal.entries}
    assert nonces == {outcome.nonce}  # every version used the same nonce
    assert {e[3] for e in journal.entries} == {"open_position"}  # and the same action
    assert outcome.replaced and outcome.tx_hash not in outcome.replaced
    first = journal.entries[0][2]
    assert first in outcome.replaced and "replaced" in journal.statuses[first]
    mined_tx: Any = anvil.rpc("eth_getTransactionByHash", [outcome.tx_hash])
    assert int(mined_tx["maxPriorityFeePerGas"], 16) > 10**9  # bumped above the default tip
    balance = int(str(anvil.rpc("eth_getBalance", [target, "latest"])), 16)
    assert balance == 5  # one transfer, not two


@pytest.mark.usefixtures("manual_mining")
async def test_a_replacement_beaten_by_the_original_is_journaled_dropped(
    anvil: Anvil, client: ChainClient
) -> None:
    """The original is mined between the replacement's journal entry and its broadcast: the
    replacement is refused (nonce too low) and its journal row must not stay pending."""
    key, _ = funded_key(anvil)
    journal = Journal(client)
    sender = make_sender(client, key, journal, stuck_after=0.3, max_replacements=1)
    send_raw = sender._send_raw
    calls = 0

    async def mine_before_the_replacement(raw: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            anvil.rpc("evm_mine")
        await send_raw(raw)

    sender._send_raw = mine_before_the_replacement  # type: ignore[method-assign]
    outcome = await asyncio.wait_for(
        sender.send(to=sink(), data="0x", value=1, action="open_position"), 10
    )
    assert calls == 2 and len(journal.entries) == 2
    original, replacement = (e[2] for e in journal.entries)
    assert outcome.tx_hash == original and outcome.replaced == ()
    assert journal.statuses[original] == ["mined"]
    assert journal.statuses.get(replacement) == ["dropped"]


@pytest.mark.usefixtures("manual_mining")
async def test_dropped_transaction_is_rebroadcast(anvil: Anvil, client: ChainClient) -> None:
    key, _ = funded_key(anvil)
    journal = Journal(client)
    sender = make_sender(client, key, journal, stuck_after=0.3, max_replacements=0)
    task = asyncio.create_task(sender.send(to=sink(), data="0x", value=1, action="unlock_quote"))
    await _wait_for(lambda: len(journal.entries) == 1 and sender.inflight("unlock_quote", None))
    tx_hash = journal.entries[0][2]
    anvil.rpc("anvil_dropTransaction", [tx_hash])
    assert anvil.rpc("eth_getTransactionByHash", [tx_hash]) is None
    await _wait_for(lambda: anvil.rpc("eth_getTransactionByHash", [tx_hash]) is not None)
    anvil.rpc("evm_mine")
    outcome = await asyncio.wait_for(task, 10)
    assert outcome.tx_hash == tx_hash and outcome.status == 1


@pytest.mark.usefixtures("manual_mining")
async def test_nonce_taken_by_a_foreign_transaction_is_dropped(
    anvil: Anvil, client: ChainClient
) -> None:
    key, _ = funded_key(anvil)
    journal = Journal(client)
    sender = make_sender(client, key, journal, stuck_after=60)
    task = asyncio.create_task(sender.send(to=sink(), data="0x", value=1, action="lock_quote"))
    await _wait_for(lambda: sender.inflight("lock_quote", None) is not None)
    nonce = journal.entries[0][1]
    signed = Account.from_key(key).sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "nonce": nonce,
            "to": sink(),
            "value": 2,
            "gas": 21000,
            "maxFeePerGas": 10**12,
            "maxPriorityFeePerGas": 10**11,
        }  # fmt: skip
    )
    anvil.rpc("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
    anvil.rpc("evm_mine")
    with pytest.raises(TxDropped) as dropped:
        await asyncio.wait_for(task, 10)
    assert dropped.value.nonce == nonce
    assert journal.statuses[journal.entries[0][2]] == ["dropped"]


async def test_fallback_to_second_rpc_url(anvil: Anvil) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    client = ChainClient.create([dead, anvil.http_url], None, timeout=3.0, rest_seconds=30)
    try:
        block = await client.latest_block()
        assert block.number >= 0
        assert client.endpoints[0].failures == 1
        # the dead endpoint rests: the next calls go straight to the live one
        await client.latest_block()
        assert client.endpoints[0].failures == 1
        key, _ = funded_key(anvil)
        journal = Journal(client)
        outcome = await make_sender(client, key, journal).send(
            to=sink(), data="0x", value=1, action="transfer"
        )
        assert outcome.status == 1
    finally:
        await client.close()
    keyed = f"http://127.0.0.1:{free_port()}/v2/SECRETKEY123?apikey=QUERYSECRET"
    only_dead = ChainClient.create([dead, keyed], None, timeout=2.0)
    try:
        with pytest.raises(RpcUnavailable) as err:
            await only_dead.latest_block()
        assert "SECRETKEY123" not in str(err.value) and "QUERYSECRET" not in str(err.value)
        assert "http://127.0.0.1:" in str(err.value)  # still says which endpoint failed
    finally:
        await only_dead.close()


def test_receipts_are_looked_for_within_milliseconds_then_every_poll_interval() -> None:
    delays = [receipt_poll_delay(n, 0.25) for n in range(8)]
    assert delays == [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.25, 0.25]
    assert receipt_poll_delay(10_000, 0.25) == 0.25


async def test_a_receipt_that_is_late_by_a_moment_is_found_within_the_moment(
    anvil: Anvil, client: ChainClient
) -> None:
    """The block comes 0.3 s after the broadcast, on a sender polling every 30 s: the early
    looks find it (the first look alone, then the 30 s interval, did not), and cost one
    receipt request each (no nonce read)."""
    key, _ = funded_key(anvil)
    sender = make_sender(client, key, Journal(client))
    sender.poll_interval = 30.0
    read_nonce = client.transaction_count
    anvil.rpc("evm_setAutomine", [False])
    try:
        pending = await sender.broadcast(
            to=sink(), data="0x", value=1, action="transfer", gas=21_000
        )

        async def mine_soon() -> None:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(anvil.rpc, "evm_mine")

        nonce_reads = 0

        async def counted(*args: Any) -> int:
            nonlocal nonce_reads
            nonce_reads += 1
            return await read_nonce(*args)

        client.transaction_count = counted  # type: ignore[method-assign]
        miner = asyncio.create_task(mine_soon())
        outcome = await asyncio.wait_for(sender.wait(pending), 10)
        await miner
    finally:
        anvil.rpc("evm_setAutomine", [True])
        client.transaction_count = read_nonce  # type: ignore[method-assign]
    assert outcome.status == 1 and outcome.tx_hash == pending.latest_hash
    assert nonce_reads == 0  # the early looks asked for the receipt alone
