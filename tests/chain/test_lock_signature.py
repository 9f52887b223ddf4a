"""The lock's Muon signature (#16): the first attempt sends the one the decision's
`chain_open_facts` read (`LockRequest.sig`) instead of asking Muon again, and a lock that
allocates first sends the signature its allocation check counted (`allocateForPartyB` moves no
nonce and no uPnL). Muon's requests are counted by the devnet oracle itself; the locks, the
allocations and any reverted transaction are read from the chain's blocks.

A carried signature is never trusted blindly: a retry asks Muon afresh, one older than
`CARRIED_SIG_MAX_AGE_SECONDS` is not sent, and one a moved nonce made invalid is refused by the
pre-flight (nothing is broadcast) and replaced by a fresh one in the same attempt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from chain_helpers import chain_calls, funded_key
from conftest import PRICE
from devnet_diamond import DevnetSymmio, devnet_diamond_fixtures
from temporalio.testing import ActivityEnvironment
from test_chain_activities import status_of
from test_journal_durability import agent_settings, make_agent

from activities.chain import CARRIED_SIG_MAX_AGE_SECONDS, CARRIED_SIG_REFUSED
from config.settings import Settings
from devnet.oracle.server import BackgroundOracle
from devnet.stack.anvil import Anvil
from domain.enums import QuoteStatus
from domain.muon import MuonMethod
from interfaces.chain import LockRequest, OpenFactsRef, OpenRequest
from workers.chain_agent import ChainAgent

pytestmark = pytest.mark.usefixtures("chain_worker")

# our devnet diamond: it verifies every signature and its nonces on chain
hedger_key, symmio, oracle, party_a = devnet_diamond_fixtures()


@pytest.fixture
async def agent(
    chain_settings: Settings, symmio: DevnetSymmio, tmp_path: Path
) -> AsyncIterator[ChainAgent]:
    built = make_agent(agent_settings(chain_settings, chain_journal_dir=str(tmp_path)), symmio)
    yield built
    await built.close()


def fresh_party_a(anvil: Anvil, symmio: DevnetSymmio) -> tuple[str, str]:
    """A funded PartyA the hedger has allocated nothing for yet."""
    key, address = funded_key(anvil)
    symmio.trader(key).fund(100_000 * 10**18)
    return key, address


def lock_sigs_served(oracle: BackgroundOracle) -> int:
    """How many PartyB uPnL signatures (`lockQuote`'s) the oracle has answered."""
    return int(oracle.app.state.oracle.served[MuonMethod.UPNL_B])


def refused() -> float:
    return CARRIED_SIG_REFUSED._value.get()  # type: ignore[attr-defined,no-any-return]


def lock_calls(symmio: DevnetSymmio, us: str, start: int, quote_id: int) -> list[int]:
    """The statuses of our mined lockQuote transactions for `quote_id` since block `start`."""
    calls = chain_calls(symmio, us, "lockQuote", start)
    return [c["status"] for c in calls if next(iter(c["args"].values())) == quote_id]


async def test_the_first_attempt_sends_the_decisions_signature_and_asks_muon_nothing(
    agent: ChainAgent, symmio: DevnetSymmio, anvil: Anvil, oracle: BackgroundOracle,
    hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """A fresh PartyA: the lock allocates first, then locks, with the signature the open facts
    read; the oracle is asked for none."""
    party_a = fresh_party_a(anvil, symmio)
    q = symmio.send_quote(party_a[0])
    start = symmio.w3.eth.block_number
    env = ActivityEnvironment()
    facts = await env.run(agent.activities.open_facts, OpenFactsRef(q))
    assert facts.lock_sig is not None
    asked = lock_sigs_served(oracle)
    locked = await env.run(
        agent.activities.lock_quote, LockRequest(q, "5000", party_a[1], facts.lock_sig)
    )
    assert locked.tx_hash and status_of(symmio, q) == QuoteStatus.LOCKED
    assert lock_sigs_served(oracle) == asked
    assert len(chain_calls(symmio, hedger_key[1], "allocateForPartyB", start)) == 1
    assert lock_calls(symmio, hedger_key[1], start, q) == [1]


async def test_a_lock_that_allocates_first_asks_muon_once(
    agent: ChainAgent, symmio: DevnetSymmio, anvil: Anvil, oracle: BackgroundOracle,
    hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """Without a carried signature: one for the allocation check, and the lock sends that one
    (it asked twice before: the allocation moves no nonce)."""
    party_a = fresh_party_a(anvil, symmio)
    q = symmio.send_quote(party_a[0])
    start = symmio.w3.eth.block_number
    asked = lock_sigs_served(oracle)
    locked = await ActivityEnvironment().run(
        agent.activities.lock_quote, LockRequest(q, "5000", party_a[1])
    )
    assert locked.tx_hash and status_of(symmio, q) == QuoteStatus.LOCKED
    assert lock_sigs_served(oracle) == asked + 1
    assert len(chain_calls(symmio, hedger_key[1], "allocateForPartyB", start)) == 1


async def test_a_retry_never_sends_the_carried_signature(
    agent: ChainAgent, symmio: DevnetSymmio, anvil: Anvil, oracle: BackgroundOracle,
) -> None:  # fmt: skip
    party_a = fresh_party_a(anvil, symmio)
    q = symmio.send_quote(party_a[0])
    env = ActivityEnvironment()
    facts = await env.run(agent.activities.open_facts, OpenFactsRef(q))
    asked = lock_sigs_served(oracle)
    env.info = dataclasses.replace(env.info, attempt=2)
    locked = await env.run(
        agent.activities.lock_quote, LockRequest(q, "5000", party_a[1], facts.lock_sig)
    )
    assert locked.tx_hash and status_of(symmio, q) == QuoteStatus.LOCKED
    assert lock_sigs_served(oracle) == asked + 1


async def test_an_old_carried_signature_is_not_sent(
    agent: ChainAgent, symmio: DevnetSymmio, anvil: Anvil, oracle: BackgroundOracle,
) -> None:  # fmt: skip
    party_a = fresh_party_a(anvil, symmio)
    q = symmio.send_quote(party_a[0])
    env = ActivityEnvironment()
    facts = await env.run(agent.activities.open_facts, OpenFactsRef(q))
    anvil.rpc("evm_increaseTime", [CARRIED_SIG_MAX_AGE_SECONDS + 5])
    anvil.rpc("evm_mine")
    asked, refusals = lock_sigs_served(oracle), refused()
    locked = await env.run(
        agent.activities.lock_quote, LockRequest(q, "5000", party_a[1], facts.lock_sig)
    )
    assert locked.tx_hash and status_of(symmio, q) == QuoteStatus.LOCKED
    assert lock_sigs_served(oracle) == asked + 1
    assert refused() == refusals  # judged by its age, not sent


async def test_a_carried_signature_a_moved_nonce_invalidated_is_replaced_before_sending(
    agent: ChainAgent, symmio: DevnetSymmio, anvil: Anvil, oracle: BackgroundOracle,
    hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """The facts of the second quote are read, then the first quote of the same PartyA opens
    (openPosition bumps PartyB's nonce for the pair): the pre-flight refuses the carried
    signature, nothing reverted reaches the chain, and the lock goes out with a fresh one."""
    party_a = fresh_party_a(anvil, symmio)
    first, second = symmio.send_quote(party_a[0]), symmio.send_quote(party_a[0])
    env = ActivityEnvironment()
    await env.run(agent.activities.lock_quote, LockRequest(first, "5000", party_a[1]))
    facts = await env.run(agent.activities.open_facts, OpenFactsRef(second))
    nonce = symmio.contract.functions.nonceOfPartyB(hedger_key[1], party_a[1]).call()
    await env.run(agent.activities.open_position, OpenRequest(first, "0.01", str(PRICE)))
    assert symmio.contract.functions.nonceOfPartyB(hedger_key[1], party_a[1]).call() == nonce + 1
    start = symmio.w3.eth.block_number
    asked, refusals = lock_sigs_served(oracle), refused()
    locked = await env.run(
        agent.activities.lock_quote, LockRequest(second, "5000", party_a[1], facts.lock_sig)
    )
    assert locked.tx_hash and status_of(symmio, second) == QuoteStatus.LOCKED
    assert lock_calls(symmio, hedger_key[1], start, second) == [1]  # no reverted lock mined
    assert lock_sigs_served(oracle) == asked + 1
    assert refused() == refusals + 1
