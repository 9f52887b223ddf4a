"""`FundingWorkflow` against our devnet diamond (protocol-core 0.8.4's `chargeFundingRate`
rules, real Muon verification), the exchange simulator's funding rate through real ccxt and a
real Temporal worker, on a private anvil whose clock the test warps (`evm_increaseTime`).

Over two funding epochs: outside every window nothing is sent; inside a window each open quote
is charged exactly once, with the broker's rate capped at its `maxFundingRate`; runs again in the
same window (either side of the boundary) send nothing; a run after one that charged only some
PartyAs (a worker killed mid-batch) charges the others and not those again. Everything is
checked from the chain: the `ChargeFundingRate` events, their blocks' timestamps, each quote's
`lastFundingPaymentTimestamp` and `openedPrice`."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from chain_helpers import chain_calls, funded_key
from conftest import PRICE
from devnet_diamond import DevnetSymmio, devnet_diamond_fixtures
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker
from test_chain_activities import call, ok

from activities.funding import FundingActivities
from adapters.broker.adapter import BrokerAdapter
from adapters.broker.client import BrokerConfig
from adapters.chain.client import ChainClient
from config.settings import load_settings
from devnet.exchange.admin import ExchangeAdmin
from devnet.exchange.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, ExchangeConfig
from devnet.exchange.server import BackgroundExchange
from devnet.oracle.prices import StaticPriceSource
from devnet.stack.anvil import Anvil, start_anvil
from devnet.stack.process import free_port
from devnet.traders.brain import SendQuote
from domain.enums import OrderType, PositionType
from domain.quote import Quote
from interfaces.chain import ChargeFundingRequest
from interfaces.funding import FundingInput, FundingResult
from interfaces.ledger import AlertRow
from workers.chain_agent import build_agent
from workflows.funding import FundingWorkflow

pytestmark = pytest.mark.usefixtures("chain_worker")

hedger_key, symmio, oracle, party_a = devnet_diamond_fixtures(
    StaticPriceSource({"BTCUSDT": PRICE, "ETHUSDT": Decimal("3000")})
)
WAD = 10**18
EPOCH, WINDOW = 28800, 900  # BTCUSDT's funding settings in the devnet deployment
MAX_RATE = Decimal("0.01")  # the quotes' maxFundingRate
QTY = Decimal("0.01")


@pytest.fixture(scope="module")
def anvil(stack_dir: Any) -> Iterator[Anvil]:
    """A private chain: this module warps its clock by days, which no other module expects."""
    node = start_anvil(port=free_port(), state_dir=stack_dir / "anvil-funding", persist=False)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundExchange]:
    server = BackgroundExchange(ExchangeConfig(tick_interval=0, funding_interval=3600)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def admin(sim: BackgroundExchange) -> AsyncIterator[ExchangeAdmin]:
    client = ExchangeAdmin(sim.rest_url)
    await client.set_price("BTCUSDT", str(PRICE))
    try:
        yield client
    finally:
        await client.aclose()


def _party_a(anvil: Anvil, symmio: DevnetSymmio) -> tuple[str, str]:
    key, address = funded_key(anvil)
    symmio.trader(key).fund(100_000 * WAD)
    return key, address


def _send_quote(symmio: DevnetSymmio, key: str, position_type: PositionType) -> int:
    trader = symmio.trader(key)
    price = PRICE + 100 if position_type == PositionType.LONG else PRICE - 100
    locked = QTY * price / 10
    quote = SendQuote(
        symbol_id=1, position_type=position_type, order_type=OrderType.MARKET,
        price=_w(price), quantity=_w(QTY), cva=_w(locked * Decimal("0.2")),
        lf=_w(locked * Decimal("0.1")), party_amm=_w(locked * Decimal("0.7")),
        party_bmm=_w(locked * Decimal("0.5")), max_funding_rate=_w(MAX_RATE),
        deadline=symmio.now() + 3600,
    )  # fmt: skip
    sig = symmio._send_quote_sig(trader.address)
    return int(trader.send_quote(quote, sig, ()))


def _w(value: Decimal) -> int:
    return int(value * WAD)


def _quote(symmio: DevnetSymmio, qid: int) -> Quote:
    return Quote.from_struct(symmio.quote(qid))


def _warp_to(symmio: DevnetSymmio, t: int) -> None:
    now = symmio.now()
    assert t > now
    symmio.anvil.rpc("evm_increaseTime", [t - now])
    symmio.anvil.rpc("evm_mine")


def _charges(symmio: DevnetSymmio, from_block: int) -> list[dict[str, Any]]:
    """The ChargeFundingRate events since `from_block`, with their block's timestamp."""
    logs = symmio.contract.events.ChargeFundingRate().get_logs(from_block=from_block)
    return [
        {**dict(log["args"]), "time": symmio.w3.eth.get_block(log["blockNumber"])["timestamp"]}
        for log in logs
    ]


