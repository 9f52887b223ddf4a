"""One intent followed through `/ws/position-state-ws3` as SYMMIO's front-end follows it
(frontend-sdk `state/notifications/updater.ts`: it sends `{"address": [subAccount]}` and reads
one NotificationResponse per message): seen, then the lock and the hedge as `report`s of the
open's progress (filled_amount_open 0, then what the broker filled at the price the trader
gets), then opened; a LIMIT close the market cannot reach, cancelled by the trader, is told as
"Cancel Close Position" success. Checked against the chain and the broker simulator."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import pytest
import websockets

from domain.enums import OrderType, PositionType, QuoteStatus

pytestmark = pytest.mark.slow
WAD = 10**18
OPEN = {QuoteStatus.OPENED}


def _ws_url(hedger: Any) -> str:
    return f"ws://127.0.0.1:{hedger.processes.env['HEDGER_API_PORT']}/ws/position-state-ws3"


async def _until(ws: Any, got: list[dict[str, Any]], predicate: Any, timeout: float = 90) -> None:
    """Read messages into `got` until one matches `predicate`."""
    deadline = time.monotonic() + timeout
    while not any(predicate(n) for n in got):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no such notification; got {got}")
        try:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=left)))
        except TimeoutError:
            raise AssertionError(f"no such notification; got {got}") from None


def _kind(n: dict[str, Any]) -> tuple[str, str, str]:
    return n["last_seen_action"], n["action_status"], n["state_type"]


async def test_an_intent_is_told_locked_and_hedged_before_opened_and_a_cancelled_close(
    hedger: Any, record_history: Any
) -> None:
    account = hedger.new_account()
    trader = hedger.trader(account)
    async with websockets.connect(_ws_url(hedger)) as ws:
        await ws.send(json.dumps({"address": [trader.address]}))
        await asyncio.sleep(1)  # subscribed: only what is written from now on is pushed
        quote_id = await hedger.send_quote(
            side=PositionType.LONG, order_type=OrderType.MARKET, quantity=Decimal("0.01"),
            account=account,
        )  # fmt: skip
        got: list[dict[str, Any]] = []
        opened = ("SendQuote", "success", "alert")
        await _until(ws, got, lambda n: _kind(n) == opened)
        mine = [n for n in got if n["quote_id"] == quote_id]
        assert len(mine) == len(got), got  # a trader of its own: nothing else reaches it
        kinds = [_kind(n) for n in mine]
        assert kinds == [
            ("SendQuote", "seen", "alert"),  # seen by the hedger
            ("SendQuote", "seen", "report"),  # locked: nothing filled yet
            ("SendQuote", "seen", "report"),  # hedged: the broker filled it all
            opened,
        ], mine
        locked, hedged, done = mine[1], mine[2], mine[3]
        assert Decimal(locked["filled_amount_open"]) == 0
        view = await hedger.wait_chain(quote_id, OPEN, account=account)
        opened_price = Decimal(hedger.contract().functions.getQuote(quote_id).call()[5]) / WAD
        assert (
            Decimal(hedged["filled_amount_open"]) == Decimal("0.01") == Decimal(view.quantity) / WAD
        )
        assert Decimal(hedged["avg_price_open"]) == opened_price  # what openPosition then sent
        assert Decimal(done["avg_price_open"]) == opened_price
        assert await hedger.broker_traded(quote_id) == Decimal("0.01")  # hedged before opened
        assert [int(n["order_type"]) for n in mine] == [int(OrderType.MARKET)] * 4
        assert [n["failure_type"] for n in mine] == [None] * 4
        await record_history(
            hedger.intent(quote_id), "IntentWorkflow", "notify-steps", every_run=True
        )

        # A LIMIT close far above the market: the hedger rests a sell that cannot fill; the
        # trader cancels it and the hedger accepts.
        await hedger.request_close(
            quote_id, order_type=OrderType.LIMIT, price=Decimal("1000000"), account=account
        )
        await hedger.wait_state(
            hedger.position(quote_id),
            lambda s: any(leg["purpose"] == "close" for leg in s.get("legs", [])),
        )
        await asyncio.to_thread(trader.request_to_cancel_close_request, quote_id)
        cancelled = ("RequestToCancelCloseRequest", "success", "alert")
        start = len(got)
        await _until(ws, got, lambda n: _kind(n) == cancelled)
        after = got[start:]
        assert [_kind(n) for n in after] == [cancelled], after  # no fill was told
        assert after[0]["quote_id"] == quote_id and after[0]["filled_amount_close"] is None
        back = await hedger.wait_chain(quote_id, OPEN, account=account)
        assert back.closed_amount == 0
        orders = await hedger.broker_orders(quote_id)
        closes = [o for o in orders if str(o["clientOrderId"]).startswith(f"h{quote_id}c")]
        assert closes and all(o["status"] in {"CANCELED", "EXPIRED"} for o in closes)
        await hedger.assert_hedged()

        # clean up: a MARKET close, told as the close filled
        await hedger.request_close(quote_id, account=account)
        await _until(ws, got, lambda n: n["last_seen_action"] == "RequestToClosePosition")
    await hedger.wait_chain(quote_id, {QuoteStatus.CLOSED}, account=account)
    await hedger.wait_workflow(hedger.position(quote_id))
    await hedger.assert_hedged()
    await record_history(
        hedger.position(quote_id), "PositionWorkflow", "cancel-close", every_run=True
    )
