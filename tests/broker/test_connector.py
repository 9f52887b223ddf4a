"""Connector suite (in the spirit of Hummingbot's ExchangeConnectorTests): every broker call the
hedger makes, through the real ccxt client, against each configured exchange."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from broker_helpers import limit, market, new_cid, new_close_cid

from adapters.broker.adapter import BrokerAdapter
from adapters.broker.errors import BrokerError
from devnet.exchange.admin import ExchangeAdmin


async def test_load_markets_and_symbol_mapping(adapter: BrokerAdapter) -> None:
    by_id = await adapter.rules(1)
    assert by_id.symbol == "BTC/USDT:USDT" and by_id.market_id == "BTCUSDT"
    assert (await adapter.rules("BTCUSDT")) == by_id == (await adapter.rules("BTC/USDT:USDT"))
    assert (await adapter.rules(3)).symbol == "SOL/USDT:USDT"
    assert by_id.step_size > 0 and by_id.tick_size > 0 and by_id.min_notional > 0
    with pytest.raises(BrokerError) as err:
        await adapter.rules("DOGEXYZ")
    assert err.value.kind == "UnknownSymbol" and not err.value.retryable


async def test_market_data(adapter: BrokerAdapter) -> None:
    mark = await adapter.fetch_mark_price("BTCUSDT")
    assert mark > 0
    ticker = await adapter.fetch_ticker("BTCUSDT")
    assert ticker["last"] > 0
    book = await adapter.fetch_order_book("BTCUSDT", 5)
    assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]


async def test_balance_and_leverage(adapter: BrokerAdapter) -> None:
    await adapter.set_leverage("BTCUSDT", 10)
    bal = await adapter.fetch_balance("USDT")
    assert Decimal(bal.total) > 0 and Decimal(bal.free) > 0


async def test_market_order_fills_position_and_fees(adapter: BrokerAdapter) -> None:
    before = {p.symbol: Decimal(p.amount) for p in await adapter.fetch_positions(["BTCUSDT"])}
    cid = new_cid()
    snap = await adapter.create_order(market("BTCUSDT", "buy", "0.01", cid))
    assert snap.client_order_id == cid and snap.exchange_order_id
    assert (
        snap.status == "closed"
        and Decimal(snap.filled) == Decimal("0.01")
        and Decimal(snap.remaining) == 0
    )
    assert snap.average_price is not None and Decimal(snap.average_price) > 0
    fetched = await adapter.fetch_order("BTCUSDT", cid, with_fees=True)
    assert fetched is not None and fetched.exchange_order_id == snap.exchange_order_id
    assert fetched.fee is not None and Decimal(fetched.fee) > 0
    fills = await adapter.fetch_fills("BTCUSDT", cid)
    assert sum(Decimal(f.amount) for f in fills) == Decimal("0.01")
    assert all(f.exchange_order_id == snap.exchange_order_id for f in fills)
    after = {p.symbol: Decimal(p.amount) for p in await adapter.fetch_positions(["BTCUSDT"])}
    assert after.get("BTC/USDT:USDT", Decimal(0)) - before.get(
        "BTC/USDT:USDT", Decimal(0)
    ) == Decimal("0.01")
    # reduce-only close with a close-path id
    close = await adapter.create_order(
        market("BTCUSDT", "sell", "0.01", new_close_cid(), reduce_only=True)
    )
    assert close.status == "closed" and close.reduce_only


async def test_amount_is_rounded_down_to_step(adapter: BrokerAdapter) -> None:
    snap = await adapter.create_order(market("BTCUSDT", "buy", "0.0129"))
    assert Decimal(snap.amount) == Decimal("0.012")


async def test_min_notional_checked_before_sending(adapter: BrokerAdapter) -> None:
    rules = await adapter.rules("BTCUSDT")
    mark = await adapter.fetch_mark_price("BTCUSDT")
    amount = rules.round_amount(rules.min_notional / mark / 2)
    if amount < rules.min_qty:
        pytest.skip("this market's minimum quantity already exceeds its minimum notional")
    cid = new_cid()
    with pytest.raises(BrokerError) as err:
        await adapter.create_order(market("BTCUSDT", "buy", format(amount, "f"), cid))
    assert err.value.kind == "InvalidOrder" and not err.value.retryable
    assert await adapter.fetch_order("BTCUSDT", cid) is None  # never sent


async def test_create_is_idempotent(adapter: BrokerAdapter) -> None:
    cid = new_cid()
    first = await adapter.create_order(limit("BTCUSDT", "buy", "0.01", "40000", cid))
    second = await adapter.create_order(limit("BTCUSDT", "buy", "0.01", "40000", cid))
    assert first.status == "open" and second.exchange_order_id == first.exchange_order_id
    opened = [o for o in await adapter.fetch_open_orders("BTCUSDT") if o.client_order_id == cid]
    assert len(opened) == 1
    await adapter.cancel_order("BTCUSDT", cid)


async def test_cancel_is_idempotent(adapter: BrokerAdapter) -> None:
    cid = new_cid()
    await adapter.create_order(limit("BTCUSDT", "buy", "0.01", "40000", cid))
    first = await adapter.cancel_order("BTCUSDT", cid)
    again = await adapter.cancel_order("BTCUSDT", cid)
    assert first.status == again.status == "canceled"
    assert first.exchange_order_id == again.exchange_order_id
    filled_cid = new_cid()
    await adapter.create_order(market("BTCUSDT", "buy", "0.01", filled_cid))
    assert (await adapter.cancel_order("BTCUSDT", filled_cid)).status == "closed"
    never = await adapter.cancel_order("BTCUSDT", new_cid())
    assert never.status == "not_found" and never.exchange_order_id is None


async def test_fetch_unknown_order_is_none(adapter: BrokerAdapter) -> None:
    assert await adapter.fetch_order("BTCUSDT", new_cid()) is None


async def test_reduce_only_without_position_is_terminal(adapter: BrokerAdapter) -> None:
    positions = await adapter.fetch_positions(["ETHUSDT"])
    assert not positions
    with pytest.raises(BrokerError) as err:
        await adapter.create_order(market("ETHUSDT", "sell", "0.1", reduce_only=True))
    assert err.value.kind == "InvalidOrder" and not err.value.retryable


async def test_insufficient_margin_is_terminal(
    adapter: BrokerAdapter, admin: ExchangeAdmin
) -> None:
    with pytest.raises(BrokerError) as err:  # (simulator only: sizes for a live account vary)
        await adapter.create_order(market("BTCUSDT", "buy", "900"))  # 45M notional
    assert (
        err.value.kind == "InsufficientMargin"
        and not err.value.retryable
        and err.value.code == "-2019"
    )


# ---------------------------------------------------------------- simulator-driven behaviour
async def test_limit_order_rests_then_fills_when_price_crosses(
    adapter: BrokerAdapter, admin: ExchangeAdmin
) -> None:
    cid = new_cid()
    snap = await adapter.create_order(limit("BTCUSDT", "buy", "0.01", "49000.07", cid))
    assert snap.status == "open" and Decimal(snap.price or 0) == Decimal(
        "49000.0"
    )  # buy rounds down to tick
    await admin.set_price("BTCUSDT", "48900")
    filled = await adapter.fetch_order("BTCUSDT", cid)
    assert (
        filled is not None
        and filled.status == "closed"
        and Decimal(filled.average_price or 0) == Decimal("49000")
    )


async def test_large_limit_order_fills_partially(
    adapter: BrokerAdapter, admin: ExchangeAdmin
) -> None:
    await adapter.set_leverage("ETHUSDT", 50)
    cid = new_cid()
    await adapter.create_order(limit("ETHUSDT", "buy", "400", "2900", cid))  # 1.16M > 500k chunk
    await admin.set_price("ETHUSDT", "2890")
    part = await adapter.fetch_order("ETHUSDT", cid)
    assert part is not None and part.status == "open" and 0 < Decimal(part.filled) < Decimal("400")
    await admin.step_prices(5)  # frozen path: each step fills another chunk
    done = await adapter.fetch_order("ETHUSDT", cid)
    assert done is not None and done.status == "closed" and Decimal(done.filled) == Decimal("400")


async def test_market_slippage_grows_with_size(
    adapter: BrokerAdapter, admin: ExchangeAdmin
) -> None:
    await adapter.set_leverage("BTCUSDT", 50)
    small = await adapter.create_order(market("BTCUSDT", "buy", "0.01"))
    big = await adapter.create_order(market("BTCUSDT", "buy", "20"))
    assert Decimal(big.average_price or 0) > Decimal(small.average_price or 0) > Decimal("50000")


async def test_pnl_realised_into_balance(adapter: BrokerAdapter, admin: ExchangeAdmin) -> None:
    start = Decimal((await adapter.fetch_balance()).total)
    await adapter.create_order(market("BTCUSDT", "buy", "1"))
    await admin.set_price("BTCUSDT", "51000")
    [pos] = await adapter.fetch_positions(["BTCUSDT"])
    assert Decimal(pos.amount) == 1 and Decimal(pos.unrealized_pnl or 0) > 900
    await adapter.create_order(market("BTCUSDT", "sell", "1", reduce_only=True))
    assert not await adapter.fetch_positions(["BTCUSDT"])
    end = Decimal((await adapter.fetch_balance()).total)
    assert Decimal("900") < end - start < Decimal("1000")  # ~+1000 less slippage and fees


async def test_credit_balance(adapter: BrokerAdapter, admin: ExchangeAdmin) -> None:
    before = Decimal((await adapter.fetch_balance()).total)
    await admin.credit("1234.5")
    assert Decimal((await adapter.fetch_balance()).total) - before == Decimal("1234.5")


async def test_delayed_fill_is_acknowledged_then_filled(
    adapter: BrokerAdapter, admin: ExchangeAdmin
) -> None:
    await admin.set_fill_delay(0.3)
    cid = new_cid()
    snap = await adapter.create_order(market("BTCUSDT", "buy", "0.01", cid))
    assert snap.status == "open" and Decimal(snap.filled) == 0  # delayed fill: acknowledged only
    await asyncio.sleep(0.5)
    later = await adapter.fetch_order("BTCUSDT", cid)
    assert later is not None and later.status == "closed"


async def test_book_ticker_and_leverage_brackets(adapter: BrokerAdapter) -> None:
    await adapter.symbols()
    quotes = await adapter.exchange.fetch_bids_asks(["BTC/USDT:USDT"])
    q = quotes["BTC/USDT:USDT"]
    assert 0 < q["bid"] < q["ask"]
    tiers = await adapter.exchange.fetch_leverage_tiers(["BTC/USDT:USDT"])
    assert tiers["BTC/USDT:USDT"][0]["maxLeverage"] >= 20
