"""settleUpnl (protocol-core 0.8.4 rules) with the devnet oracle's SettlementSig (`settle_upnl`)."""

from __future__ import annotations

from devnet.contracts.deploy import ANVIL_KEYS
from tests.contract.helpers import (
    E18,
    HEDGER,
    OTHER,
    PARTY_A,
    PARTY_A2,
    PRICE,
    QTY,
    SHORT,
    Chain,
    addr,
)
from tests.contract.muon import DevnetMuon, signed_settlement

A, B, OB = addr(PARTY_A), addr(HEDGER), addr(OTHER)
ADMIN = ANVIL_KEYS[0]


def _opened(chain: Chain, muon: DevnetMuon, key: str = HEDGER, party: str = PARTY_A,
            side: int = 0) -> int:  # fmt: skip
    pa, pb = addr(party), addr(key)
    qid = chain.send_quote(party, side=side)
    chain.send(key, "lockQuote", qid, muon.single_b(pb, pa))
    chain.send(key, "openPosition", qid, QTY, PRICE, muon.pair_price(pb, pa))
    return qid


def _second_partyb(chain: Chain) -> None:
    chain.send(ADMIN, "registerPartyB", OB)
    chain.send(OTHER, "mint", OB, 10_000 * E18, contract=chain.token)
    chain.send(OTHER, "approve", chain.dep.symmio, 10_000 * E18, contract=chain.token)
    chain.send(OTHER, "deposit", 10_000 * E18)
    chain.send(OTHER, "allocateForPartyB", 5_000 * E18, A)


def test_settle_own_position(chain: Chain, muon: DevnetMuon) -> None:
    qid = _opened(chain, muon)
    muon.set_price(61_000)
    sig, prices = muon.settle(A, [qid])
    assert sig[2] == [(qid, 61_000 * E18, 0)] and sig[3] == [-10 * E18] and sig[4] == 10 * E18
    for bad in ([], [61_000 * E18, 61_000 * E18]):
        assert "LibSettlement: Invalid length" in chain.reverts(HEDGER, "settleUpnl", sig, bad, A)
    for bad_price in (61_001 * E18, PRICE):  # beyond the signed price / not moving
        assert "LibSettlement: Updated price is out of range" in chain.reverts(
            HEDGER, "settleUpnl", sig, [bad_price], A
        )
    b_before, a_before = chain.view("allocatedBalanceOfPartyB", B, A), chain.nonce_a(A)
    alloc_a = chain.view("allocatedBalanceOfPartyA", A)
    r = chain.send(HEDGER, "settleUpnl", sig, [60_600 * E18], A)  # part of the way
    gain = QTY * 600  # PartyA's long gains 6.0
    events = chain.decoded(r)
    assert [n for n, _ in events] == [
        "BalanceChangePartyB/4",
        "BalanceChangePartyA/3",
        "SettleUpnl/5",
    ]
    assert events[0][1] == {"partyB": B, "partyA": A, "amount": gain, "_type": 5}
    assert events[1][1] == {"partyA": A, "amount": gain, "_type": 4}
    assert events[2][1] == {
        "settlementData": [[qid, 61_000 * E18, 0]], "updatedPrices": [60_600 * E18], "partyA": A,
        "newPartyAAllocatedBalance": alloc_a + gain, "newPartyBsAllocatedBalances": [b_before - gain],
    }  # fmt: skip
    assert chain.view("getQuote", qid)[5] == 60_600 * E18
    assert chain.nonce_a(A) == a_before + 1
    # the nonces moved: the same signature no longer verifies; a stale one expires
    assert "LibMuon: TSS not verified" in chain.reverts(
        HEDGER, "settleUpnl", sig, [60_700 * E18], A
    )
    sig, prices = muon.settle(A, [qid])
    chain.warp(301)
    assert "LibMuon: Expired signature" in chain.reverts(HEDGER, "settleUpnl", sig, prices, A)


