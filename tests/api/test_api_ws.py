"""Websockets (SYMMIO.md §5.2) through FastAPI's TestClient; the app builds its own engine in its
lifespan (the TestClient runs the app on its own event loop) against the embedded Postgres."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anyio
import pytest
from conftest import Seed
from fastapi.testclient import TestClient
from sqlalchemy.dialects.postgresql import insert
from starlette.testclient import WebSocketTestSession

from api.app import create_app
from config.settings import Settings
from ledger.models import Notification

UPNL_FIELDS = {
    "upnl", "notional", "timestamp", "available_balance", "allocated_balance", "cva", "mm", "lf",
    "total_locked", "pending_cva", "pending_mm", "pending_lf", "total_pending_locked",
}  # fmt: skip


@pytest.fixture
def client(api_settings: Settings, seeded: Seed) -> Iterator[TestClient]:
    app = create_app(api_settings, upnl_interval=0.2, poll_interval=0.1)
    with TestClient(app) as tc:
        yield tc


def recv(ws: WebSocketTestSession, timeout: float = 5.0) -> Any:
    """Next JSON message, failing (not hanging) when none comes within `timeout` seconds."""

    async def _get() -> Any:
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()

    message = ws.portal.call(_get)
    assert message["type"] == "websocket.send", message
    return json.loads(message["text"])


def test_upnl_ws(client: TestClient, seeded: Seed) -> None:
    with client.websocket_connect("/ws/upnl-ws") as ws:
        ws.send_text(seeded.trader)
        first = recv(ws)
        assert set(first) == UPNL_FIELDS
        # one open LONG 0.1 @ 49000, mark 50000: uPnL 100, notional 4900
        assert first["upnl"] == "100" and first["notional"] == "4900"
        assert first["cva"] == "20" and first["lf"] == "10" and first["mm"] == "300"
        assert first["total_locked"] == "330"
        # the PENDING ETH quote: cva 5, lf 2, partyAmm 50
        assert first["pending_cva"] == "5" and first["total_pending_locked"] == "57"
        assert abs(first["timestamp"] - time.time() * 1000) < 10_000
        second = recv(ws)  # pushed again on the interval
        assert second["timestamp"] >= first["timestamp"]
        # malformed message: an error, and the socket keeps working
        ws.send_text("not an address")
        msg = recv(ws)
        while "error" not in msg:
            msg = recv(ws)
        assert "address" in msg["error"]
        other = "0x" + "ab" * 20
        ws.send_text(f'"{other}"')  # a JSON-quoted string works too
        msg = recv(ws)
        while msg.get("notional") != "0":
            msg = recv(ws)
        assert msg["upnl"] == "0"


def test_position_state_ws3_pushes_new_notifications(client: TestClient, seeded: Seed) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with client.websocket_connect("/ws/position-state-ws3") as ws:
        ws.send_text("{broken json")
        assert "JSON" in recv(ws)["error"]
        ws.send_text(json.dumps({"address": "0xnot-a-list"}))
        assert "address" in recv(ws)["error"]
        ws.send_text(json.dumps({"address": [seeded.trader.upper().replace("0X", "0x")]}))
        time.sleep(0.3)  # subscribed; the seeded (older) notifications are not pushed

        async def insert_two() -> list[str]:
            ids = []
            for action in ("FillLimitOrderOpen", "RequestToClosePosition"):
                nid = uuid.uuid4()
                now = int(time.time())
                async with engine.begin() as conn:
                    await conn.execute(
                        insert(Notification).values(
                            id=nid, quote_id=seeded.quote_base, counterparty_address=seeded.trader,
                            last_seen_action=action, action_status="success", state_type="report",
                            filled_amount_open=Decimal("0.05"), create_time=now, modify_time=now,
                        )
                    )  # fmt: skip
                ids.append(str(nid))
            # someone else's notification must not reach this client
            async with engine.begin() as conn:
                await conn.execute(
                    insert(Notification).values(
                        id=uuid.uuid4(), quote_id=1, counterparty_address="0x" + "cd" * 20,
                        last_seen_action="SendQuote", action_status="seen", state_type="alert",
                        create_time=int(time.time()), modify_time=int(time.time()),
                    )
                )  # fmt: skip
            return ids

        ids = client.portal.call(insert_two)  # type: ignore[union-attr]
        got = [recv(ws), recv(ws)]
        assert [m["id"] for m in got] == ids
        assert got[0]["last_seen_action"] == "FillLimitOrderOpen"
        assert got[0]["filled_amount_open"] == "0.05" and got[0]["quote_id"] == seeded.quote_base
        assert got[0]["counterparty_address"] == seeded.trader
        with pytest.raises(TimeoutError):
            recv(ws, timeout=0.5)  # each notification once, nothing else


def test_position_state_ws3_keeps_one_seconds_notices_in_write_order(
    client: TestClient, seeded: Seed
) -> None:
    """Seen, locked, hedged and opened can land within one second: the front-end gets them in
    the order the workflow wrote them (`ledger_seq`), whatever order the rows landed in."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with client.websocket_connect("/ws/position-state-ws3") as ws:
        ws.send_text(json.dumps({"address": [seeded.trader]}))
        time.sleep(0.3)

        async def insert_out_of_order() -> None:
            now = int(time.time())
            async with engine.begin() as conn:
                for seq, status in ((3, "success"), (1, "seen"), (2, "failed")):
                    await conn.execute(
                        insert(Notification).values(
                            id=uuid.uuid4(), quote_id=seeded.quote_base + 901,
                            counterparty_address=seeded.trader, last_seen_action="SendQuote",
                            action_status=status, state_type="alert", create_time=now,
                            modify_time=now, ledger_seq=seq,
                        )
                    )  # fmt: skip

        client.portal.call(insert_out_of_order)  # type: ignore[union-attr]
        got: list[str] = []
        while len(got) < 3:  # notices of the trader's other quotes (earlier tests) may interleave
            msg = recv(ws)
            if msg.get("quote_id") == seeded.quote_base + 901:
                got.append(msg["action_status"])
        assert got == ["seen", "failed", "success"]


