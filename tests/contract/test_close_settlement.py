"""Close settlement as protocol-core 0.8.4 (the bug report): a PartyA profit larger than PartyB's
allocation for that PartyA cannot be closed until PartyB tops the allocation up or the losing
side is settled first; the paying side's allocation must cover the realised PnL."""

from __future__ import annotations

from devnet.contracts.deploy import ANVIL_KEYS
from tests.contract.helpers import (
    E18,
    HEDGER,
    LIMIT,
    LONG,
    MARKET,
    PARTY_A,
    PRICE,
    SHORT,
    Chain,
    addr,
)
from tests.contract.helpers import QTY as Q1
from tests.contract.muon import DevnetMuon

A3 = ANVIL_KEYS[5]
PA, B = addr(A3), addr(HEDGER)
OPEN = 50_005 * E18
QTY = 2 * 10**16  # 0.02 BTC
# 90x: totalForPartyA = 2 + 1 + 8.112 = 11.112 on a 1000.1 notional; partyBmm 5
LOCKED = (2 * E18, 1 * E18, 8_112 * 10**15, 5 * E18)
ALLOCATION = 22_44 * 10**16  # PartyB's allocation for this PartyA: 22.44
MARK = 52_500 * E18
FILL = 52_494_5 * 10**17  # PartyB's fill: 52,494.5
PROFIT = QTY * (FILL - OPEN) // E18  # 49.79
CLOSED = 7


def _open(chain: Chain, muon: DevnetMuon, side: int) -> int:
    # MARKET threshold: a long's ≥ the signed market price, a short's ≤ it
    market = 50_000 * E18 if side == LONG else OPEN
    qid = chain.send_quote(
        A3, side=side, order=MARKET, price=OPEN, qty=QTY, locked=LOCKED, market=market
    )
    chain.send(HEDGER, "lockQuote", qid, muon.single_b(B, PA))
    chain.send(HEDGER, "openPosition", qid, QTY, OPEN, muon.pair_price(B, PA))
    return qid


def _setup(chain: Chain, muon: DevnetMuon, positions: tuple[int, ...]) -> list[int]:
    chain.fund_party_a(A3)
    chain.send(HEDGER, "allocateForPartyB", ALLOCATION, PA)
    muon.set_price(50_000)
    ids = [_open(chain, muon, side) for side in positions]
    q = chain.view("getQuote", ids[0])
    assert (q[5], q[9]) == (OPEN, QTY)  # openedPrice, quantity
    assert QTY * OPEN // (LOCKED[0] + LOCKED[1] + LOCKED[2]) // E18 == 90  # 90x
    muon.set_price(52_500)
    chain.send(A3, "requestToClosePosition", ids[0], 52_000 * E18, QTY, MARKET, chain.now() + 600)
    return ids


def _fill(chain: Chain, muon: DevnetMuon, qid: int) -> tuple[str, tuple[object, ...]]:
    sig = muon.pair_price(B, PA)
    return "fillCloseRequest", (qid, QTY, FILL, sig)


def test_one_position_reverts_on_solvency_then_passes_after_top_up(
    chain: Chain, muon: DevnetMuon
) -> None:
    (qid,) = _setup(chain, muon, (LONG,))
    assert PROFIT == 4979 * 10**16 and chain.view("allocatedBalanceOfPartyB", B, PA) == ALLOCATION
    sig = muon.pair_price(B, PA)
    assert (sig[2], sig[3], sig[4]) == (QTY * 2495, -QTY * 2495, MARK)  # upnlA, upnlB, price
    fn, args = _fill(chain, muon, qid)
    assert "LibSolvency: Available balance is lower than zero" in chain.reverts(HEDGER, fn, *args)
    # PartyB is the one that cannot pay: PartyA would receive more than PartyB holds
    top_up = PROFIT - ALLOCATION + E18
    chain.send(HEDGER, "allocateForPartyB", top_up, PA)
    fn, args = _fill(chain, muon, qid)
    a_before = chain.view("allocatedBalanceOfPartyA", PA)
    r = chain.send(HEDGER, fn, *args)
    assert chain.status(qid) == CLOSED
    events = chain.decoded(r)
    assert [n for n, _ in events] == [
        "BalanceChangePartyA/3", "BalanceChangePartyB/4", "FillCloseRequest/7", "FillCloseRequest/6"
    ]  # fmt: skip
    assert events[0][1] == {"partyA": PA, "amount": PROFIT, "_type": 4}  # REALIZED_PNL_IN
    assert events[1][1] == {"partyB": B, "partyA": PA, "amount": PROFIT, "_type": 5}  # _OUT
    assert events[2][1]["closedPrice"] == FILL and events[2][1]["quoteStatus"] == CLOSED
    assert chain.view("allocatedBalanceOfPartyB", B, PA) == E18  # exactly the +1 left
    assert chain.view("allocatedBalanceOfPartyA", PA) == a_before + PROFIT


