"""The hedger's funding income on chain tracks what the broker charged its hedge.

Real parts: our devnet diamond on a private anvil (protocol-core 0.8.4's `chargeFundingRate`,
real Muon verification), the exchange simulator through the real ccxt client, a real Temporal
worker running `FundingWorkflow`. The chain's clock is warped into a funding window; the
simulator applies one funding event on demand (`POST /admin/funding/settle`) at the rate the
workflow read.

Checked from outside only: what the broker charged is the simulator's own records read through
ccxt (`fetch_funding_history`: FUNDING_FEE income, `fetch_funding_rate_history`: the rate and
mark of the event); what the chain charged is the `ChargeFundingRate` events and each quote's
`openedPrice` before and after (PartyB's income on a quote is openAmount x the move of its
openedPrice, in PartyB's favour). They match, quote by quote and in total, except where a
quote's `maxFundingRate` caps the chain's rate below the broker's. Stated tolerance: the chain
applies the rate to the quote's openedPrice, the broker to its mark, so a quote's income may
differ from its share of the broker's charge by share x |openedPrice − mark| / mark (plus 1e-6
USDT of rounding); a quote opened at the mark matches to the rounding.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
import test_funding_workflow as funding_base
from chain_helpers import funded_key
from conftest import PRICE
from devnet_diamond import DevnetSymmio
from temporalio.client import Client
from test_chain_activities import call, ok
from test_funding_workflow import EPOCH, WINDOW, _charges, _quote, _run, _w, _warp_to

from adapters.broker.client import BrokerConfig, make_exchange
from devnet.exchange.admin import ExchangeAdmin
from devnet.exchange.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, ExchangeConfig
from devnet.exchange.server import BackgroundExchange
from devnet.stack.anvil import Anvil
from devnet.traders.brain import SendQuote
from domain.enums import OrderType, PositionType

# the funding workflow module's chain, oracle and worker fixtures (a private anvil whose clock
# this module warps); `sim` is this module's own
anvil, hedger_key, symmio = funding_base.anvil, funding_base.hedger_key, funding_base.symmio
oracle, funding_queue = funding_base.oracle, funding_base.funding_queue
admin = funding_base.admin  # on this module's own `sim`

pytestmark = pytest.mark.usefixtures("chain_worker")
BTC = "BTC/USDT:USDT"
WAD = 10**18
RATE = Decimal("0.0005")  # the broker's 8-h rate for BTCUSDT (the chain epoch is 8 h too)
TOLERANCE = Decimal("0.000001")  # USDT: the broker rounds payments to 1e-8, the chain floors


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundExchange]:
    """Binance's 8-h funding, so no scheduled event falls inside the test: the test applies one."""
    server = BackgroundExchange(ExchangeConfig(tick_interval=0, funding_interval=8 * 3600)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def ccxt_client(sim: BackgroundExchange) -> AsyncIterator[Any]:
    client = make_exchange(
        BrokerConfig(
            api_key=DEFAULT_API_KEY,
            api_secret=DEFAULT_API_SECRET,
            rest_url=sim.rest_url,
            ws_url=sim.ws_url,
            timeout_ms=3000,
        )  # fmt: skip
    )
    await client.load_markets()
    try:
        yield client
    finally:
        await client.close()


def _open_quote(
    symmio: DevnetSymmio, key: str, side: PositionType, qty: Decimal, cap: Decimal
) -> int:
    trader = symmio.trader(key)
    price = PRICE + 100 if side == PositionType.LONG else PRICE - 100
    locked = qty * price / 10
    quote = SendQuote(
        symbol_id=1, position_type=side, order_type=OrderType.MARKET, price=_w(price),
        quantity=_w(qty), cva=_w(locked * Decimal("0.2")), lf=_w(locked * Decimal("0.1")),
        party_amm=_w(locked * Decimal("0.7")), party_bmm=_w(locked * Decimal("0.5")),
        max_funding_rate=_w(cap), deadline=symmio.now() + 3600,
    )  # fmt: skip
    return int(trader.send_quote(quote, symmio._send_quote_sig(trader.address), ()))


def _next_window(symmio: DevnetSymmio) -> int:
    """The next epoch boundary whose window (its second half before it) is still ahead."""
    boundary = (symmio.now() // EPOCH + 1) * EPOCH
    return boundary if boundary - WINDOW // 2 > symmio.now() else boundary + EPOCH


def _income_of_party_b(
    side: PositionType, qty: Decimal, before: Decimal, after: Decimal
) -> Decimal:
    """What a move of a quote's openedPrice is worth to PartyB (a LONG's rising, a SHORT's
    falling price is PartyA's loss)."""
    return (after - before) * qty * (1 if side == PositionType.LONG else -1)


async def test_funding_income_on_chain_tracks_what_the_broker_charged(
    temporal_client: Client, chain_worker: tuple[str, Any], funding_queue: tuple[str, Any, Any],
    symmio: DevnetSymmio, anvil: Anvil, admin: ExchangeAdmin, ccxt_client: Any,
    record_history: Any,
) -> None:  # fmt: skip
    _, party_as, alerts = funding_queue
    a1, a2 = funded_key(anvil), funded_key(anvil)
    for key, _ in (a1, a2):
        symmio.trader(key).fund(100_000 * WAD)
    # (PartyA, side, quantity, maxFundingRate): the third quote's cap is below the broker's rate
    plan = [
        (a1, PositionType.LONG, Decimal("0.03"), Decimal("0.01")),
        (a2, PositionType.SHORT, Decimal("0.01"), Decimal("0.01")),
        (a2, PositionType.LONG, Decimal("0.01"), Decimal("0.0002")),
    ]
    quotes: dict[int, tuple[PositionType, Decimal, Decimal]] = {}
    for (key, _), side, qty, cap in plan:
        qid = _open_quote(symmio, key, side, qty, cap)
        ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                      {"quote_id": qid, "allocate_first": "5000"}))  # fmt: skip
        ok(await call(temporal_client, chain_worker, "chain_open_position",
                      {"quote_id": qid, "filled_amount": str(qty), "opened_price": str(PRICE)}))  # fmt: skip
        quotes[qid] = (side, qty, cap)
    party_as.update({a1[1].lower(), a2[1].lower()})
    # the hedge on the broker: the net of the quotes (one-way mode), 0.03 BTC long
    net = sum((q if s == PositionType.LONG else -q) for s, q, _ in quotes.values())
    assert net == Decimal("0.03")
    await ccxt_client.create_order(BTC, "market", "buy", float(net), None,
                                   {"clientOrderId": "h900o1"})  # fmt: skip
    await admin.set_funding_rate("BTCUSDT", str(RATE))

    # the chain's next funding window; the workflow charges what the broker quotes
    boundary = _next_window(symmio)
    _warp_to(symmio, boundary - WINDOW // 2)
    start = symmio.w3.eth.block_number
    before = {q: _quote(symmio, q).opened_price for q in quotes}
    done = await _run(temporal_client, chain_worker, funding_queue, record_history,
                      "income-tracks-broker")  # fmt: skip
    assert {k: Decimal(v) for k, v in done.broker_rates.items()} == {"BTCUSDT": RATE}
    # the broker's funding time comes: its records say what it charged the hedge
    since = int(time.time() * 1000) - 1
    await admin.settle_funding("BTCUSDT")
    paid = await ccxt_client.fetch_funding_history(BTC, since)
    events = await ccxt_client.fetch_funding_rate_history(BTC, since)
    assert [p["info"]["incomeType"] for p in paid] == ["FUNDING_FEE"] and len(events) == 1
    broker_rate = Decimal(events[0]["info"]["fundingRate"])
    mark = Decimal(events[0]["info"]["markPrice"])
    broker_paid = -Decimal(str(paid[0]["info"]["income"]))  # a long pays a positive rate
    assert broker_rate == RATE and broker_paid == (net * mark * RATE).quantize(Decimal("1e-8"))

    # what the chain charged: one event per PartyA, each quote once, inside the window
    charged: dict[int, int] = {}
    for e in _charges(symmio, start):
        assert boundary - WINDOW <= e["time"] <= boundary + WINDOW
        for qid, rate in zip(e["quoteIds"], e["rates"], strict=True):
            assert qid not in charged
            charged[qid] = rate
    assert set(charged) == set(quotes)
    income = Decimal(0)
    expected_income = Decimal(0)
    for qid, (side, qty, cap) in quotes.items():
        # per quote: the broker's rate in the chain's convention (PartyA pays when > 0), capped
        market = broker_rate if side == PositionType.LONG else -broker_rate
        assert Decimal(charged[qid]) / WAD == max(-cap, min(cap, market)), qid
        after = _quote(symmio, qid).opened_price
        got = _income_of_party_b(side, qty, before[qid], after)
        # what the broker charged for this quote's share of the hedge, at the chain's cap
        share = qty * mark * min(cap, broker_rate) * (1 if side == PositionType.LONG else -1)
        assert abs(got - share) <= TOLERANCE, (qid, got, share)
        income += got
        expected_income += share
    # in total: the broker's charge, less what the capped quote could not pass on
    capped_away = Decimal("0.01") * mark * (RATE - Decimal("0.0002"))
    assert abs(income - (broker_paid - capped_away)) <= TOLERANCE, (income, broker_paid)
    assert abs(income - expected_income) <= TOLERANCE
    assert alerts == []


async def test_a_broker_rate_per_4h_is_charged_per_8h_chain_epoch(
    temporal_client: Client, chain_worker: tuple[str, Any], funding_queue: tuple[str, Any, Any],
    symmio: DevnetSymmio, anvil: Anvil, admin: ExchangeAdmin, ccxt_client: Any,
    record_history: Any,
) -> None:  # fmt: skip
    """BTCUSDT moves to 4-h funding on the broker (`fundingInfo`), the chain epoch stays 8 h: the
    broker charges twice per chain epoch, so the chain is charged twice the broker's rate; the
    income still matches the broker's two FUNDING_FEE payments. The earlier test's quotes are
    still open and charged too: the totals cover every open quote and the whole hedge."""
    _, party_as, alerts = funding_queue
    a3 = funded_key(anvil)
    symmio.trader(a3[0]).fund(100_000 * WAD)
    new: dict[int, tuple[PositionType, Decimal, Decimal]] = {}
    for side, qty in ((PositionType.LONG, Decimal("0.02")), (PositionType.SHORT, Decimal("0.005"))):
        qid = _open_quote(symmio, a3[0], side, qty, Decimal("0.01"))
        ok(await call(temporal_client, chain_worker, "chain_lock_quote",
                      {"quote_id": qid, "allocate_first": "5000"}))  # fmt: skip
        ok(await call(temporal_client, chain_worker, "chain_open_position",
                      {"quote_id": qid, "filled_amount": str(qty), "opened_price": str(PRICE)}))  # fmt: skip
        new[qid] = (side, qty, Decimal("0.01"))
    party_as.add(a3[1].lower())
    await ccxt_client.create_order(BTC, "market", "buy", 0.015, None, {"clientOrderId": "h901o1"})
    rate = Decimal("0.0003")
    await admin.set_funding_rate("BTCUSDT", str(rate), interval_hours=4)
    hedge = Decimal(str((await ccxt_client.fetch_positions([BTC]))[0]["contracts"]))
    assert hedge == Decimal("0.045")  # this test's 0.015 and the earlier test's 0.03

    every = {
        q: (
            PositionType(_quote(symmio, q).position_type),
            _quote(symmio, q).quantity,
            _quote(symmio, q).max_funding_rate,
        )
        for q in range(1, int(symmio.contract.functions.getNextQuoteId().call()) + 1)
        if _quote(symmio, q).party_a.lower() in party_as
    }
    assert set(new) <= set(every) and len(every) == 5
    boundary = _next_window(symmio)
    _warp_to(symmio, boundary - WINDOW // 2)
    start = symmio.w3.eth.block_number
    before = {q: _quote(symmio, q).opened_price for q in every}
    await _run(temporal_client, chain_worker, funding_queue, record_history, "broker-4h-interval")
    since = int(time.time() * 1000) - 1
    await admin.settle_funding("BTCUSDT")  # the broker's two 4-h funding times of the epoch
    await admin.settle_funding("BTCUSDT")
    paid = await ccxt_client.fetch_funding_history(BTC, since)
    events = await ccxt_client.fetch_funding_rate_history(BTC, since)
    assert len(paid) == 2 and len(events) == 2
    assert all(Decimal(e["info"]["fundingRate"]) == rate for e in events)
    mark = Decimal(events[0]["info"]["markPrice"])
    broker_paid = -sum(Decimal(str(p["info"]["income"])) for p in paid)
    assert broker_paid == 2 * (hedge * mark * rate).quantize(Decimal("1e-8"))

    charged: dict[int, int] = {}
    for e in _charges(symmio, start):
        assert boundary - WINDOW <= e["time"] <= boundary + WINDOW
        charged.update(zip(e["quoteIds"], e["rates"], strict=True))
    assert set(charged) == set(every)
    per_epoch = 2 * rate  # two broker intervals in one chain epoch
    income = slack = capped_away = Decimal(0)
    for qid, (side, qty, cap) in every.items():
        sign = 1 if side == PositionType.LONG else -1
        assert Decimal(charged[qid]) / WAD == max(-cap, min(cap, sign * per_epoch)), qid
        got = _income_of_party_b(side, qty, before[qid], _quote(symmio, qid).opened_price)
        share = qty * mark * min(cap, per_epoch) * sign
        # the chain charges the rate on the quote's openedPrice, the broker on its mark: the
        # stated tolerance is that gap (the earlier test's charge moved those openedPrices)
        allowed = abs(share) * abs(before[qid] - mark) / mark + TOLERANCE
        assert abs(got - share) <= allowed, (qid, got, share)
        income += got
        slack += allowed
        capped_away += qty * mark * (per_epoch - min(cap, per_epoch)) * sign
    assert capped_away > 0  # the earlier test's quote capped at 0.02 %
    assert abs(income - (broker_paid - capped_away)) <= slack, (income, broker_paid)
    # this test's own quotes opened at the mark: exact to the rounding
    for qid, (side, qty, _) in new.items():
        got = _income_of_party_b(side, qty, before[qid], _quote(symmio, qid).opened_price)
        assert (
            abs(got - qty * mark * per_epoch * (1 if side == PositionType.LONG else -1))
            <= TOLERANCE
        )
    assert alerts == []