def test_funding_rate_ws(client: TestClient, seeded: Seed) -> None:
    with client.websocket_connect("/ws/funding-rate-ws") as ws:
        ws.send_text(json.dumps({"symbols": ["BTCUSDT", "NOPE"]}))
        msg = recv(ws)
        assert msg == {
            "BTCUSDT": {
                "next_funding_time": 1_800_000_000_000,
                "next_funding_rate_long": "-0.00005394",
                "next_funding_rate_short": "0.000040455",
            }
        }
        ws.send_text(json.dumps({"symbol": ["BTCUSDT"]}))
        msg = recv(ws)
        while "error" not in msg:
            msg = recv(ws)
        assert "symbols" in msg["error"]
        ws.send_text(json.dumps({"symbols": ["ETHUSDT"]}))
        msg = recv(ws)
        while "ETHUSDT" not in msg:
            msg = recv(ws)
        assert set(msg) == {"ETHUSDT"}


def test_position_state_ws3_fans_out_per_address(client: TestClient, seeded: Seed) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    alice, bob = "0x" + "a1" * 20, "0x" + "b2" * 20

    async def notify(address: str, quote_id: int) -> str:
        nid, now = uuid.uuid4(), int(time.time())
        async with engine.begin() as conn:
            await conn.execute(
                insert(Notification).values(
                    id=nid, quote_id=quote_id, counterparty_address=address, last_seen_action="SendQuote",
                    action_status="seen", state_type="alert", create_time=now, modify_time=now,
                )
            )  # fmt: skip
        return str(nid)

    with (
        client.websocket_connect("/ws/position-state-ws3") as ws_a,
        client.websocket_connect("/ws/position-state-ws3") as ws_both,
    ):
        ws_a.send_text(json.dumps({"address": [alice]}))
        ws_both.send_text(json.dumps({"address": [alice, bob]}))
        time.sleep(0.3)
        to_alice = client.portal.call(notify, alice, 11)  # type: ignore[union-attr]
        to_bob = client.portal.call(notify, bob, 12)  # type: ignore[union-attr]
        assert recv(ws_a)["id"] == to_alice
        assert {recv(ws_both)["id"], recv(ws_both)["id"]} == {to_alice, to_bob}
        with pytest.raises(TimeoutError):
            recv(ws_a, timeout=0.4)
        # re-subscribing replaces the address list
        ws_a.send_text(json.dumps({"address": [bob]}))
        time.sleep(0.3)
        again_bob = client.portal.call(notify, bob, 13)  # type: ignore[union-attr]
        client.portal.call(notify, alice, 14)  # type: ignore[union-attr]
        assert recv(ws_a)["id"] == again_bob
        with pytest.raises(TimeoutError):
            recv(ws_a, timeout=0.4)
