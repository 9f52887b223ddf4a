"""The bench's straight-line PartyB (`bench.floor.FloorBot`) on a real devnet: the SYMMIO diamond
on anvil, the devnet Muon oracle, its own exchange simulator driven through ccxt, and a trader
(PartyA) posting intents. Checked from outside: the chain's quote views and the simulator's
position."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from adapters.muon.client import MuonClient
from bench.floor import FloorBot, FloorConfig, FloorTrace, calldata
from devnet.contracts.deploy import DEFAULT_ADMIN_KEY, Deployment, deploy_and_initialise
from devnet.exchange.admin import ExchangeAdmin
from devnet.exchange.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, ExchangeConfig
from devnet.exchange.server import BackgroundExchange
from devnet.oracle.app import OracleConfig
from devnet.oracle.prices import StaticPriceSource
from devnet.oracle.server import BackgroundOracle
from devnet.oracle.signer import DEVNET_MUON_APP_ID, default_devnet_signer
from devnet.stack.anvil import Anvil
from devnet.traders.brain import SendQuote
from devnet.traders.chain import _QUOTE_TYPE as QUOTE_TYPE
from devnet.traders.chain import PartyAChain, TxFailed
from domain.enums import OrderType, PositionType, QuoteStatus

PRICE = Decimal("60000")
E18 = 10**18
OPEN_STAMPS = ("seen", "lock_sent", "lock_mined", "order_sent", "order_ack", "filled",
               "open_sent", "open_mined")  # fmt: skip
CLOSE_STAMPS = ("close_seen", "close_order_sent", "close_order_ack", "close_filled",
                "close_sent", "close_mined")  # fmt: skip


def test_hot_path_calldata_matches_the_diamond_abi() -> None:
    """The floor's eth_abi encodings are byte for byte what web3 makes from the diamond's ABI."""
    from adapters.chain.abi import load_abi

    contract = Web3().eth.contract(abi=load_abi())
    a, b = "0x" + "ab" * 20, "0x" + "cd" * 20
    schnorr = (7, Web3.to_checksum_address(a), Web3.to_checksum_address(b))
    single = (b"\x01" * 32, 1_700_000_000, -5 * E18, b"\x02" * 65, schnorr)
    pair = (b"\x01" * 32, 1_700_000_000, -5 * E18, 3 * E18, 60_000 * E18, b"\x02" * 65, schnorr)
    cases: list[tuple[str, tuple[Any, ...]]] = [
        ("lockQuote", (12, single)),
        ("unlockQuote", (12,)),
        ("openPosition", (12, E18 // 100, 60_000 * E18, pair)),
        ("fillCloseRequest", (12, E18 // 100, 59_000 * E18, pair)),
        ("allocateForPartyB", (96 * E18, Web3.to_checksum_address(a))),
        ("balanceInfoOfPartyB", (Web3.to_checksum_address(a), Web3.to_checksum_address(b))),
    ]
    for name, args in cases:
        assert calldata(name, *args) == contract.encode_abi(name, args=list(args)), name


def _funded_key(anvil: Anvil) -> tuple[str, str]:
    key = "0x" + secrets.token_hex(32)
    address = str(Account.from_key(key).address)
    anvil.rpc("anvil_setBalance", [address, hex(1000 * E18)])
    return key, address


def d18(value: Decimal) -> int:
    return int(value * E18)


@pytest.fixture(scope="module")
def hedger_key(anvil: Anvil) -> tuple[str, str]:
    return _funded_key(anvil)  # the deployment's own PartyB (the floor's rival in the race)


@pytest.fixture(scope="module")
def deployment(anvil: Anvil, hedger_key: tuple[str, str]) -> Deployment:
    signer = default_devnet_signer()
    pk = signer.public_key
    return deploy_and_initialise(
        anvil.http_url, hedger_key=hedger_key[0], muon_public_key=(pk.x, pk.parity),
        muon_gateway=signer.gateway_address, muon_app_id=DEVNET_MUON_APP_ID, out_path=None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def oracle(anvil: Anvil, deployment: Deployment) -> Iterator[BackgroundOracle]:
    config = OracleConfig(rpc_url=anvil.http_url, symmio=deployment.symmio)
    prices = StaticPriceSource({"BTCUSDT": PRICE, "ETHUSDT": Decimal("3000")})
    with BackgroundOracle(config, prices=prices) as running:
        yield running


@pytest.fixture(scope="module")
def exchange() -> Iterator[BackgroundExchange]:
    server = BackgroundExchange(ExchangeConfig(tick_interval=0)).start()  # prices stay put
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def admin(exchange: BackgroundExchange) -> AsyncIterator[ExchangeAdmin]:
    client = ExchangeAdmin(exchange.rest_url)
    await client.set_price("BTCUSDT", str(PRICE))
    yield client
    await client.aclose()


@pytest.fixture(scope="module")
def trader(anvil: Anvil, deployment: Deployment, oracle: BackgroundOracle) -> PartyAChain:
    key, _ = _funded_key(anvil)
    party_a = PartyAChain(Web3(Web3.HTTPProvider(anvil.http_url)), deployment.symmio, key)
    party_a.fund(100_000 * E18)
    return party_a


@pytest.fixture(scope="module")
async def floor(
    anvil: Anvil, deployment: Deployment, oracle: BackgroundOracle,
    exchange: BackgroundExchange, admin: ExchangeAdmin,
) -> AsyncIterator[FloorBot]:  # fmt: skip
    key, _ = _funded_key(anvil)
    config = FloorConfig(
        rpc_url=anvil.http_url, ws_url=anvil.ws_url, symmio=deployment.symmio, chain_id=31337,
        muon_urls=[oracle.url], private_key=key, admin_key=DEFAULT_ADMIN_KEY,
        exchange_url=exchange.rest_url, exchange_api_key=DEFAULT_API_KEY,
        exchange_secret=DEFAULT_API_SECRET, collateral=Decimal(100_000),
    )  # fmt: skip
    bot = FloorBot(config)
    await bot.setup()
    await bot.setup()  # idempotent: registered once, funded once
    assert await bot.chain.is_party_b(bot.address)
    assert await bot.chain.balance_of(bot.address) == Decimal(100_000)
    stop = asyncio.Event()
    running = asyncio.create_task(bot.run(stop))
    await asyncio.wait_for(bot.ready.wait(), 10)
    try:
        yield bot
    finally:
        stop.set()
        await asyncio.wait_for(running, 20)
        await bot.aclose()


async def _send_quote(
    trader: PartyAChain, oracle: BackgroundOracle, deployment: Deployment,
    whitelist: tuple[str, ...], quantity: Decimal = Decimal("0.01"),
) -> int:  # fmt: skip
    """A MARKET LONG; sent again with a fresh signature when an open of an earlier quote of this
    PartyA bumped its nonce between the signature and the sendQuote."""
    price = PRICE + 100  # a LONG's bound above the market
    locked = quantity * price / 10
    for attempt in range(5):
        async with MuonClient([oracle.url]) as muon:
            sig = await muon.party_a_upnl_and_price_sig(
                party_a=trader.address, chain_id=31337, symmio=deployment.symmio, symbol_id=1
            )
        quote = SendQuote(
            symbol_id=1, position_type=PositionType.LONG, order_type=OrderType.MARKET,
            price=d18(price), quantity=d18(quantity), cva=d18(locked * Decimal("0.2")),
            lf=d18(locked * Decimal("0.1")), party_amm=d18(locked * Decimal("0.7")),
            party_bmm=d18(locked * Decimal("0.5")), max_funding_rate=0,
            deadline=await asyncio.to_thread(trader.now) + 3600,
        )  # fmt: skip
        try:
            return await asyncio.to_thread(trader.send_quote, quote, sig, whitelist)
        except TxFailed:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


async def _until(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _stamps(trace: FloorTrace, names: tuple[str, ...]) -> list[float]:
    values = [getattr(trace, n) for n in names]
    assert all(v is not None for v in values), dict(zip(names, values, strict=True))
    return values


async def _btc_position(admin: ExchangeAdmin) -> Decimal:
    state = await admin.state()
    return Decimal(state["positions"].get("BTCUSDT", {}).get("amount", "0"))


async def test_floor_locks_hedges_opens_and_fills_the_close(
    floor: FloorBot, trader: PartyAChain, oracle: BackgroundOracle, deployment: Deployment,
    admin: ExchangeAdmin,
) -> None:  # fmt: skip
    quote_id = await _send_quote(trader, oracle, deployment, whitelist=(floor.address,))
    await _until(lambda: (t := floor.traces.get(quote_id)) and (t.open_mined or t.error))
    trace = floor.traces[quote_id]
    assert trace.error is None and trace.won
    opened = _stamps(trace, OPEN_STAMPS)
    assert opened == sorted(opened)

    view = await asyncio.to_thread(trader.quote, quote_id)
    assert view.status == QuoteStatus.OPENED
    (raw,) = await asyncio.to_thread(trader.call, "getQuote(uint256)", [QUOTE_TYPE], quote_id)
    assert str(raw[15]).lower() == floor.address.lower()  # partyB
    assert raw[5] <= d18(PRICE + 100)  # openedPrice within the trader's bound
    assert await _btc_position(admin) == Decimal("0.01")

    await asyncio.to_thread(
        trader.request_to_close_position, quote_id, d18(PRICE - 1000), d18(Decimal("0.01")),
        OrderType.MARKET, await asyncio.to_thread(trader.now) + 3600,
    )  # fmt: skip
    await _until(lambda: trace.close_mined is not None or trace.error is not None)
    assert trace.error is None
    closed = _stamps(trace, CLOSE_STAMPS)
    assert closed == sorted(closed) and opened[-1] <= closed[0]
    assert (await asyncio.to_thread(trader.quote, quote_id)).status == QuoteStatus.CLOSED
    assert await _btc_position(admin) == 0


async def test_floor_ignores_a_quote_whitelisted_to_another_party_b(
    floor: FloorBot, trader: PartyAChain, oracle: BackgroundOracle, deployment: Deployment,
) -> None:  # fmt: skip
    quote_id = await _send_quote(trader, oracle, deployment, whitelist=(deployment.party_b,))
    marker = await _send_quote(trader, oracle, deployment, whitelist=(floor.address,))
    await _until(lambda: (t := floor.traces.get(marker)) and (t.open_mined or t.error))
    assert floor.traces[marker].error is None
    assert quote_id not in floor.traces
    assert (await asyncio.to_thread(trader.quote, quote_id)).status == QuoteStatus.PENDING


async def test_floor_that_loses_the_lock_stops_there(
    floor: FloorBot, trader: PartyAChain, oracle: BackgroundOracle, deployment: Deployment,
    admin: ExchangeAdmin, anvil: Anvil, hedger_key: tuple[str, str],
) -> None:  # fmt: skip
    """Both PartyBs whitelisted; with automine off the rival's lockQuote (higher tip) is mined
    in the same block before the floor's: the floor's reverts, and it places nothing."""
    orders_before = len((await admin.state())["orders"])
    position_before = await _btc_position(admin)
    # Automine off from before the SendQuote: the floor's transactions wait in the pool.
    anvil.rpc("evm_setAutomine", [False])
    try:
        sending = asyncio.create_task(
            _send_quote(trader, oracle, deployment, whitelist=(floor.address, deployment.party_b))
        )
        await _until(lambda: _pending_from(anvil, trader.address) > 0)
        anvil.rpc("evm_mine", [])
        quote_id = await sending
        async with MuonClient([oracle.url]) as muon:
            sig = await muon.party_b_upnl_sig(
                party_b=deployment.party_b, party_a=trader.address, chain_id=31337,
                symmio=deployment.symmio,
            )  # fmt: skip
        await _until(lambda: _pending_from(anvil, floor.address) > 0)  # its allocate or lock
        await asyncio.to_thread(
            _rival_lock, anvil, deployment, hedger_key[0], trader.address, quote_id, sig
        )
        anvil.rpc("evm_mine", [])  # the rival's higher tip goes first
    finally:
        anvil.rpc("evm_setAutomine", [True])
    trace = floor.traces[quote_id]
    await _until(lambda: trace.lock_mined is not None or trace.error is not None)
    assert not trace.won, trace
    assert trace.lock_sent is not None and trace.order_sent is None and trace.error is None
    view = await asyncio.to_thread(trader.quote, quote_id)
    assert view.status == QuoteStatus.LOCKED
    (raw,) = await asyncio.to_thread(trader.call, "getQuote(uint256)", [QUOTE_TYPE], quote_id)
    assert str(raw[15]).lower() == deployment.party_b.lower()  # the rival holds it
    await asyncio.sleep(0.2)
    assert len((await admin.state())["orders"]) == orders_before
    assert await _btc_position(admin) == position_before


def _pending_from(anvil: Anvil, address: str) -> int:
    content: Any = anvil.rpc("txpool_content", [])
    pending = content.get("pending", {})
    return sum(len(v) for k, v in pending.items() if k.lower() == address.lower())


def _rival_lock(
    anvil: Anvil, deployment: Deployment, key: str, party_a: str, quote_id: int, sig: Any
) -> None:
    """allocateForPartyB + lockQuote from the deployment's PartyB, left in the pool, tipped
    above the floor."""
    from adapters.chain.abi import load_abi

    w3 = Web3(Web3.HTTPProvider(anvil.http_url))
    contract = w3.eth.contract(address=Web3.to_checksum_address(deployment.symmio), abi=load_abi())
    account = Account.from_key(key)
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    calls = (
        contract.functions.allocateForPartyB(1000 * E18, Web3.to_checksum_address(party_a)),
        contract.functions.lockQuote(quote_id, sig.to_abi_tuple()),
    )
    for offset, call in enumerate(calls):
        tx = call.build_transaction(
            {
                "from": account.address, "gas": 3_000_000, "chainId": 31337,
                "nonce": nonce + offset, "maxFeePerGas": 200 * 10**9,
                "maxPriorityFeePerGas": 50 * 10**9,
            }
        )  # fmt: skip
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)


async def test_floor_unlocks_when_its_hedge_finds_no_price(
    floor: FloorBot, trader: PartyAChain, oracle: BackgroundOracle, deployment: Deployment,
    admin: ExchangeAdmin,
) -> None:  # fmt: skip
    """The broker is above the LONG's bound: the IOC fills nothing, the floor unlocks."""
    position_before = await _btc_position(admin)
    await admin.set_price("BTCUSDT", str(PRICE + 1000))
    try:
        quote_id = await _send_quote(trader, oracle, deployment, whitelist=(floor.address,))
        trace_of = floor.traces.get
        await _until(lambda: (t := trace_of(quote_id)) is not None and t.error is not None)
        await _until(
            lambda: trader.quote(quote_id).status == QuoteStatus.PENDING, timeout=10
        )  # fmt: skip
    finally:
        await admin.set_price("BTCUSDT", str(PRICE))
    trace = floor.traces[quote_id]
    assert trace.won and trace.order_ack is not None and trace.open_sent is None
    assert "filled nothing" in str(trace.error)
    assert await _btc_position(admin) == position_before


