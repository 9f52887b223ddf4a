"""Open/close lifecycle on our diamond with real Muon signatures (SYMMIO.md §2.2)."""

from __future__ import annotations

from devnet.contracts.deploy import ANVIL_KEYS
from tests.contract.helpers import (
    E18,
    HEDGER,
    LIMIT,
    LONG,
    MARKET,
    OTHER,
    PARTY_A,
    PARTY_A2,
    PRICE,
    QTY,
    SHORT,
    Chain,
    addr,
)

PENDING, LOCKED, CANCEL_PENDING, CANCELED, OPENED, CLOSE_PENDING = 0, 1, 2, 3, 4, 5
CANCEL_CLOSE_PENDING, CLOSED, LIQUIDATED, EXPIRED, LIQUIDATED_PENDING = 6, 7, 8, 9, 10
A, B = addr(PARTY_A), addr(HEDGER)


def test_send_lock_open_close_market(chain: Chain) -> None:
    qid = chain.send_quote()
    assert chain.status(qid) == PENDING
    assert chain.view("getNextQuoteId") == qid  # last used id
    r = chain.lock(qid)
    assert chain.events(r) == ["LockQuote/2"]
    assert chain.status(qid) == LOCKED
    assert chain.view("getPartyBPendingQuotes", B, A) == [qid]
    na, nb = chain.nonce_a(A), chain.nonce_b(B, A)
    assert (na, nb) == (0, 0)  # lock does not bump
    r = chain.open(qid)
    assert chain.events(r) == ["OpenPosition/5"]
    assert (chain.nonce_a(A), chain.nonce_b(B, A)) == (1, 1)
    assert chain.status(qid) == OPENED
    assert [q[0] for q in chain.view("getPartyBOpenPositions", B, A, 0, 10)] == [qid]
    assert chain.view("getPartyBPendingQuotes", B, A) == []
    info = chain.view("balanceInfoOfPartyB", B, A)
    requested = PRICE + 100 * E18  # locked values scale by openedPrice / requestedOpenPrice
    assert info[1:5] == [v * E18 * PRICE // requested for v in (10, 5, 20, 10)]
    chain.send(
        PARTY_A, "requestToClosePosition", qid, PRICE - 100 * E18, QTY, MARKET, chain.now() + 600
    )
    assert chain.status(qid) == CLOSE_PENDING
    r = chain.send(HEDGER, "fillCloseRequest", qid, QTY, PRICE, chain.pair_price(B, A))
    assert chain.events(r) == [
        "BalanceChangePartyA/3",
        "BalanceChangePartyB/4",
        "FillCloseRequest/7",
        "FillCloseRequest/6",
    ]
    assert chain.status(qid) == CLOSED
    assert (chain.nonce_a(A), chain.nonce_b(B, A)) == (2, 2)
    assert chain.view("getPartyBOpenPositions", B, A, 0, 10) == []
    assert chain.view("balanceInfoOfPartyB", B, A)[1:] == [0] * 8


def test_partial_limit_open_creates_child_and_partial_close(chain: Chain) -> None:
    qid = chain.send_quote(side=SHORT, order=LIMIT, price=PRICE, qty=2 * QTY, whitelist=[B])
    chain.lock(qid)
    r = chain.open(qid, filled=QTY, price=PRICE + 10 * E18)
    assert chain.events(r) == ["OpenPosition/5", "SendQuote/15"]  # order as in the vectors
    child = qid + 1
    q = chain.view("getQuote", child)
    assert (q[9], q[20], q[16]) == (QTY, qid, PENDING)  # quantity, parentId, status
    assert chain.view("getQuote", qid)[9] == QTY
    chain.send(PARTY_A, "requestToClosePosition", qid, PRICE, QTY, LIMIT, chain.now() + 600)
    r = chain.send(HEDGER, "fillCloseRequest", qid, QTY // 2, PRICE, chain.pair_price(B, A))
    assert chain.status(qid) == CLOSE_PENDING  # partial LIMIT close keeps the request open
    chain.send(HEDGER, "fillCloseRequest", qid, QTY // 2, PRICE, chain.pair_price(B, A))
    assert chain.status(qid) == CLOSED


def test_lock_and_open_and_unlock(chain: Chain) -> None:
    qid = chain.send_quote()
    r = chain.send(
        HEDGER, "lockAndOpenQuote", qid, QTY, PRICE, chain.single_b(B, A), chain.pair_price(B, A)
    )
    assert chain.events(r) == ["LockQuote/2", "OpenPosition/5"]
    q2 = chain.send_quote()
    chain.lock(q2)
    r = chain.send(HEDGER, "unlockQuote", q2)
    assert chain.events(r) == ["UnlockQuote/3"]
    assert chain.status(q2) == PENDING


def test_cancel_paths(chain: Chain) -> None:
    q1 = chain.send_quote()
    r = chain.send(PARTY_A, "requestToCancelQuote", q1)
    assert chain.status(q1) == CANCELED
    assert chain.events(r) == ["BalanceChangePartyA/3", "RequestToCancelQuote/4"]  # fee refund
    q2 = chain.send_quote()
    chain.lock(q2)
    chain.send(PARTY_A, "requestToCancelQuote", q2)
    assert chain.status(q2) == CANCEL_PENDING
    assert chain.events(chain.send(HEDGER, "acceptCancelRequest", q2)) == [
        "BalanceChangePartyA/3",
        "AcceptCancelRequest/2",
    ]
    assert chain.status(q2) == CANCELED
    q3 = chain.send_quote()
    chain.lock(q3)
    chain.send(PARTY_A, "requestToCancelQuote", q3)
    assert "Cooldown not reached" in chain.reverts(OTHER, "forceCancelQuote", q3)
    chain.warp(301)
    assert chain.events(chain.send(OTHER, "forceCancelQuote", q3))[-1] == "ForceCancelQuote/2"
    # open while CANCEL_PENDING is allowed
    q4 = chain.send_quote()
    chain.lock(q4)
    chain.send(PARTY_A, "requestToCancelQuote", q4)
    chain.open(q4)
    assert chain.status(q4) == OPENED
    assert chain.view("partyAStats", A)[1] > 0


def test_close_cancel_paths(chain: Chain) -> None:
    qid = chain.send_quote()
    chain.lock(qid)
    chain.open(qid)
    chain.send(
        PARTY_A, "requestToClosePosition", qid, PRICE - 100 * E18, QTY, MARKET, chain.now() + 600
    )
    r = chain.send(PARTY_A, "requestToCancelCloseRequest", qid)
    assert chain.events(r) == ["RequestToCancelCloseRequest/5", "RequestToCancelCloseRequest/4"]
    r = chain.send(HEDGER, "acceptCancelCloseRequest", qid)
    assert chain.events(r) == ["AcceptCancelCloseRequest/3", "AcceptCancelCloseRequest/2"]
    assert chain.status(qid) == OPENED
    chain.send(
        PARTY_A, "requestToClosePosition", qid, PRICE - 100 * E18, QTY, MARKET, chain.now() + 600
    )
    chain.send(PARTY_A, "requestToCancelCloseRequest", qid)
    chain.warp(301)
    r = chain.send(OTHER, "forceCancelCloseRequest", qid)
    assert chain.events(r) == ["ForceCancelCloseRequest/3", "ForceCancelCloseRequest/2"]
    # a MARKET close is filled whole
    chain.send(
        PARTY_A, "requestToClosePosition", qid, PRICE - 100 * E18, QTY, MARKET, chain.now() + 600
    )
    assert "PartyBFacet: Invalid filledAmount" in chain.reverts(
        HEDGER, "fillCloseRequest", qid, QTY // 2, PRICE, chain.pair_price(B, A)
    )
    chain.send(PARTY_A, "requestToCancelCloseRequest", qid)
    chain.send(HEDGER, "acceptCancelCloseRequest", qid)
    # a partial LIMIT fill while CANCEL_CLOSE_PENDING → OPENED
    chain.send(
        PARTY_A, "requestToClosePosition", qid, PRICE - 100 * E18, QTY, LIMIT, chain.now() + 600
    )
    chain.send(PARTY_A, "requestToCancelCloseRequest", qid)
    chain.send(HEDGER, "fillCloseRequest", qid, QTY // 2, PRICE, chain.pair_price(B, A))
    assert chain.status(qid) == OPENED


def test_expiry(chain: Chain) -> None:
    q1 = chain.send_quote(deadline=chain.now() + 30)
    q2 = chain.send_quote(deadline=chain.now() + 30)
    chain.lock(q2)
    chain.warp(31)
    assert "Quote is expired" in chain.reverts(HEDGER, "lockQuote", q1, chain.single_b(B, A))
    r = chain.send(OTHER, "expireQuote", [q1, q2])
    assert chain.events(r) == ["BalanceChangePartyA/3", "ExpireQuoteOpen/2", "ExpireQuote/2"] * 2
    assert chain.status(q1) == chain.status(q2) == EXPIRED
    q3 = chain.send_quote()
    chain.lock(q3)
    chain.open(q3)
    chain.send(
        PARTY_A, "requestToClosePosition", q3, PRICE - 100 * E18, QTY, MARKET, chain.now() + 30
    )
    chain.warp(31)
    assert "PartyBFacet: Quote is expired" in chain.reverts(
        HEDGER, "fillCloseRequest", q3, QTY, PRICE, chain.pair_price(B, A)
    )
    r = chain.send(OTHER, "expireQuote", [q3])
    assert chain.events(r) == ["ExpireQuoteClose/3", "ExpireQuote/2"]
    assert chain.status(q3) == OPENED


def test_revert_paths(chain: Chain) -> None:
    qid = chain.send_quote(side=LONG)
    assert "Should be partyB of quote" in chain.reverts(
        HEDGER, "openPosition", qid, QTY, PRICE, chain.pair_price(B, A)
    )
    chain.lock(qid)
    assert "Invalid state" in chain.reverts(HEDGER, "lockQuote", qid, chain.single_b(B, A))
    too_high = PRICE + 200 * E18
    assert "Opened price isn't valid" in chain.reverts(
        HEDGER, "openPosition", qid, QTY, too_high, chain.pair_price(B, A, too_high)
    )
    assert "Invalid filledAmount" in chain.reverts(
        HEDGER, "openPosition", qid, QTY // 2, PRICE, chain.pair_price(B, A)
    )
    assert "Should be partyB" in chain.reverts(OTHER, "unlockQuote", qid)
    # not our quote: whitelisted for someone else
    q2 = chain.send_quote(whitelist=[addr(OTHER)])
    assert "whitelisted" in chain.reverts(HEDGER, "lockQuote", q2, chain.single_b(B, A))
    # insufficient allocation for PartyA2 after deallocating all but 10
    q3 = chain.send_quote(PARTY_A2)
    a2 = addr(PARTY_A2)
    chain.send(HEDGER, "deallocateForPartyB", 50_000 * E18 - 10 * E18, a2, chain.single_b(B, a2))
    assert "insufficient available balance" in chain.reverts(
        HEDGER, "lockQuote", q3, chain.single_b(B, a2)
    )
    assert "PartyBFacet: Available balance is lower than zero" in chain.reverts(
        HEDGER, "lockQuote", q3, chain.single_b(B, a2, -100 * E18)
    )
    assert "Invalid state" in chain.reverts(PARTY_A, "requestToCancelCloseRequest", qid)


def test_signature_failures(chain: Chain) -> None:
    from devnet.oracle.signer import MuonSigner, derive_private_key, derive_schnorr_secret

    other = MuonSigner(derive_schnorr_secret("other schnorr"), derive_private_key("other gw"))
    qid = chain.send_quote()
    assert "LibMuon: TSS not verified" in chain.reverts(
        HEDGER, "lockQuote", qid, chain.single_b(B, A, signer=other)
    )
    assert "LibMuon: Gateway is not valid" in chain.reverts(
        HEDGER, "lockQuote", qid, chain.single_b(B, A, gateway=other)
    )
    old = chain.now() - 301
    assert "LibMuon: Expired signature" in chain.reverts(
        HEDGER, "lockQuote", qid, chain.single_b(B, A, ts=old)
    )
    assert "LibMuon: TSS not verified" in chain.reverts(
        HEDGER, "lockQuote", qid, chain.single_b(B, A, nonce=5)
    )
    a2 = addr(PARTY_A2)
    assert "LibMuon: TSS not verified" in chain.reverts(
        HEDGER, "lockQuote", qid, chain.single_b(B, a2)
    )
    chain.send(HEDGER, "lockQuote", qid, chain.single_b(B, A, ts=chain.now() - 299))
    stale = chain.pair_price(B, A)
    q2 = chain.send_quote()
    chain.lock(q2)
    chain.open(q2)  # bumps both nonces
    assert "LibMuon: TSS not verified" in chain.reverts(
        HEDGER, "openPosition", qid, QTY, PRICE, stale
    )


def test_accounting_and_views(chain: Chain) -> None:
    assert chain.view("isPartyB", B)
    assert chain.view("getCollateral") == chain.dep.collateral
    assert chain.view("getSymbol", 1)[1] == "BTCUSDT"
    assert [s[1] for s in chain.view("getSymbols", 0, 10)] == ["BTCUSDT", "ETHUSDT"]
    assert chain.view("getMuonConfig") == [300, 60]
    assert chain.view("coolDownsOfMA")[:3] == [120, 300, 300]
    assert chain.view("pauseState") == [False] * 7
    bal = chain.view("balanceOf", B)
    chain.send(HEDGER, "allocateForPartyB", 10 * E18, addr(OTHER))
    assert chain.view("balanceOf", B) == bal - 10 * E18
    assert chain.view("allocatedBalanceOfPartyB", B, addr(OTHER)) == 10 * E18
    r = chain.send(PARTY_A, "deallocate", 100 * E18, chain.single_a(A))
    assert "DeallocatePartyA/3" in chain.events(r)
    assert "Cooldown" in chain.reverts(PARTY_A, "withdraw", 100 * E18)
    chain.warp(121)
    chain.send(PARTY_A, "withdraw", 100 * E18)


def test_emergency_close(chain: Chain) -> None:
    qid = chain.send_quote()
    chain.lock(qid)
    chain.open(qid)
    assert "Operation not allowed" in chain.reverts(
        HEDGER, "emergencyClosePosition", qid, chain.pair_price(B, A)
    )
    chain.send(
        ANVIL_KEYS[0],
        "setPartyBEmergencyStatus",
        [B],
        True,
    )
    r = chain.send(HEDGER, "emergencyClosePosition", qid, chain.pair_price(B, A, PRICE + 5 * E18))
    assert chain.events(r)[-2:] == ["EmergencyClosePosition/7", "EmergencyClosePosition/6"]
    assert chain.status(qid) == CLOSED