def _charged(charges: list[dict[str, Any]]) -> dict[int, int]:
    """quote id → rate (wei) over the events; a quote charged twice fails here."""
    out: dict[int, int] = {}
    for c in charges:
        for qid, rate in zip(c["quoteIds"], c["rates"], strict=True):
            assert qid not in out, f"quote {qid} charged twice: {charges}"
            out[qid] = rate
    return out


@pytest.fixture(scope="module")
async def funding_queue(
    temporal_client: Client, chain_settings: Any, symmio: DevnetSymmio, sim: BackgroundExchange
) -> AsyncIterator[tuple[str, set[str], list[AlertRow]]]:
    """The funding workflow and its read activities on a private ops queue: (queue, the PartyAs
    the "ledger" knows, the alerts raised)."""
    party_as: set[str] = set()
    alerts: list[AlertRow] = []
    chain = ChainClient.create(chain_settings.rpc_http_urls, symmio.address)
    broker = BrokerAdapter.from_config(
        BrokerConfig(
            api_key=DEFAULT_API_KEY,
            api_secret=DEFAULT_API_SECRET,
            rest_url=sim.rest_url,
            ws_url=sim.ws_url,
            timeout_ms=3000,
        )  # fmt: skip
    )

    async def known() -> set[str]:
        return set(party_as)

    @activity.defn(name="ops_raise_alert")
    async def raise_alert(row: AlertRow) -> None:
        alerts.append(row)

    reads = FundingActivities(lambda: chain, lambda: broker, known)
    queue = f"funding-test-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        temporal_client, task_queue=queue, workflows=[FundingWorkflow],
        activities=[*reads.activities(), raise_alert],
    )  # fmt: skip
    async with worker:
        yield queue, party_as, alerts
    await chain.close()
    await broker.close()


async def _run(
    client: Client, chain_worker: tuple[str, Any], funding_queue: tuple[str, Any, Any],
    record: Any = None, label: str = "",
) -> FundingResult:  # fmt: skip
    queue = funding_queue[0]
    handle = await client.start_workflow(
        FundingWorkflow.run, FundingInput(31337, chain_queue=chain_worker[0], ops_queue=queue),
        id=f"funding-test-{uuid.uuid4().hex[:8]}", task_queue=queue,
    )  # fmt: skip
    result = await handle.result()
    if record is not None:
        await record(handle, "FundingWorkflow", label)
    return result


