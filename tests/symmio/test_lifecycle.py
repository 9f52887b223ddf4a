"""Lifecycle of our SYMMIO-compatible diamond, signed with the devnet MuonSigner, events decoded with
domain.events."""

from __future__ import annotations

from domain.enums import QuoteStatus
from tests.symmio.conftest import BTC, E18, Env, revert_reason

ST = QuoteStatus


def test_market_open_and_close(env: Env) -> None:
    a, b = env.party_a.address, env.hedger.address
    alloc_before = env.f.allocatedBalanceOfPartyA(a).call()
    qid, r = env.send_quote()
    assert qid == 1
    assert env.names(r) == ["BalanceChangePartyA", "SendQuote"]
    fee = 10**16 * 60_000 * 10**15 // E18  # quantity * marketPrice * tradingFee
    assert env.f.allocatedBalanceOfPartyA(a).call() == alloc_before - fee
    assert env.status(qid) == ST.PENDING

    r = env.lock(qid)
    assert env.names(r) == ["LockQuote"]
    assert env.status(qid) == ST.LOCKED and env.quote(qid)[15] == b
    info = env.f.balanceInfoOfPartyB(b, a).call()
    assert info[5:9] == [2 * E18, E18, 4 * E18, 4 * E18]  # pending locks
    assert [q[0] for q in env.f.getPartyBPendingQuotes(b, a).call()] == [qid]

    r = env.open(qid, 10**16, 60_000 * E18)
    ev = env.events(r)
    assert [e.signature.split("(")[0] for e in ev] == ["OpenPosition"]
    assert ev[0].quote_id == qid and ev[0].filled_amount == 10**16  # type: ignore[attr-defined]
    q = env.quote(qid)
    assert q[16] == ST.OPENED and q[5] == 60_000 * E18
    # locked values scaled by openedPrice / requestedOpenPrice
    assert q[12][0] == 2 * E18 * 60_000 // 60_100
    assert env.f.nonceOfPartyA(a).call() == 1 and env.f.nonceOfPartyB(b, a).call() == 1
    assert [p[0] for p in env.f.getPartyBOpenPositions(b, a, 0, 10).call()] == [qid]
    assert env.f.getPartyBPendingQuotes(b, a).call() == []

    r = env.party_a.call(
        env.f.requestToClosePosition(qid, 59_900 * E18, 10**16, 1, env.now() + 600)
    )
    assert env.names(r) == ["RequestToClosePosition", "RequestToClosePosition*"]
    assert env.status(qid) == ST.CLOSE_PENDING

    b_alloc = env.f.allocatedBalanceOfPartyB(b, a).call()
    r = env.fill_close(qid, 10**16, 60_050 * E18)
    names = env.names(r)
    assert names == [
        "BalanceChangePartyA",
        "BalanceChangePartyB",
        "FillCloseRequest",
        "FillCloseRequest*",
    ]
    pnl = 10**16 * 50 * E18 // E18
    assert env.f.allocatedBalanceOfPartyB(b, a).call() == b_alloc - pnl
    q = env.quote(qid)
    assert q[16] == ST.CLOSED and q[10] == 10**16 and q[17] == 60_050 * E18
    assert env.f.nonceOfPartyA(a).call() == 2 and env.f.nonceOfPartyB(b, a).call() == 2
    assert env.f.getPartyBOpenPositions(b, a, 0, 10).call() == []
    assert env.f.balanceInfoOfPartyB(b, a).call()[1:] == [0] * 8


def test_limit_partial_open_creates_child(env: Env) -> None:
    qid, _ = env.send_quote(
        position=1,
        order=0,
        price=60_500 * E18,
        quantity=2 * 10**16,
        cva=4 * E18,
        lf=2 * E18,
        amm=8 * E18,
        bmm=8 * E18,
        whitelist=[env.hedger.address],
    )
    env.lock(qid)
    r = env.open(qid, 10**16, 60_500 * E18)
    ev = env.events(r)
    assert [e.signature.split("(")[0] for e in ev] == ["SendQuote", "OpenPosition"]
    child = ev[0]
    assert child.quote_id == qid + 1  # type: ignore[attr-defined]
    assert child.quantity == 10**16  # type: ignore[attr-defined]
    c = env.quote(qid + 1)
    assert c[16] == ST.PENDING and c[20] == qid and c[1] == [env.hedger.address]
    assert env.quote(qid)[9] == 10**16 and env.quote(qid)[12][0] == 2 * E18
    assert env.f.getNextQuoteId().call() == qid + 1
    # the child can be locked and opened in one call
    lsig = env.lock_sig(env.hedger.address, env.party_a.address)
    psig = env.pair_sig(env.hedger.address, env.party_a.address, BTC, 60_600 * E18)
    r = env.hedger.call(env.f.lockAndOpenQuote(qid + 1, 10**16, 60_600 * E18, lsig, psig))
    assert env.names(r) == ["LockQuote", "OpenPosition"]
    assert env.status(qid + 1) == ST.OPENED