async def test_floor_takes_concurrent_quotes_of_several_traders(
    floor: FloorBot, trader: PartyAChain, oracle: BackgroundOracle, deployment: Deployment,
    admin: ExchangeAdmin, anvil: Anvil,
) -> None:  # fmt: skip
    """Two PartyAs post three quotes each at once: one nonce sequence, locks per PartyA."""
    other_key, _ = _funded_key(anvil)
    other = PartyAChain(Web3(Web3.HTTPProvider(anvil.http_url)), deployment.symmio, other_key)
    await asyncio.to_thread(other.fund, 100_000 * E18)
    position_before = await _btc_position(admin)

    async def post(party_a: PartyAChain) -> list[int]:
        return [
            await _send_quote(party_a, oracle, deployment, whitelist=(floor.address,))
            for _ in range(3)
        ]

    ids = [q for batch in await asyncio.gather(post(trader), post(other)) for q in batch]

    def done() -> bool:
        return all((t := floor.traces.get(q)) and (t.open_mined or t.error) for q in ids)

    await _until(done)
    assert [floor.traces[q].error for q in ids] == [None] * 6
    for q in ids:
        assert (await asyncio.to_thread(trader.quote, q)).status == QuoteStatus.OPENED
    assert await _btc_position(admin) == position_before + Decimal("0.06")
    for q in ids:
        t = floor.traces[q]
        assert t.seen is not None and t.lock_sent is not None and t.open_mined is not None
        print(
            f"quote {q}: seen->lock_sent {1000 * (t.lock_sent - t.seen):.1f} ms, "
            f"seen->open_mined {1000 * (t.open_mined - t.seen):.1f} ms "
            f"order {1000 * ((t.order_ack or 0) - (t.order_sent or 0)):.1f} ms"
        )
