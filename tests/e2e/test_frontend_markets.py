"""A SYMMIO front-end against the running hedger (issue #12): the requests SYMMIO's frontend-sdk
makes (each cites the SDK file that makes it), with the whole stack up and every hedger process
started as production starts them. Nothing here writes the symbols table: the ops worker's
SymbolSync and MarketData schedules must have published the markets from the contract's views
and the exchange simulator. Values are checked against the chain and the simulator."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websockets

from workers.market_schedules import symbol_sync_schedule_id

pytestmark = pytest.mark.slow
HEADERS = {"App-Name": "pytest-frontend"}  # the SDK's getAppNameHeader (state/hedger/thunks.ts)


def _api(hedger: Any) -> str:
    return f"http://127.0.0.1:{hedger.processes.env['HEDGER_API_PORT']}"


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    return await client.get(path, params=params or None, headers=HEADERS)


async def _wait_markets(client: httpx.AsyncClient, predicate: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    body: Any = None
    while time.monotonic() < deadline:
        reply = await _get(client, "/contract-symbols")
        if reply.status_code == 200:
            body = reply.json()
            if predicate(body):
                return body
        await asyncio.sleep(1)
    raise AssertionError(f"markets not published as expected; last answer {body}")


def _by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in body["symbols"]}


async def test_a_frontend_sees_markets_with_limits_and_prices(hedger: Any) -> None:
    async with httpx.AsyncClient(base_url=_api(hedger), timeout=10) as client:
        # SDK packages/core/src/state/hedger/thunks.ts getMarkets: GET contract-symbols
        body = await _wait_markets(
            client,
            lambda b: {"BTCUSDT", "ETHUSDT"} <= {s["name"] for s in b["symbols"] if s["is_valid"]},
        )
        assert body["count"] == len(body["symbols"])
        markets = _by_name(body)
        symmio = hedger.contract()
        for name, market in markets.items():
            on_chain = symmio.functions.getSymbol(market["symbol_id"]).call()
            assert on_chain[1] == name
            assert market["max_leverage"] == on_chain[6] // 10**18
            # fields the SDK maps into `Market` (types/market.ts MarketResponseType)
            for key, kind in (
                ("symbol_id", int), ("symbol", str), ("asset", str), ("price_precision", int),
                ("quantity_precision", int), ("is_valid", bool), ("max_leverage", int),
                ("max_funding_rate", str), ("hedger_fee_open", str), ("hedger_fee_close", str),
            ):  # fmt: skip
                assert isinstance(market[key], kind), (name, key, market[key])
            assert isinstance(market["max_notional_value"], int | float)
            assert isinstance(market["min_acceptable_quote_value"], int | float)
        btc = markets["BTCUSDT"]
        assert (btc["symbol"], btc["asset"], btc["price_precision"], btc["quantity_precision"]) == (
            "BTC",
            "USDT",
            1,
            3,
        )  # fmt: skip  (the simulator's tick 0.10 and step 0.001)
        # SDK state/hedger/thunks.ts getMarkets: GET error_codes
        codes = await _get(client, "/error_codes")
        assert codes.status_code == 200 and all(isinstance(v, str) for v in codes.json().values())
        # SDK state/hedger/thunks.ts getOpenInterest: GET open-interest
        oi = (await _get(client, "/open-interest")).json()
        assert Decimal(oi["total_cap"]) > 0 and Decimal(oi["used"]) >= 0

        for name in ("BTCUSDT", "ETHUSDT"):
            market = markets[name]
            # SDK state/hedger/thunks.ts getNotionalCap: GET notional_cap/{market.id}
            cap = await _get(client, f"/notional_cap/{market['symbol_id']}")
            assert cap.status_code == 200, cap.text
            assert Decimal(cap.json()["total_cap"]) == Decimal(str(market["max_notional_value"]))
            assert Decimal(cap.json()["used"]) >= 0
            # SDK state/hedger/thunks.ts getPriceRange: GET price-range/{market.name}
            mark = await hedger.mark_price(name)
            deadline = time.monotonic() + 30
            while True:  # the MarketData schedule runs every few seconds
                reply = await _get(client, f"/price-range/{name}")
                if reply.status_code == 200 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(1)
            assert reply.status_code == 200, reply.text
            prices = reply.json()
            assert isinstance(prices["min_price"], int | float)
            assert prices["min_price"] < float(mark) < prices["max_price"]
            # SDK state/trade/hooks.ts useGetLockedPercentages:
            # GET /get_locked_params/{market.name}?leverage={leverage}
            locked = await _get(client, f"/get_locked_params/{name}", leverage=10)
            assert locked.status_code == 200, locked.text
            params = locked.json()
            assert set(params) == {"cva", "partyAmm", "lf", "leverage", "partyBmm"}
            total = sum(Decimal(params[k]) for k in ("cva", "partyAmm", "lf"))
            assert total == 100 and params["leverage"] == "10.0"
            top = await _get(client, f"/get_locked_params/{name}", leverage=market["max_leverage"])
            assert top.status_code == 200, top.text

        # SDK state/hedger/thunks.ts getMarketsInfo: GET get_market_info (reads .toString() of
        # price, price_change_percent, trade_volume, notional_cap: none may be null)
        info = (await _get(client, "/get_market_info")).json()
        for name in ("BTCUSDT", "ETHUSDT"):
            assert all(info[name][k] is not None for k in
                       ("price", "price_change_percent", "trade_volume", "notional_cap"))  # fmt: skip
            assert info[name]["price"] > 0
        # SDK state/hedger/thunks.ts getFundingRate: GET get_funding_info?symbols=..&symbols=..
        funding = (
            await client.get(
                "/get_funding_info",
                params=[("symbols", "BTCUSDT"), ("symbols", "ETHUSDT")],
                headers=HEADERS,
            )
        ).json()
        assert set(funding) == {"BTCUSDT", "ETHUSDT"}
        btc_funding = funding["BTCUSDT"]
        assert btc_funding["next_funding_time"] > time.time() * 1000 - 8 * 3600 * 1000
        assert Decimal(btc_funding["next_funding_rate_long"]) == -Decimal(
            btc_funding["next_funding_rate_short"]
        )

    # SDK state/hedger types.ts FundingRateData, served on /ws/funding-rate-ws
    ws_url = _api(hedger).replace("http://", "ws://") + "/ws/funding-rate-ws"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"symbols": ["BTCUSDT"]}))
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        assert set(message) == {"BTCUSDT"}
        assert set(message["BTCUSDT"]) == {
            "next_funding_time", "next_funding_rate_long", "next_funding_rate_short",
        }  # fmt: skip


async def test_a_symbol_the_broker_does_not_list_is_published_not_tradable(hedger: Any) -> None:
    e18 = 10**18
    hedger.admin_send("addSymbol", "DOGEUSDT", 5 * e18, 10**16, 10**15, 20 * e18, 28800, 900)
    await hedger.client.get_schedule_handle(symbol_sync_schedule_id(hedger.chain_id)).trigger()
    async with httpx.AsyncClient(base_url=_api(hedger), timeout=10) as client:
        body = await _wait_markets(
            client, lambda b: "DOGEUSDT" in {s["name"] for s in b["symbols"]}
        )
        doge = _by_name(body)["DOGEUSDT"]
        assert (doge["is_valid"], doge["rfq_allowed"]) == (False, False)
        assert _by_name(body)["BTCUSDT"]["is_valid"] is True
        locked = await _get(client, "/get_locked_params/DOGEUSDT", leverage=5)
        assert locked.status_code == 400 and "not offered" in locked.json()["detail"]


async def test_bad_frontend_input_gets_a_clear_4xx(hedger: Any) -> None:
    good = "0x" + "ab" * 20
    async with httpx.AsyncClient(base_url=_api(hedger), timeout=10) as client:
        await _wait_markets(client, lambda b: bool(b["symbols"]))
        cases = [
            ("GET", "/price-range/NOSUCHUSDT", None, 404),
            ("GET", "/get_locked_params/NOSUCHUSDT?leverage=5", None, 404),
            ("GET", "/get_locked_params/BTCUSDT?leverage=-5", None, 400),
            ("GET", "/get_locked_params/BTCUSDT?leverage=abc", None, 400),
            ("GET", "/get_locked_params/BTCUSDT?leverage=100000", None, 400),
            ("GET", "/notional_cap/987654321", None, 404),
            ("GET", "/notional_cap/-1", None, 422),
            ("GET", f"/add-sub-address-in-whitelist/0x1234/{good}", None, 400),
            ("POST", "/position-state/0/10", {"address": "0xnot-an-address"}, 400),
            ("POST", "/position-state/0/10", {"address": good, "x": "a" * 300_000}, 413),
        ]
        for method, path, body, status in cases:
            reply = await client.request(method, path, json=body, headers=HEADERS)
            assert reply.status_code == status, (path, reply.status_code, reply.text[:200])
            detail = reply.json()
            text = detail.get("detail") or detail.get("message") or detail
            assert text, (path, detail)


async def _upnl(ws: Any, timeout: float = 10) -> Decimal:
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout))
    return Decimal(message["upnl"])


async def test_upnl_moves_with_the_broker_price(hedger: Any) -> None:
    """SDK: the upnl websocket (`/ws/upnl-ws`, the sub-account as a plain string); uPnL is the
    chain position at the broker mark the MarketData schedule publishes."""
    from domain.enums import OrderType, PositionType, QuoteStatus

    account = hedger.new_account()  # its own PartyA: uPnL sums every position of it
    start = await hedger.mark_price()
    quote_id = await hedger.send_quote(
        side=PositionType.LONG,
        order_type=OrderType.MARKET,
        quantity=Decimal("0.01"),
        account=account,
    )
    await hedger.wait_chain(quote_id, {QuoteStatus.OPENED}, account=account)
    on_chain = await asyncio.to_thread(hedger.contract().functions.getQuote(quote_id).call)
    opened = Decimal(on_chain[5]) / 10**18  # openedPrice, from the chain
    address = hedger.trader(account).address
    ws_url = _api(hedger).replace("http://", "ws://") + "/ws/upnl-ws"
    try:
        async with websockets.connect(ws_url) as ws:
            await ws.send(address)
            deadline = time.monotonic() + 60
            upnl = await _upnl(ws)
            while abs(upnl) > 5 and time.monotonic() < deadline:  # position row and mark land
                upnl = await _upnl(ws)
            await hedger.set_price((start * Decimal("1.05")).quantize(Decimal("0.1")))
            expected = Decimal("0.01") * (start * Decimal("1.05") - opened)
            while time.monotonic() < deadline:
                upnl = await _upnl(ws)
                if abs(upnl - expected) < 1:
                    break
            assert abs(upnl - expected) < 1, (upnl, expected)
            # balances from SYMMIO's accounting, checked against the chain's own view
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            allocated = (
                Decimal(
                    await asyncio.to_thread(
                        hedger.contract().functions.allocatedBalanceOfPartyA(address).call
                    )
                )
                / 10**18
            )
            assert Decimal(message["allocated_balance"]) == allocated > 0
            available = Decimal(message["available_balance"])
            locked = Decimal(message["total_locked"])
            assert available == allocated + Decimal(message["upnl"]) - locked - Decimal(
                message["total_pending_locked"]
            ), message
    finally:
        await hedger.request_close(quote_id, account=account)
        await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED}, account=account)
        await hedger.set_price(start)
        await hedger.assert_hedged()


async def _notification(ws: Any, predicate: Any, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            message = json.loads(
                await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - time.monotonic()))
            )
        except TimeoutError:
            break
        seen.append(message)
        if predicate(message):
            return message  # type: ignore[no-any-return]
    raise AssertionError(f"no such notification; got {seen}")


async def test_notifications_show_a_market_close_and_a_rejection(hedger: Any) -> None:
    """SDK state/notifications (updater.ts groupingNotification): a `report` is a partial fill
    and not shown; an `alert` with action_status success / failed is shown, failed with its
    error_code (the texts from /error_codes)."""
    from domain.enums import OrderType, PositionType, QuoteStatus

    account = hedger.new_account()
    address = hedger.trader(account).address
    ws_url = _api(hedger).replace("http://", "ws://") + "/ws/position-state-ws3"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"address": [address]}))
        await asyncio.sleep(1)
        quote_id = await hedger.send_quote(
            side=PositionType.LONG,
            order_type=OrderType.MARKET,
            quantity=Decimal("0.01"),
            account=account,
        )
        seen = await _notification(
            ws, lambda n: n["quote_id"] == quote_id and n["action_status"] == "seen"
        )
        assert (seen["last_seen_action"], seen["state_type"]) == ("SendQuote", "alert")
        await hedger.wait_chain(quote_id, {QuoteStatus.OPENED}, account=account)
        opened = await _notification(
            ws, lambda n: n["quote_id"] == quote_id and n["action_status"] == "success"
        )
        assert (opened["last_seen_action"], opened["state_type"]) == ("SendQuote", "alert")
        assert Decimal(opened["filled_amount_open"]) == Decimal("0.01")
        opened_price = hedger.contract().functions.getQuote(quote_id).call()[5]  # openedPrice
        assert Decimal(opened["avg_price_open"]) == Decimal(opened_price) / 10**18
        await hedger.request_close(quote_id, account=account)
        closed = await _notification(
            ws,
            lambda n: (
                n["quote_id"] == quote_id and n["last_seen_action"] == "RequestToClosePosition"
            ),
        )
        assert (closed["action_status"], closed["state_type"]) == ("success", "alert")
        assert Decimal(closed["filled_amount_close"]) == Decimal("0.01")
        await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED}, account=account)

        # above the per-symbol notional cap (250,000 at ~50,000): the policy declines
        rejected_id = await hedger.send_quote(
            side=PositionType.LONG,
            order_type=OrderType.MARKET,
            quantity=Decimal("6"),
            account=account,
        )
        failed = await _notification(
            ws, lambda n: n["quote_id"] == rejected_id and n["action_status"] == "failed"
        )
        assert (failed["last_seen_action"], failed["state_type"]) == ("SendQuote", "alert")
        assert isinstance(failed["error_code"], int) and failed["failure_message"]
    async with httpx.AsyncClient(base_url=_api(hedger), timeout=10) as client:
        text = await _get(client, f"/error_codes/{failed['error_code']}")
        assert text.status_code == 200, text.text
        # SDK state/notifications/thunks.ts: POST position-state/{start}/{size}
        page = await client.post("/position-state/0/20", json={"address": address}, headers=HEADERS)
        assert page.status_code == 200
        kinds = {(n["quote_id"], n["action_status"]) for n in page.json()["position_state"]}
        assert {(quote_id, "seen"), (quote_id, "success"), (rejected_id, "failed")} <= kinds
    # the notice is written before the final status; both have landed once the workflow ended
    assert await asyncio.wait_for(hedger.intent(rejected_id).result(), 60) == "rejected"
    assert (
        await hedger.ledger(
            "SELECT count(*) FROM quotes WHERE quote_id = :q AND hedge_status = 'REJECTED'",
            q=rejected_id,
        )
    )[0][0] == 1
    await hedger.assert_hedged()