def test_partial_open_while_cancel_pending_cancels_child(env: Env) -> None:
    qid, _ = env.send_quote(
        order=0,
        price=60_000 * E18,
        quantity=2 * 10**16,
        cva=4 * E18,
        lf=2 * E18,
        amm=8 * E18,
        bmm=8 * E18,
    )
    env.lock(qid)
    env.party_a.call(env.f.requestToCancelQuote(qid))
    assert env.status(qid) == ST.CANCEL_PENDING
    r = env.open(qid, 10**16, 59_000 * E18)
    assert env.names(r) == ["BalanceChangePartyA", "AcceptCancelRequest", "OpenPosition"]
    assert env.status(qid + 1) == ST.CANCELED and env.status(qid) == ST.OPENED


def test_cancel_pending_and_locked(env: Env) -> None:
    a = env.party_a.address
    alloc0 = env.f.allocatedBalanceOfPartyA(a).call()
    qid, _ = env.send_quote()
    r = env.party_a.call(env.f.requestToCancelQuote(qid))
    ev = env.events(r)
    assert [e.signature.split("(")[0] for e in ev] == [
        "BalanceChangePartyA",
        "RequestToCancelQuote",
    ]
    assert ev[1].quote_status == ST.CANCELED  # type: ignore[attr-defined]
    assert env.f.allocatedBalanceOfPartyA(a).call() == alloc0  # fee refunded
    assert env.f.partyAStats(a).call()[6:10] == [0, 0, 0, 0]

    qid, _ = env.send_quote()
    env.lock(qid)
    r = env.party_a.call(env.f.requestToCancelQuote(qid))
    ev = env.events(r)
    assert ev[0].quote_status == ST.CANCEL_PENDING  # type: ignore[attr-defined]
    r = env.hedger.call(env.f.acceptCancelRequest(qid))
    assert env.names(r) == ["BalanceChangePartyA", "AcceptCancelRequest"]
    assert env.status(qid) == ST.CANCELED
    assert env.f.balanceInfoOfPartyB(env.hedger.address, a).call()[1:] == [0] * 8
    assert env.f.allocatedBalanceOfPartyA(a).call() == alloc0


def test_unlock(env: Env) -> None:
    qid, _ = env.send_quote()
    env.lock(qid)
    r = env.hedger.call(env.f.unlockQuote(qid))
    assert env.names(r) == ["UnlockQuote"]
    assert env.status(qid) == ST.PENDING and env.quote(qid)[15] == "0x" + "0" * 40


def test_close_cancel_and_accept(env: Env) -> None:
    qid, _ = env.send_quote()
    env.lock(qid)
    env.open(qid, 10**16, 60_000 * E18)
    env.party_a.call(env.f.requestToClosePosition(qid, 60_600 * E18, 10**16, 0, env.now() + 600))
    r = env.party_a.call(env.f.requestToCancelCloseRequest(qid))
    assert env.names(r) == ["RequestToCancelCloseRequest", "RequestToCancelCloseRequest*"]
    assert env.status(qid) == ST.CANCEL_CLOSE_PENDING
    r = env.hedger.call(env.f.acceptCancelCloseRequest(qid))
    assert env.names(r) == ["AcceptCancelCloseRequest", "AcceptCancelCloseRequest*"]
    assert env.status(qid) == ST.OPENED

    # partial LIMIT close stays CLOSE_PENDING, then the rest closes it
    env.party_a.call(env.f.requestToClosePosition(qid, 60_100 * E18, 10**16, 0, env.now() + 600))
    env.fill_close(qid, 4 * 10**15, 60_200 * E18)
    assert env.status(qid) == ST.CLOSE_PENDING and env.quote(qid)[19] == 6 * 10**15
    env.fill_close(qid, 6 * 10**15, 60_100 * E18)
    assert env.status(qid) == ST.CLOSED
    assert env.quote(qid)[17] == (4 * 60_200 + 6 * 60_100) * E18 // 10


