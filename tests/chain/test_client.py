"""ChainClient views against the SYMMIO contract on anvil: domain types, logs, nonces, balances."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from conftest import PRICE, SymmioUnderTest, d18
from eth_utils.crypto import keccak
from web3 import Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder

from adapters.chain.client import ChainClient
from domain.enums import OrderType, PositionType, QuoteStatus


@pytest.fixture
async def client(symmio: SymmioUnderTest) -> AsyncIterator[ChainClient]:
    c = ChainClient.create([symmio.anvil.http_url], symmio.address, abi=symmio.abi)
    yield c
    await c.close()


async def test_views_return_domain_types(
    client: ChainClient, symmio: SymmioUnderTest, party_a: tuple[str, str],
    hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    quote_id = symmio.send_quote(party_a[0], position_type=1, order_type=0, price=PRICE - 10)
    assert await client.last_quote_id() == quote_id  # getNextQuoteId() is the LAST id
    assert await client.quote_exists(quote_id) and not await client.quote_exists(quote_id + 1)
    quote = await client.get_quote(quote_id)
    assert (quote.id, quote.status, quote.party_b) == (quote_id, QuoteStatus.PENDING, None)
    assert quote.position_type == PositionType.SHORT and quote.order_type == OrderType.LIMIT
    assert quote.requested_open_price == PRICE - 10 and quote.quantity == Decimal("0.01")
    assert quote.party_a.lower() == party_a[1].lower()
    assert await client.nonce_of_party_b(hedger_key[1], party_a[1]) >= 0
    assert await client.nonce_of_party_a(party_a[1]) >= 0
    info = await client.balance_info_of_party_b(hedger_key[1], party_a[1])
    assert info.allocated >= 0 and info.available_for_quote() >= 0
    symbol = await client.get_symbol(1)
    assert (symbol.name, symbol.is_valid, symbol.max_leverage) == ("BTCUSDT", True, 100)
    assert symbol.trading_fee == Decimal("0.01")
    assert await client.is_party_b(hedger_key[1]) and not await client.is_party_b(party_a[1])
    assert await client.balance_of(hedger_key[1]) <= 100_000
    block = await client.latest_block()
    assert block.timestamp == symmio.now() and block.number > 0
    assert await client.chain_id() == 31337
    assert client.encode("unlockQuote", [7]).startswith("0x1bc10456")  # SYMMIO.md §2.4


async def test_get_logs(
    client: ChainClient, symmio: SymmioUnderTest, party_a: tuple[str, str],
    hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    quote_id = symmio.send_quote(party_a[0])
    start = symmio.w3.eth.block_number
    # lock from the hedger's key directly to produce a LockQuote log
    w3 = Web3(Web3.HTTPProvider(symmio.anvil.http_url))
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(hedger_key[0]), layer=0)
    c = w3.eth.contract(address=symmio.address, abi=symmio.abi)
    w3.eth.wait_for_transaction_receipt(
        c.functions.allocateForPartyB(d18(100), party_a[1]).transact({"from": hedger_key[1]})
    )
    sig = (b"\x01", symmio.now(), 0, b"\x00" * 65, (1, hedger_key[1], hedger_key[1]))
    w3.eth.wait_for_transaction_receipt(
        c.functions.lockQuote(quote_id, sig).transact({"from": hedger_key[1]})
    )
    topic = "0x" + keccak(text="LockQuote(address,uint256)").hex()
    logs = await client.get_logs(start, "latest", [topic])
    assert len(logs) == 1 and logs[0].topics == (topic,)
    assert int(logs[0].data[-64:], 16) == quote_id
    raw = logs[0].as_dict()
    assert raw["blockNumber"] > start and raw["transactionHash"].startswith("0x")
    assert await client.get_logs(start, "latest", ["0x" + "00" * 32]) == []
