"""SYMMIO front-end REST endpoints (SYMMIO.md §5.1): exact paths, field names, value types."""

from __future__ import annotations

from decimal import Decimal

import httpx
from conftest import Seed
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.errors import ERROR_CODES
from ledger.columns import utcnow
from ledger.models import PositionRecord

SYMBOL_FIELDS = {
    "symbol_id", "name", "symbol", "asset", "price_precision", "quantity_precision", "is_valid",
    "min_acceptable_quote_value", "min_acceptable_portion_lf", "trading_fee", "max_leverage",
    "max_notional_value", "max_funding_rate", "rfq_allowed", "hedger_fee_open", "hedger_fee_close",
    "min_notional_value", "max_quantity", "lot_size",
}  # fmt: skip
NOTIFICATION_FIELDS = {
    "id", "quote_id", "temp_quote_id", "create_time", "modify_time", "counterparty_address",
    "filled_amount_open", "filled_amount_close", "avg_price_open", "avg_price_close",
    "last_seen_action", "action_status", "failure_type", "failure_message", "error_code",
    "state_type", "order_type",
}  # fmt: skip


async def test_contract_symbols(http: httpx.AsyncClient, seeded: Seed) -> None:
    r = await http.get("/contract-symbols", headers={"App-Name": "Cloverfield"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"count", "symbols"}
    assert body["count"] == len(body["symbols"]) >= 2
    btc = next(s for s in body["symbols"] if s["name"] == "BTCUSDT")
    assert SYMBOL_FIELDS <= set(btc)
    assert btc["symbol_id"] == 1 and btc["symbol"] == "BTC" and btc["asset"] == "USDT"
    # strings where SYMMIO sends strings, numbers where it sends numbers
    assert btc["min_acceptable_portion_lf"] == "0.003"
    assert btc["trading_fee"] == "0.0006"
    assert btc["max_funding_rate"] == "200"
    assert btc["hedger_fee_open"] == "0.0006" and btc["hedger_fee_close"] == "0.0006"
    assert btc["min_notional_value"] == "100" and btc["max_quantity"] == "1000"
    assert btc["lot_size"] == "0.001"
    assert btc["min_acceptable_quote_value"] == 10
    assert btc["max_notional_value"] == 100000  # symbol cap below the hedger-wide 250000
    assert btc["max_leverage"] == 50 and btc["is_valid"] is True and btc["rfq_allowed"] is True
    assert isinstance(btc["price_precision"], int) and isinstance(btc["quantity_precision"], int)
    eth = next(s for s in body["symbols"] if s["name"] == "ETHUSDT")
    assert eth["max_notional_value"] == 250000  # no symbol cap: the hedger-wide one


async def test_error_codes(http: httpx.AsyncClient) -> None:
    r = await http.get("/error_codes")
    assert r.status_code == 200
    assert r.json() == {str(k): v for k, v in ERROR_CODES.items()}
    assert (await http.get("/error_codes/4105")).json() == {"4105": ERROR_CODES[4105]}
    missing = await http.get("/error_codes/1234")
    assert missing.status_code == 404 and "1234" in missing.json()["detail"]


async def test_open_interest_sums_open_positions(
    http: httpx.AsyncClient, seeded: Seed, engine: AsyncEngine
) -> None:
    before = (await http.get("/open-interest")).json()
    assert set(before) == {"total_cap", "used"}
    assert before["total_cap"] == "1000000"
    async with engine.begin() as conn:
        await conn.execute(
            insert(PositionRecord).values(
                chain_id=31337, quote_id=seeded.quote_base + 5, party_a=seeded.trader,
                symbol="BTCUSDT", position_type=1, open_quantity=Decimal("0.25"),
                opened_price=Decimal("50000.5"), broker_quantity=Decimal("0.25"),
                chain_status="OPENED", hedge_status="OPEN", updated_at=utcnow(),
            )
        )  # fmt: skip
    after = (await http.get("/open-interest")).json()
    assert Decimal(after["used"]) - Decimal(before["used"]) == Decimal("12500.125")
    cap = (await http.get("/notional_cap/1")).json()
    assert set(cap) == {"total_cap", "used"} and cap["total_cap"] == "100000"
    assert Decimal(cap["used"]) >= Decimal("4900") + Decimal("12500.125")
    async with engine.begin() as conn:
        await conn.execute(
            PositionRecord.__table__.delete().where(  # type: ignore[attr-defined]
                PositionRecord.quote_id == seeded.quote_base + 5
            )
        )
    assert (await http.get("/open-interest")).json()["used"] == before["used"]


async def test_notional_cap_unknown_symbol(http: httpx.AsyncClient, seeded: Seed) -> None:
    r = await http.get("/notional_cap/987654")
    assert r.status_code == 404 and "987654" in r.json()["detail"]


async def test_price_range(http: httpx.AsyncClient, seeded: Seed) -> None:
    r = await http.get("/price-range/BTCUSDT")
    assert r.status_code == 200
    assert r.json() == {"min_price": 49000, "max_price": 51000}  # mark 50000 ± 2 %
    unknown = await http.get("/price-range/NOPEUSDT")
    assert unknown.status_code == 404 and "NOPEUSDT" in unknown.json()["detail"]
    no_mark = await http.get("/price-range/ETHUSDT")
    assert no_mark.status_code == 503 and "mark price" in no_mark.json()["detail"]


async def test_market_info(http: httpx.AsyncClient, seeded: Seed) -> None:
    body = (await http.get("/get_market_info")).json()
    assert body["BTCUSDT"] == {
        "price": 50000, "price_change_percent": 1.5, "trade_volume": 123456789,
        "notional_cap": 100000,
    }  # fmt: skip
    assert set(body["ETHUSDT"]) == {"price", "price_change_percent", "trade_volume", "notional_cap"}


async def test_funding_info(http: httpx.AsyncClient, seeded: Seed) -> None:
    r = await http.get(
        "/get_funding_info",
        params=[("symbols", "BTCUSDT"), ("symbols", "ETHUSDT"), ("symbols", "NOPE")],
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"BTCUSDT", "ETHUSDT"}
    assert body["BTCUSDT"] == {
        "next_funding_time": 1_800_000_000_000,
        "next_funding_rate_short": "0.000040455",
        "next_funding_rate_long": "-0.00005394",
        "funding_rate_epoch_duration": 28800,
    }
    assert body["ETHUSDT"]["next_funding_rate_long"] == "0"


async def test_locked_params(http: httpx.AsyncClient, seeded: Seed) -> None:
    r = await http.get("/get_locked_params/BTCUSDT", params={"leverage": "9"})
    assert r.status_code == 200
    assert r.json() == {
        "cva": "6.00",
        "partyAmm": "91.00",
        "lf": "3.00",
        "leverage": "9.0",
        "partyBmm": "0",
    }
    hi = (await http.get("/get_locked_params/BTCUSDT", params={"leverage": "12.5"})).json()
    assert hi == {
        "cva": "4.50",
        "partyAmm": "93.25",
        "lf": "2.25",
        "leverage": "12.5",
        "partyBmm": "0.5",
    }
    for bad in ("0", "-3", "abc", "51", "", "nan"):
        r = await http.get("/get_locked_params/BTCUSDT", params={"leverage": bad})
        assert r.status_code == 400, bad
        assert "leverage" in r.json()["detail"]
    assert (await http.get("/get_locked_params/BTCUSDT")).status_code == 400
    no_tier = await http.get("/get_locked_params/ETHUSDT", params={"leverage": "5"})
    assert no_tier.status_code == 400 and "not offered" in no_tier.json()["detail"]
    assert (await http.get("/get_locked_params/NOPE", params={"leverage": "5"})).status_code == 404


async def test_whitelist(http: httpx.AsyncClient, seeded: Seed) -> None:
    sub, multi = seeded.trader, seeded.multi_account
    assert (await http.get(f"/check_in-whitelist/{sub}/{multi}")).json() is False
    r = await http.get(f"/add-sub-address-in-whitelist/{sub}/{multi}")
    assert r.status_code == 200
    assert r.json() == {"successful": True, "message": "added to whitelist"}
    again = await http.get(
        f"/add-sub-address-in-whitelist/{sub.upper().replace('0X', '0x')}/{multi}"
    )
    assert again.json()["successful"] is True and "already" in again.json()["message"]
    assert (await http.get(f"/check_in-whitelist/{sub}/{multi}")).json() is True
    assert (await http.get(f"/check_in-whitelist/not-an-address/{multi}")).json() is None
    bad = await http.get(f"/add-sub-address-in-whitelist/0x123/{multi}")
    assert bad.status_code == 400 and bad.json()["successful"] is False


async def test_position_state(http: httpx.AsyncClient, seeded: Seed) -> None:
    r = await http.post("/position-state/0/10", json={"address": seeded.trader})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"count", "position_state"}
    assert body["count"] == 3 and len(body["position_state"]) == 3
    first = body["position_state"][0]
    assert set(first) == NOTIFICATION_FIELDS
    assert [n["modify_time"] for n in body["position_state"]] == sorted(
        (n["modify_time"] for n in body["position_state"]), reverse=True
    )
    failed = first  # newest
    assert failed["quote_id"] == seeded.quote_base + 1 and failed["action_status"] == "failed"
    assert failed["error_code"] == 4201 and failed["state_type"] == "alert"
    success = body["position_state"][1]
    assert success["filled_amount_open"] == "0.1" and success["avg_price_open"] == "49000"
    assert isinstance(success["id"], str) and len(success["id"]) == 36
    # paging, filters
    page = (await http.post("/position-state/1/1", json={"address": seeded.trader})).json()
    assert page["count"] == 3 and page["position_state"] == [success]
    by_quote = (
        await http.post("/position-state/0/100", json={"quote_id": str(seeded.quote_base)})
    ).json()
    assert by_quote["count"] == 2
    by_symbol = (
        await http.post(
            "/position-state/0/100", json={"address": seeded.trader, "symbols": ["ETHUSDT"]}
        )
    ).json()
    assert (
        by_symbol["count"] == 1
        and by_symbol["position_state"][0]["quote_id"] == seeded.quote_base + 1
    )
    by_state = (
        await http.post(
            "/position-state/0/100", json={"address": seeded.trader, "states": ["success"]}
        )
    ).json()
    assert by_state["count"] == 1
    recent = (
        await http.post(
            "/position-state/0/100",
            json={"address": seeded.trader, "modify_time_gte": seeded.now - 99},
        )
    ).json()
    assert recent["count"] == 2


async def test_position_state_validation(http: httpx.AsyncClient, seeded: Seed) -> None:
    too_big = await http.post("/position-state/0/101", json={"address": seeded.trader})
    assert too_big.status_code == 400 and "size" in too_big.json()["detail"]
    assert (
        await http.post("/position-state/0/0", json={"address": seeded.trader})
    ).status_code == 400
    assert (
        await http.post("/position-state/-1/10", json={"address": seeded.trader})
    ).status_code == 400
    neither = await http.post("/position-state/0/10", json={"symbols": ["BTCUSDT"]})
    assert neither.status_code == 400 and "quote_id" in neither.json()["detail"]
    bad_quote = await http.post("/position-state/0/10", json={"quote_id": "abc"})
    assert bad_quote.status_code == 400 and "quote_id" in bad_quote.json()["detail"]
    bad_address = await http.post("/position-state/0/10", json={"address": "0xnope"})
    assert bad_address.status_code == 400 and "address" in bad_address.json()["detail"]
    wrong_type = await http.post(
        "/position-state/0/10", json={"address": seeded.trader, "symbols": "BTC"}
    )
    assert wrong_type.status_code == 422 and wrong_type.json()["detail"]
    assert (await http.post("/position-state/0/10")).status_code == 422  # no body