def test_expire_and_force_cancel(env: Env) -> None:
    qid, _ = env.send_quote(deadline=env.now() + 100)
    qid2, _ = env.send_quote()
    env.lock(qid2)
    env.party_a.call(env.f.requestToCancelQuote(qid2))
    assert "PartyAFacet: Cooldown not reached" in revert_reason(
        env.f.forceCancelQuote(qid2), env.party_a
    )
    assert "LibQuote: Quote isn't expired" in revert_reason(env.f.expireQuote([qid]), env.party_a)
    env.warp(301)
    r = env.party_a.call(env.f.expireQuote([qid]))
    assert env.names(r) == ["BalanceChangePartyA", "ExpireQuoteOpen", "ExpireQuote*"]
    assert env.status(qid) == ST.EXPIRED
    r = env.party_a.call(env.f.forceCancelQuote(qid2))
    assert env.names(r) == ["BalanceChangePartyA", "ForceCancelQuote"]
    assert env.status(qid2) == ST.CANCELED


def test_expire_close_request(env: Env) -> None:
    qid, _ = env.send_quote()
    env.lock(qid)
    env.open(qid, 10**16, 60_000 * E18)
    env.party_a.call(env.f.requestToClosePosition(qid, 60_600 * E18, 10**16, 0, env.now() + 50))
    env.warp(60)
    r = env.party_a.call(env.f.expireQuote([qid]))
    assert env.names(r) == ["ExpireQuoteClose", "ExpireQuote*"]
    assert env.status(qid) == ST.OPENED


def test_force_cancel_close_and_emergency_close(env: Env) -> None:
    qid, _ = env.send_quote()
    env.lock(qid)
    env.open(qid, 10**16, 60_000 * E18)
    env.party_a.call(env.f.requestToClosePosition(qid, 60_600 * E18, 10**16, 0, env.now() + 3000))
    env.party_a.call(env.f.requestToCancelCloseRequest(qid))
    env.warp(301)
    r = env.party_a.call(env.f.forceCancelCloseRequest(qid))
    assert env.names(r) == ["ForceCancelCloseRequest", "ForceCancelCloseRequest*"]
    sig = env.pair_sig(env.hedger.address, env.party_a.address, BTC, 59_000 * E18)
    assert "Operation not allowed" in revert_reason(
        env.f.emergencyClosePosition(qid, sig), env.hedger
    )
    env.admin.call(env.f.activeEmergencyMode())
    r = env.hedger.call(env.f.emergencyClosePosition(qid, sig))
    assert env.names(r)[-2:] == ["EmergencyClosePosition", "EmergencyClosePosition*"]
    assert env.status(qid) == ST.CLOSED


def test_accounting(env: Env) -> None:
    a, b = env.party_a.address, env.hedger.address
    bal = env.f.balanceOf(a).call()
    r = env.party_a.call(env.f.deallocate(100 * E18, env.party_a_sig(a)))
    assert env.names(r)[0] == "BalanceChangePartyA"
    assert env.f.balanceOf(a).call() == bal + 100 * E18
    assert "Cooldown" in revert_reason(env.f.withdraw(100 * E18), env.party_a)
    env.warp(121)
    env.party_a.call(env.f.withdraw(100 * E18))
    r = env.hedger.call(env.f.deallocateForPartyB(10 * E18, a, env.lock_sig(b, a)))
    assert env.names(r)[0] == "BalanceChangePartyB"
    assert env.names(env.hedger.call(env.f.allocateForPartyB(10 * E18, a)))[0:2] == [
        "BalanceChangePartyB",
        "AllocateForPartyB",
    ]
    assert env.f.isPartyB(b).call() and not env.f.isPartyB(a).call()
    assert env.f.getCollateral().call() == env.token.address
    assert env.f.getMuonConfig().call() == [300, 300]
    assert env.f.getSymbol(2).call()[1] == "ETHUSDT"
    assert [s[1] for s in env.f.getSymbols(0, 10).call()] == ["BTCUSDT", "ETHUSDT"]
    assert env.f.coolDownsOfMA().call()[:3] == [120, 300, 300]


