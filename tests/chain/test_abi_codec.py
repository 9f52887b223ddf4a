"""`AbiCodec` (the chain client's eth_abi fast path) returns and encodes exactly what web3's
contract objects do, for every view and transaction the hedger uses, on the devnet diamond."""

from __future__ import annotations

from typing import Any

import pytest
from devnet_diamond import DevnetSymmio, devnet_diamond_fixtures
from eth_utils.address import to_checksum_address

from adapters.chain.client import ChainClient
from adapters.chain.codec import AbiCodec

hedger_key, symmio, oracle, party_a = devnet_diamond_fixtures()


@pytest.fixture(scope="module")
def client(symmio: DevnetSymmio) -> ChainClient:
    return ChainClient.create([symmio.anvil.http_url], symmio.address, abi=tuple(symmio.abi))


async def _web3_call(client: ChainClient, fn: str, *args: Any) -> Any:
    contract = client._require_contract(client.endpoints[0])
    return await contract.get_function_by_name(fn)(*args).call()


async def test_every_view_the_hedger_reads_decodes_as_web3_does(
    client: ChainClient, symmio: DevnetSymmio, party_a: tuple[str, str],
    hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    quote_id = symmio.send_quote(party_a[0])
    a, b = to_checksum_address(party_a[1]), to_checksum_address(hedger_key[1])
    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("getQuote", (quote_id,)), ("getNextQuoteId", ()), ("nonceOfPartyA", (a,)),
        ("nonceOfPartyB", (b, a)), ("balanceInfoOfPartyB", (b, a)), ("partyAStats", (a,)),
        ("getSymbol", (1,)), ("getSymbols", (0, 10)), ("balanceOf", (a,)), ("pauseState", ()),
        ("getPartyBEmergencyStatus", (b,)), ("isPartyB", (b,)), ("withdrawCooldownOf", (a,)),
        ("coolDownsOfMA", ()),
    ]  # fmt: skip
    for fn, args in calls:
        assert client.codec.function(fn) is not None, fn  # served by the fast path
        fast = await client.view(fn, *args)
        assert fast == await _web3_call(client, fn, *args), fn
    assert (await client.get_quote(quote_id)).party_a.lower() == a.lower()


def test_transaction_calldata_is_web3s(client: ChainClient) -> None:
    contract = client._require_contract(client.endpoints[0])
    schnorr = (2**200 + 7, "0x" + "11" * 20, "0x" + "22" * 20)
    single = (b"\x01" * 32, 1_800_000_000, -(10**18), b"\x02" * 65, schnorr)
    pair = (b"\x03" * 32, 1_800_000_000, 5 * 10**17, -(3 * 10**17), 60_000 * 10**18, b"\x04" * 65, schnorr)  # fmt: skip
    party = to_checksum_address("0x" + "ab" * 20)
    cases: list[tuple[str, list[Any]]] = [
        ("lockQuote", [7, single]),
        ("unlockQuote", [7]),
        ("acceptCancelRequest", [7]),
        ("openPosition", [7, 10**16, 60_000 * 10**18, pair]),
        ("fillCloseRequest", [7, 10**16, 59_000 * 10**18, pair]),
        ("acceptCancelCloseRequest", [7]),
        ("allocateForPartyB", [5_000 * 10**18, party]),
    ]
    for fn, args in cases:
        prepared = client.codec.function(fn)
        assert prepared is not None, fn
        assert client.encode(fn, args) == contract.encode_abi(fn, args=args), fn


def test_overloaded_and_unknown_names_go_through_web3() -> None:
    abi = [
        {"type": "function", "name": "f", "inputs": [{"name": "a", "type": "uint256"}], "outputs": []},
        {"type": "function", "name": "f", "inputs": [], "outputs": []},
        {"type": "function", "name": "g", "inputs": [
            {"name": "s", "type": "tuple", "components": [
                {"name": "x", "type": "uint256"}, {"name": "ys", "type": "address[]"}]}],
         "outputs": [{"name": "", "type": "tuple[]", "components": [{"name": "z", "type": "bool"}]}]},
    ]  # fmt: skip
    codec = AbiCodec(abi)
    assert codec.function("f") is None and codec.function("nope") is None
    g = codec.function("g")
    assert g is not None and g.inputs == ("(uint256,address[])",) and g.outputs == ("(bool)[]",)