def test_offsetting_position_reverts_in_close_then_passes_after_top_up_or_settlement(
    chain: Chain, muon: DevnetMuon
) -> None:
    long_id, short_id = _setup(chain, muon, (LONG, SHORT))
    sig = muon.pair_price(B, PA)
    assert (sig[2], sig[3]) == (0, 0)  # the short offsets the long: solvency holds
    fn, args = _fill(chain, muon, long_id)
    assert "LibQuote: PartyA should first exit its positions that are incurring losses" in (
        chain.reverts(HEDGER, fn, *args)
    )
    snap = chain.snapshot()
    # (a) PartyB tops its allocation up by profit − allocation + 1
    chain.send(HEDGER, "allocateForPartyB", PROFIT - ALLOCATION + E18, PA)
    fn, args = _fill(chain, muon, long_id)
    chain.send(HEDGER, fn, *args)
    assert chain.status(long_id) == CLOSED
    chain.revert_to(snap)
    # (b) PartyB settles PartyA's losing short first (its uPnL moves into PartyB's allocation)
    settle, prices = muon.settle(PA, [short_id])
    assert prices == [MARK]
    r = chain.send(HEDGER, "settleUpnl", settle, prices, PA)
    assert [n for n, _ in chain.decoded(r)][-1] == "SettleUpnl/5"
    loss = QTY * (MARK - OPEN) // E18
    assert chain.view("allocatedBalanceOfPartyB", B, PA) == ALLOCATION + loss
    assert chain.view("getQuote", short_id)[5] == MARK  # openedPrice moved to the settled price
    fn, args = _fill(chain, muon, long_id)
    chain.send(HEDGER, fn, *args)
    assert chain.status(long_id) == CLOSED
    assert chain.view("allocatedBalanceOfPartyB", B, PA) == ALLOCATION + loss - PROFIT


def test_partya_pays_more_than_its_allocation(chain: Chain, muon: DevnetMuon) -> None:
    """The mirror message: a losing PartyA without the allocation to pay its loss."""
    chain.fund_party_a(A3, 40 * E18)
    chain.send(HEDGER, "allocateForPartyB", ALLOCATION, PA)
    muon.set_price(50_000)
    long_id, _ = (_open(chain, muon, side) for side in (LONG, SHORT))
    muon.set_price(47_000)
    chain.send(A3, "requestToClosePosition", long_id, 46_000 * E18, QTY, LIMIT, chain.now() + 600)
    sig = muon.pair_price(B, PA)
    assert "LibQuote: PartyA should first exit its positions that are currently in profit." in (
        chain.reverts(HEDGER, "fillCloseRequest", long_id, QTY, 47_000 * E18, sig)
    )


def test_emergency_close_uses_the_same_settlement_rules(chain: Chain, muon: DevnetMuon) -> None:
    long_id, _ = _setup(chain, muon, (LONG, SHORT))
    chain.send(ANVIL_KEYS[0], "setPartyBEmergencyStatus", [B], True)
    assert "LibQuote: PartyA should first exit its positions that are incurring losses" in (
        chain.reverts(HEDGER, "emergencyClosePosition", long_id, muon.pair_price(B, PA))
    )
    chain.send(HEDGER, "allocateForPartyB", QTY * (MARK - OPEN) // E18 - ALLOCATION, PA)
    r = chain.send(HEDGER, "emergencyClosePosition", long_id, muon.pair_price(B, PA))
    assert [n for n, _ in chain.decoded(r)][-2:] == [
        "EmergencyClosePosition/7", "EmergencyClosePosition/6"
    ]  # fmt: skip
    assert chain.view("allocatedBalanceOfPartyB", B, PA) == 0
    assert len(chain.view("getPartyBOpenPositions", B, PA, 0, 10)) == 1  # the short is left


def test_emergency_close_requires_partyb_solvent(chain: Chain, muon: DevnetMuon) -> None:
    (qid,) = _setup(chain, muon, (LONG,))
    chain.send(ANVIL_KEYS[0], "activeEmergencyMode")
    assert "PartyBFacet: PartyB should be solvent" in chain.reverts(
        HEDGER, "emergencyClosePosition", qid, muon.pair_price(B, PA)
    )


def test_close_amount_rules(chain: Chain) -> None:
    """Quote 1: LONG 0.01 at 60,000, totalForPartyA ≈ 35 (BTCUSDT minAcceptableQuoteValue 5)."""
    a = addr(PARTY_A)
    qid = chain.send_quote()
    chain.lock(qid)
    chain.open(qid)
    assert "PartyAFacet: Remaining quote value is low" in chain.reverts(
        PARTY_A, "requestToClosePosition", qid, PRICE, Q1 * 9 // 10, LIMIT, chain.now() + 600
    )
    chain.send(PARTY_A, "requestToClosePosition", qid, PRICE, Q1, LIMIT, chain.now() + 600)
    assert "LibQuote: Remaining quote value is low" in chain.reverts(
        HEDGER, "fillCloseRequest", qid, Q1 * 9 // 10, PRICE, chain.pair_price(B, a)
    )
    assert "LibSolvency: Available balance is lower than zero" in chain.reverts(
        HEDGER, "fillCloseRequest", qid, Q1, PRICE, chain.pair_price(B, a, upnl_a=-20_000 * E18)
    )  # PartyA's side of the same check
    chain.send(ANVIL_KEYS[0], "activeEmergencyMode")
    assert "PartyBFacet: PartyA is insolvent" in chain.reverts(
        HEDGER, "emergencyClosePosition", qid, chain.pair_price(B, a, upnl_a=-20_000 * E18)
    )
    chain.send(ANVIL_KEYS[0], "deactiveEmergencyMode")
    # a locked part too small to split: 1 wei of cva cannot be released pro rata by half a fill
    dust = chain.send_quote(order=LIMIT, price=PRICE, locked=(1, 5 * E18, 30 * E18, 10 * E18))
    chain.lock(dust)
    chain.open(dust)  # at the requested price: the locked values are not rescaled
    chain.send(PARTY_A, "requestToClosePosition", dust, PRICE, Q1, LIMIT, chain.now() + 600)
    assert "LibQuote: Low filled amount" in chain.reverts(
        HEDGER, "fillCloseRequest", dust, Q1 // 2, PRICE, chain.pair_price(B, a)
    )