def test_reverts(env: Env) -> None:
    a, b = env.party_a.address, env.hedger.address
    qid, _ = env.send_quote()
    f = env.f
    # wrong status
    # a PENDING quote has no PartyB yet: the PartyB-of-quote guard answers first
    assert "Should be partyB of quote" in revert_reason(f.acceptCancelRequest(qid), env.hedger)
    assert "PartyAFacet: Invalid state" in revert_reason(
        f.requestToCancelCloseRequest(qid), env.party_a
    )
    # not our quote (not locked by the hedger yet)
    sig = env.pair_sig(b, a, BTC, 60_000 * E18)
    assert "Should be partyB of quote" in revert_reason(
        f.openPosition(qid, 10**16, 60_000 * E18, sig), env.hedger
    )
    env.lock(qid)
    assert "PartyBFacet: Invalid state" in revert_reason(
        f.lockQuote(qid, env.lock_sig(b, a)), env.hedger
    )
    assert "PartyBFacet: Invalid state" in revert_reason(f.acceptCancelRequest(qid), env.hedger)
    # wrong side price: LONG above requested
    sig = env.pair_sig(b, a, BTC, 60_200 * E18)
    assert "Opened price isn't valid" in revert_reason(
        f.openPosition(qid, 10**16, 60_200 * E18, sig), env.hedger
    )
    # MARKET must fill everything
    sig = env.pair_sig(b, a, BTC, 60_000 * E18)
    assert "Invalid filledAmount" in revert_reason(
        f.openPosition(qid, 5 * 10**15, 60_000 * E18, sig), env.hedger
    )
    # past deadline
    qid2, _ = env.send_quote(deadline=env.now() + 30)
    env.warp(40)
    assert "Quote is expired" in revert_reason(f.lockQuote(qid2, env.lock_sig(b, a)), env.hedger)
    assert "PartyAFacet: Low deadline" in revert_reason(
        f.sendQuote(
            [],
            BTC,
            0,
            1,
            60_100 * E18,
            10**16,
            2 * E18,
            E18,
            4 * E18,
            4 * E18,
            0,
            env.now() - 1,
            env.send_sig(a, BTC, 60_000 * E18),
        ),
        env.party_a,
    )
    # insufficient PartyB allocation against this PartyA
    qid3, _ = env.send_quote()
    alloc = f.allocatedBalanceOfPartyB(b, a).call()
    env.hedger.call(f.deallocateForPartyB(alloc - 10 * E18, a, env.lock_sig(b, a)))
    assert "insufficient available balance" in revert_reason(
        f.lockQuote(qid3, env.lock_sig(b, a)), env.hedger
    )
    # insufficient PartyA allocation
    assert "insufficient available balance" in revert_reason(
        f.sendQuote(
            [],
            BTC,
            0,
            1,
            60_100 * E18,
            10**20,
            20_000 * E18,
            20_000 * E18,
            20_000 * E18,
            E18,
            0,
            env.now() + 100,
            env.send_sig(a, BTC, 60_000 * E18),
        ),
        env.party_a,
    )
    # only a registered PartyB may lock; PartyA of quote only may cancel
    assert "Should be partyB" in revert_reason(f.lockQuote(qid3, env.lock_sig(a, a)), env.party_a)
    assert "Should be partyA of quote" in revert_reason(f.requestToCancelQuote(qid3), env.hedger)


def test_admin_controls(env: Env) -> None:
    a, b = env.party_a.address, env.hedger.address
    f = env.f
    assert "Must has role" in revert_reason(f.pausePartyBActions(), env.hedger)
    env.admin.call(f.pausePartyBActions())
    assert f.pauseState().call()[3] is True
    qid, _ = env.send_quote()
    assert "PartyB actions paused" in revert_reason(
        f.lockQuote(qid, env.lock_sig(b, a)), env.hedger
    )
    env.admin.call(f.unpausePartyBActions())
    env.lock(qid)
    env.admin.call(f.setSymbolValidationState(BTC, False))
    sig = env.pair_sig(b, a, BTC, 60_000 * E18)
    assert "Symbol is not valid" in revert_reason(
        f.openPosition(qid, 10**16, 60_000 * E18, sig), env.hedger
    )
    env.admin.call(f.setSymbolValidationState(BTC, True))
    env.open(qid, 10**16, 60_000 * E18)
    env.admin.call(f.setPartyBEmergencyStatus([b], True))
    sig = env.pair_sig(b, a, BTC, 61_000 * E18)
    r = env.hedger.call(f.emergencyClosePosition(qid, sig))
    assert "EmergencyClosePosition" in env.names(r)
    assert "Must has role" in revert_reason(f.grantRole(b, bytes(32)), env.hedger)
    ids = f.getMuonIds().call()
    assert ids[0] == env.app_id and ids[2] == env.signer.gateway_address
    assert tuple(ids[1]) == (env.signer.public_key.x, env.signer.public_key.parity)