def test_settling_another_partybs_quotes_has_a_cooldown(chain: Chain, muon: DevnetMuon) -> None:
    _second_partyb(chain)
    mine = _opened(chain, muon)
    theirs = _opened(chain, muon, key=OTHER, side=SHORT)
    muon.set_price(59_000)
    p = 59_000 * E18
    local = signed_settlement(chain, A, [(mine, p, 0), (theirs, p, 0)], [0])  # one index, two Bs
    assert "LibSettlement: Invalid upnlPartyBs list" in chain.reverts(
        OTHER, "settleUpnl", local, [p, p], A
    )
    sig, prices = muon.settle(A, [mine, theirs])
    assert [row[2] for row in sig[2]] == [0, 1]  # PartyB indexes: B, then OTHER
    r = chain.send(OTHER, "settleUpnl", sig, prices, A)  # OTHER settles B's quote too
    settled = chain.decoded(r)[-1][1]
    assert settled["newPartyBsAllocatedBalances"] == [
        chain.view("allocatedBalanceOfPartyB", B, A), chain.view("allocatedBalanceOfPartyB", OB, A)
    ]  # fmt: skip
    assert chain.view("lastUpnlSettlementTimestamp", OB, B, A) == chain.now()
    assert chain.view("lastUpnlSettlementTimestamp", OB, OB, A) == 0  # its own: no cooldown
    muon.set_price(58_000)
    sig, prices = muon.settle(A, [mine])
    assert "LibSettlement: Cooldown should be passed" in chain.reverts(
        OTHER, "settleUpnl", sig, prices, A
    )
    chain.send(HEDGER, "settleUpnl", sig, prices, A)  # B itself is not held back
    chain.warp(300)
    muon.set_price(57_000)
    sig, prices = muon.settle(A, [mine])
    chain.send(OTHER, "settleUpnl", sig, prices, A)


def test_settlement_reverts(chain: Chain, muon: DevnetMuon) -> None:
    qid = _opened(chain, muon)
    other_a = _opened(chain, muon, party=PARTY_A2)
    muon.set_price(61_000)
    sig, prices = muon.settle(A, [qid])
    assert "Accessibility: Should be partyB" in chain.reverts(PARTY_A, "settleUpnl", sig, prices, A)
    chain.send(ADMIN, "registerPartyB", OB)
    assert "LibSettlement: Sender should have a position with partyA" in chain.reverts(
        OTHER, "settleUpnl", sig, prices, A
    )
    p = 61_000 * E18
    cases = [
        ([(other_a, p, 0)], [0], 0, "LibSettlement: PartyA is invalid"),
        ([(qid, p, 0)], [0], -20_000 * E18, "LibSettlement: PartyA is insolvent"),
        ([(qid, p, 0)], [-100_000 * E18], 0, "LibSettlement: PartyB should be solvent"),
        ([(qid, p, 2)], [0], 0, "LibSettlement: Invalid partyBUpnlIndex in signature"),
    ]
    for rows, upnl_bs, upnl_a, message in cases:
        local = signed_settlement(chain, A, rows, upnl_bs, upnl_a)
        assert message in chain.reverts(HEDGER, "settleUpnl", local, [p] * len(rows), A), message
    chain.send(PARTY_A, "requestToClosePosition", qid, PRICE, QTY, 1, chain.now() + 600)
    chain.send(HEDGER, "fillCloseRequest", qid, QTY, p, muon.pair_price(B, A))
    third = _opened(chain, muon)
    local = signed_settlement(chain, A, [(third, p, 0), (qid, p, 0)], [0])
    assert "LibSettlement: Invalid state" in chain.reverts(HEDGER, "settleUpnl", local, [p, p], A)
    chain.send(ADMIN, "pausePartyBActions")
    assert "Pausable: PartyB actions paused" in chain.reverts(HEDGER, "settleUpnl", sig, prices, A)
