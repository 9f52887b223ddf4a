"""devnet.traders: seeded decisions, intent pricing, and calldata encoding (no chain)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from devnet.traders.brain import (
    CancelClose,
    CancelQuote,
    IntentDraft,
    QuoteView,
    TraderBrain,
    TraderProfile,
)
from devnet.traders.chain import SEND_QUOTE, calldata, selector
from domain.enums import OrderType, PositionType, QuoteStatus
from domain.muon import ABI_TYPES, PairUpnlAndPriceSig, SchnorrSign, SingleUpnlSig

E18 = 10**18
MARK = 60000 * E18
LOGS = json.loads(
    (Path(__file__).resolve().parents[1] / "muon" / "vectors" / "logs.json").read_text()
)


def view(
    qid: int, status: QuoteStatus, side: PositionType = PositionType.LONG, qty: int = E18 // 100
) -> QuoteView:
    return QuoteView(qid, status, 1, side, qty, 0)


def run(seed: int, steps: int = 30) -> list[Any]:
    brain = TraderBrain(seed)
    quotes = [
        view(1, QuoteStatus.PENDING),
        view(2, QuoteStatus.OPENED),
        view(3, QuoteStatus.CLOSE_PENDING),
    ]
    out: list[Any] = []
    for i in range(steps):
        out.append(brain.decide(quotes, 1000 + i))
        out.append(brain.closes(quotes, {1: MARK}, 1000 + i))
    return out


def test_seeded_and_varied() -> None:
    assert run(7) == run(7)
    assert run(7) != run(8)
    flat = [a for step in run(7, 200) for a in step]
    kinds = {type(a).__name__ for a in flat}
    assert {"CancelQuote", "CancelClose", "IntentDraft", "RequestClose"} <= kinds
    drafts = [a for a in flat if isinstance(a, IntentDraft)]
    assert {d.order_type for d in drafts} == {OrderType.MARKET, OrderType.LIMIT}
    assert {d.position_type for d in drafts} == {PositionType.LONG, PositionType.SHORT}
    # only the pending quote is ever cancelled, only the close-pending one has its close cancelled
    assert {a.quote_id for a in flat if isinstance(a, CancelQuote)} == {1}
    assert {a.quote_id for a in flat if isinstance(a, CancelClose)} == {3}


def test_limits_on_pending_and_open() -> None:
    brain = TraderBrain(1, TraderProfile(p_open=1.0, max_pending=1))
    assert not any(
        isinstance(a, IntentDraft) for a in brain.decide([view(1, QuoteStatus.LOCKED)], 0)
    )
    assert any(isinstance(a, IntentDraft) for a in brain.decide([], 0))


@pytest.mark.parametrize("side", list(PositionType))
@pytest.mark.parametrize("order", list(OrderType))
def test_price_intent(side: PositionType, order: OrderType) -> None:
    profile = TraderProfile()
    brain = TraderBrain(1, profile)
    q = brain.price_intent(IntentDraft(1, side, order, Decimal("1000"), 5, 99), MARK)
    worse = q.price > MARK if side == PositionType.LONG else q.price < MARK
    # MARKET: a threshold worse than the mark (accepts slippage); LIMIT: a passive price
    assert worse == (order == OrderType.MARKET)
    assert q.quantity % (E18 // 1000) == 0 and q.quantity > 0
    total = q.cva + q.lf + q.party_amm
    notional = q.quantity * q.price // E18
    assert abs(notional / total - 5) < 0.01  # leverage as drawn
    assert q.lf * 100 >= total  # minAcceptablePortionLF 0.01
    assert total >= 5 * E18  # minAcceptableQuoteValue 5
    assert q.deadline == 99


def test_close_prices_and_partial() -> None:
    brain = TraderBrain(3, TraderProfile(p_close=1.0, market_share=0.0, p_partial_close=1.0))
    long_, short = (
        view(1, QuoteStatus.OPENED, PositionType.LONG, E18 // 100),
        view(2, QuoteStatus.OPENED, PositionType.SHORT, 3 * E18 // 1000),
    )
    c_long, c_short = brain.closes([long_, short], {1: MARK}, 10)
    # passive LIMIT closes: sell a LONG above the mark, buy back a SHORT below it
    assert c_long.close_price > MARK and c_short.close_price < MARK
    assert c_long.quantity_to_close == 5 * E18 // 1000 and c_short.quantity_to_close == E18 // 1000
    market = TraderBrain(3, TraderProfile(p_close=1.0, market_share=1.0)).closes(
        [long_], {1: MARK}, 10
    )
    assert market[0].order_type == OrderType.MARKET and market[0].close_price < MARK
    assert market[0].quantity_to_close == long_.quantity


@pytest.mark.parametrize(
    "tx",
    [t for t in LOGS["partyB_transactions"] if "upnlSig" in t["decoded_args"]][:2],
    ids=lambda t: t["step"],
)
def test_calldata_encoder_matches_real_calldata(tx: dict[str, Any]) -> None:
    u, args = tx["decoded_args"]["upnlSig"], tx["decoded_args"]
    sigs = SchnorrSign(int(u["sigs"]["signature"]), u["sigs"]["owner"], u["sigs"]["nonce"])
    b = bytes.fromhex
    if tx["function"] == "lockQuote":
        struct: Any = SingleUpnlSig(
            b(u["reqId"][2:]),
            int(u["timestamp"]),
            int(u["upnl"]),
            b(u["gatewaySignature"][2:]),
            sigs,
        )
        data = calldata(
            f"lockQuote(uint256,{ABI_TYPES[SingleUpnlSig]})",
            int(args["quoteId"]),
            struct.to_abi_tuple(),
        )
    else:
        struct = PairUpnlAndPriceSig(
            b(u["reqId"][2:]),
            int(u["timestamp"]),
            int(u["upnlPartyA"]),
            int(u["upnlPartyB"]),
            int(u["price"]),
            b(u["gatewaySignature"][2:]),
            sigs,
        )
        data = calldata(
            f"openPosition(uint256,uint256,uint256,{ABI_TYPES[PairUpnlAndPriceSig]})",
            int(args["quoteId"]),
            int(args["filledAmount"]),
            int(args["openedPrice"]),
            struct.to_abi_tuple(),
        )
    assert "0x" + data.hex() == tx["calldata"]


def test_send_quote_selector() -> None:
    assert "0x" + selector(SEND_QUOTE).hex() == "0x7f2755b2"  # SYMMIO.md §2.4
