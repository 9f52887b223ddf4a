"""RPC and Muon outages become retryable activity errors and send nothing (real activity code in
an ActivityEnvironment, real anvil/contract, endpoints that refuse connections)."""

from __future__ import annotations

import pytest
from conftest import SymmioUnderTest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.chain import ChainActivities
from adapters.chain.client import ChainClient
from adapters.chain.sender import TransactionSender
from adapters.muon.client import MuonClient
from devnet.stack.process import free_port
from interfaces.chain import LockRequest, QuoteRef


def _activities(
    rpc: list[str], muon: list[str], symmio: SymmioUnderTest, key: str
) -> ChainActivities:
    client = ChainClient.create(rpc, symmio.address, abi=symmio.abi, timeout=2.0)
    sender = TransactionSender(client, key, chain_id=31337, poll_interval=0.05)
    return ChainActivities(client, sender, MuonClient(muon, timeout=2.0), None, chain_id=31337)


async def _close(acts: ChainActivities) -> None:
    await acts.client.close()
    await acts.muon.aclose()


async def test_rpc_outage_is_retryable(
    symmio: SymmioUnderTest, hedger_key: tuple[str, str]
) -> None:
    dead = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    acts = _activities(dead, [f"http://127.0.0.1:{free_port()}/v1/"], symmio, hedger_key[0])
    try:
        with pytest.raises(ApplicationError) as err:
            await ActivityEnvironment().run(acts.read_quote, QuoteRef(1))
        assert err.value.type == "RpcUnavailable" and not err.value.non_retryable
        with pytest.raises(ApplicationError) as err:
            await ActivityEnvironment().run(acts.chain_time)
        assert err.value.type == "RpcUnavailable" and not err.value.non_retryable
    finally:
        await _close(acts)


async def test_muon_outage_is_retryable_and_sends_nothing(
    symmio: SymmioUnderTest, hedger_key: tuple[str, str], party_a: tuple[str, str]
) -> None:
    quote_id = symmio.send_quote(party_a[0])
    acts = _activities([symmio.anvil.http_url], [f"http://127.0.0.1:{free_port()}/v1/"], symmio,
                       hedger_key[0])  # fmt: skip
    before = symmio.w3.eth.get_transaction_count(hedger_key[1])
    try:
        with pytest.raises(ApplicationError) as err:
            await ActivityEnvironment().run(acts.lock_quote, LockRequest(quote_id))
        assert err.value.type == "MuonUnavailable" and not err.value.non_retryable
    finally:
        await _close(acts)
    assert symmio.w3.eth.get_transaction_count(hedger_key[1]) == before
    assert symmio.quote(quote_id)[16] == 0  # still PENDING