async def test_each_open_quote_is_charged_once_per_epoch_within_the_window(
    temporal_client: Client, chain_worker: tuple[str, Any], funding_queue: tuple[str, Any, Any],
    symmio: DevnetSymmio, anvil: Anvil, hedger_key: tuple[str, str], admin: ExchangeAdmin,
    record_history: Any,
) -> None:  # fmt: skip
    _, party_as, alerts = funding_queue
    us = hedger_key[1]
    a1, a2 = _party_a(anvil, symmio), _party_a(anvil, symmio)
    opened: dict[int, PositionType] = {}
    for key, side in ((a1, PositionType.LONG), (a1, PositionType.SHORT), (a2, PositionType.LONG)):
        qid = _send_quote(symmio, key[0], side)
        ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                      {"quote_id": qid, "allocate_first": "5000"}))  # fmt: skip
        ok(await call(temporal_client, chain_worker, "chain_open_position",
                      {"quote_id": qid, "filled_amount": str(QTY), "opened_price": str(PRICE)}))  # fmt: skip
        opened[qid] = side
    party_as.update({a1[1].lower(), a2[1].lower()})
    start = symmio.w3.eth.block_number

    # between two windows: nothing is sent
    first = (symmio.now() // EPOCH + 1) * EPOCH
    _warp_to(symmio, first + WINDOW + 100)
    quiet = await _run(temporal_client, chain_worker, funding_queue)
    assert quiet.charges == [] and _charges(symmio, start) == []

    # epoch 1, inside the window before its boundary: the broker's +0.4%, each quote once
    await admin.set_funding_rate("BTCUSDT", "0.004")
    boundary = first + EPOCH
    _warp_to(symmio, boundary - 300)
    before = {q: _quote(symmio, q).opened_price for q in opened}
    done = await _run(temporal_client, chain_worker, funding_queue, record_history, "two-epochs")
    assert {c.party_a.lower() for c in done.charges} == {a1[1].lower(), a2[1].lower()}
    events = _charges(symmio, start)
    assert len(events) == 2  # one chargeFundingRate per PartyA
    # the chain's convention: a positive rate makes PartyA pay, so the SHORT (which the market's
    # +0.4% pays) is sent −0.4%
    assert _charged(events) == {
        q: _w(Decimal("0.004")) * (1 if side == PositionType.LONG else -1)
        for q, side in opened.items()
    }
    assert all(boundary - WINDOW <= e["time"] <= boundary + WINDOW for e in events)
    for qid in opened:
        q = _quote(symmio, qid)
        assert q.last_funding_payment_timestamp == boundary
        # the LONG pays (its openedPrice rises), the SHORT receives (its openedPrice rises too)
        assert q.opened_price == before[qid] + before[qid] * Decimal("0.004")

    # the same window again, either side of the boundary: nothing more is sent
    again = await _run(temporal_client, chain_worker, funding_queue)
    _warp_to(symmio, boundary + WINDOW - 60)
    after = await _run(temporal_client, chain_worker, funding_queue)
    assert again.charges == [] and after.charges == []  # the chain shows them paid
    assert len(_charges(symmio, start)) == 2
    assert len(chain_calls(symmio, us, "chargeFundingRate", start)) == 2

    # epoch 2: the broker's −2% is above the quotes' 1% cap. A run charged PartyA 1 and died
    # before PartyA 2 (the kill mid-batch); the next run charges PartyA 2 only.
    await admin.set_funding_rate("BTCUSDT", "-0.02")
    second = boundary + EPOCH
    _warp_to(symmio, second + 60)
    mark = symmio.w3.eth.block_number
    a1_quotes = sorted(q for q in opened if _quote(symmio, q).party_a.lower() == a1[1].lower())
    partial = ok(await call(temporal_client, chain_worker, "chain_charge_funding_rate",
                            {"party_a": a1[1], "boundary": second, "quote_ids": a1_quotes,
                             "rates": ["-0.01"] * len(a1_quotes)}))  # fmt: skip
    assert partial["tx_hash"] and partial["charged"] == a1_quotes
    mark_resumed = symmio.w3.eth.block_number
    resumed = await _run(temporal_client, chain_worker, funding_queue)
    sent = [c for c in resumed.charges if c.tx_hash and not c.already_done]
    assert [c.party_a.lower() for c in sent] == [a2[1].lower()]
    epoch2 = _charges(symmio, mark_resumed + 1)
    assert _charged(_charges(symmio, mark)) == dict.fromkeys(opened, -_w(MAX_RATE))  # capped
    assert len(epoch2) == 1 and all(second <= e["time"] <= second + WINDOW for e in epoch2)
    assert all(_quote(symmio, q).last_funding_payment_timestamp == second for q in opened)
    final = await _run(temporal_client, chain_worker, funding_queue)
    assert final.charges == []
    # across both epochs: exactly once per quote per epoch, never above maxFundingRate
    everything = _charges(symmio, start)
    assert len(everything) == 4
    assert all(abs(r) <= _w(MAX_RATE) for e in everything for r in e["rates"])
    assert alerts == []


async def test_a_charge_pending_when_its_worker_dies_is_not_sent_again(
    temporal_client: Client, chain_worker: tuple[str, Any], chain_settings: Any,
    symmio: DevnetSymmio, anvil: Anvil, hedger_key: tuple[str, str], tmp_path: Any,
) -> None:  # fmt: skip
    """The charge is broadcast, the worker dies before its receipt; the next worker (same local
    journal, a new run's activity) waits for that transaction and sends no second one."""
    a3 = _party_a(anvil, symmio)
    qid = _send_quote(symmio, a3[0], PositionType.LONG)
    ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                  {"quote_id": qid, "allocate_first": "5000"}))  # fmt: skip
    ok(await call(temporal_client, chain_worker, "chain_open_position",
                  {"quote_id": qid, "filled_amount": str(QTY), "opened_price": str(PRICE)}))  # fmt: skip
    boundary = (symmio.now() // EPOCH + 1) * EPOCH
    _warp_to(symmio, boundary + 30)
    start = symmio.w3.eth.block_number
    settings = load_settings(**{**chain_settings.model_dump(), "chain_journal_dir": str(tmp_path)})
    req = ChargeFundingRequest(a3[1], boundary, [qid], ["0.001"])
    first = build_agent(settings, abi=symmio.abi)
    first.sender.poll_interval, first.sender.receipt_timeout = 0.05, 1.0
    try:
        symmio.anvil.rpc("evm_setAutomine", [False])
        with pytest.raises(ApplicationError) as err:
            await ActivityEnvironment().run(first.activities.charge_funding_rate, req)
        assert err.value.type == "TxPending"
    except BaseException:
        symmio.anvil.rpc("evm_setAutomine", [True])
        raise
    finally:
        await first.close()  # gone; its chargeFundingRate sits in the mempool
    second = build_agent(settings, abi=symmio.abi)
    second.sender.poll_interval = 0.05
    try:
        env = ActivityEnvironment()
        env.info = dataclasses.replace(env.info, workflow_run_id="another-run", attempt=1)
        retry = asyncio.create_task(env.run(second.activities.charge_funding_rate, req))
        await asyncio.sleep(1.0)
        assert not retry.done()  # waiting for the journaled charge
        symmio.anvil.rpc("evm_setAutomine", [True])
        symmio.anvil.rpc("evm_mine")
        result = await asyncio.wait_for(retry, 30)
    finally:
        symmio.anvil.rpc("evm_setAutomine", [True])
        await second.close()
    sent = chain_calls(symmio, hedger_key[1], "chargeFundingRate", start)
    assert len(sent) == 1 and sent[0]["status"] == 1
    assert result.already_done
    assert _charged(_charges(symmio, start)) == {qid: _w(Decimal("0.001"))}
    assert _quote(symmio, qid).last_funding_payment_timestamp == boundary


async def test_quotes_read_a_page_at_a_time_are_each_charged_once(
    temporal_client: Client, chain_worker: tuple[str, Any], funding_queue: tuple[str, Any, Any],
    symmio: DevnetSymmio, anvil: Anvil, admin: ExchangeAdmin, record_history: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """FUNDING_QUOTE_PAGE quotes per snapshot (one here): a PartyA whose quotes span several
    snapshots has each charged once, none skipped, by the real read activity on anvil."""
    import interfaces.funding

    monkeypatch.setattr(interfaces.funding, "FUNDING_QUOTE_PAGE", 1)  # the sandbox re-imports
    _, party_as, alerts = funding_queue
    a4 = _party_a(anvil, symmio)
    mine = []
    for side in (PositionType.LONG, PositionType.SHORT, PositionType.LONG):
        qid = _send_quote(symmio, a4[0], side)
        ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                      {"quote_id": qid, "allocate_first": "5000"}))  # fmt: skip
        ok(await call(temporal_client, chain_worker, "chain_open_position",
                      {"quote_id": qid, "filled_amount": str(QTY), "opened_price": str(PRICE)}))  # fmt: skip
        mine.append(qid)
    party_as.add(a4[1].lower())
    await admin.set_funding_rate("BTCUSDT", "0.001")
    boundary = (symmio.now() // EPOCH + 1) * EPOCH
    _warp_to(symmio, boundary + 30)
    start = symmio.w3.eth.block_number
    done = await _run(temporal_client, chain_worker, funding_queue, record_history, "quote-pages")
    charged = _charged(_charges(symmio, start))  # a quote charged twice fails here
    assert set(mine) <= set(charged)
    assert [c.quote_ids for c in done.charges if c.party_a.lower() == a4[1].lower()] == [
        [q] for q in mine
    ]  # one snapshot page each
    assert all(_quote(symmio, q).last_funding_payment_timestamp == boundary for q in mine)
    assert (await _run(temporal_client, chain_worker, funding_queue)).charges == []
    assert alerts == []
