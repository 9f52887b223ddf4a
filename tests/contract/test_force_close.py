"""forceClosePosition / settleAndForceClosePosition (protocol-core 0.8.4 rules) with the devnet
oracle's HighLowPriceSig (`priceRange`): cooldowns, gap ratio, penalty, average price, the
reserve vault and the PartyB-liquidation outcome."""

from __future__ import annotations

from typing import Any

from devnet.contracts.deploy import ANVIL_KEYS
from tests.contract.helpers import (
    E18,
    HEDGER,
    LIMIT,
    LONG,
    MARKET,
    OTHER,
    PARTY_A,
    PRICE,
    QTY,
    SHORT,
    Chain,
    addr,
)
from tests.contract.muon import DevnetMuon, signed_high_low

A, B = addr(PARTY_A), addr(HEDGER)
ADMIN = ANVIL_KEYS[0]
FIRST, SECOND = 300, 120  # forceCloseCooldowns of the devnet deployment
GAP = PENALTY = 10**15  # 0.1%
CLOSED, CLOSE_PENDING, LIQUIDATED = 7, 5, 8


def _opened(chain: Chain, muon: DevnetMuon) -> int:
    qid = chain.send_quote()
    chain.send(HEDGER, "lockQuote", qid, muon.single_b(B, A))
    chain.send(HEDGER, "openPosition", qid, QTY, PRICE, muon.pair_price(B, A))
    return qid


def _request(chain: Chain, muon: DevnetMuon, qid: int, key: str, price: int, *,
             order: int = LIMIT, deadline: int = 3600) -> int:  # fmt: skip
    """Close request at `price`; the market then trades through it. Returns the request time."""
    chain.send(key, "requestToClosePosition", qid, price, QTY if key == PARTY_A else 2 * 10**16,
               order, chain.now() + deadline)  # fmt: skip
    requested = int(chain.view("getQuote", qid)[22])  # statusModifyTimestamp
    return requested


def _rally(chain: Chain, muon: DevnetMuon, at: int, to: int) -> None:
    chain.warp(at)
    muon.set_price(to)
    chain.warp(300)


def test_force_close_a_limit_close_request(chain: Chain, muon: DevnetMuon) -> None:
    qid = _opened(chain, muon)
    requested = 60_500 * E18
    t_r = _request(chain, muon, qid, PARTY_A, requested)
    _rally(chain, muon, 350, 60_700)
    t1 = chain.now() - SECOND
    sig = muon.price_range(A, B, t_r + FIRST, t1)
    highest, lowest, mean = sig[3], sig[4], sig[5]
    assert (highest, lowest, sig[10]) == (60_700 * E18, PRICE, 60_700 * E18)
    penalised = requested + requested * PENALTY // E18
    assert mean < penalised  # so the penalty price applies
    nonces = (chain.nonce_a(A), chain.nonce_b(B, A))
    r = chain.send(OTHER, "forceClosePosition", qid, sig)  # anyone may
    events = chain.decoded(r)
    assert [n for n, _ in events] == [
        "BalanceChangePartyA/3", "BalanceChangePartyB/4", "ForceClosePosition/7",
        "ForceClosePosition/6",
    ]  # fmt: skip
    assert events[2][1] == {
        "quoteId": qid, "partyA": A, "partyB": B, "filledAmount": QTY, "closedPrice": penalised,
        "quoteStatus": CLOSED, "closeId": 1,
    }  # fmt: skip
    assert events[0][1]["amount"] == QTY * (penalised - PRICE) // E18
    assert (chain.nonce_a(A), chain.nonce_b(B, A)) == (nonces[0] + 1, nonces[1] + 1)


def test_force_close_checks(chain: Chain, muon: DevnetMuon) -> None:
    qid = _opened(chain, muon)
    now = chain.now()
    assert "PartyAFacet: Invalid state" in chain.reverts(
        OTHER, "forceClosePosition", qid, muon.price_range(A, B, now - 10, now - 5)
    )
    t_r = _request(chain, muon, qid, PARTY_A, 60_500 * E18)
    _rally(chain, muon, 350, 60_700)
    t1 = chain.now() - SECOND

    def reason(sig: tuple[Any, ...]) -> str:
        return chain.reverts(OTHER, "forceClosePosition", qid, sig)

    assert "PartyAFacet: Cooldown not reached" in reason(
        muon.price_range(A, B, t_r + FIRST - 1, t1)
    )
    assert "PartyAFacet: Cooldown not reached" in reason(
        muon.price_range(A, B, t_r + FIRST, t1 + 1)
    )
    assert "PartyAFacet: Requested close price not reached" in reason(
        muon.price_range(A, B, t_r + FIRST, t_r + 340)  # before the rally
    )
    window = (t_r + FIRST, t1)
    bad_avg = signed_high_low(
        chain, B, A, 1, window, (60_700 * E18, PRICE, 60_800 * E18, 60_700 * E18)
    )
    assert "PartyAFacet: Invalid average price" in reason(bad_avg)
    poor_a = signed_high_low(chain, B, A, 1, window, (60_700 * E18, PRICE, PRICE, 60_700 * E18),
                             upnls=(0, -20_000 * E18))  # fmt: skip
    assert "PartyAFacet: PartyA will be insolvent" in reason(poor_a)
    other_key = signed_high_low(chain, B, A, 2, window, (60_700 * E18, PRICE, PRICE, 60_700 * E18))
    assert "LibMuon: TSS not verified" in reason(other_key)  # the hash uses the quote's symbol
    # a window entirely after the rally: its mean beats the penalty price, so the average is
    # used and must span forceCloseMinSigPeriod
    late = muon.price_range(A, B, t_r + 360, t1)
    assert late[5] == 60_700 * E18
    chain.send(ADMIN, "setForceCloseMinSigPeriod", t1 - t_r)
    assert "PartyAFacet: Invalid signature period" in reason(late)
    chain.send(ADMIN, "setForceCloseMinSigPeriod", 60)
    chain.send(ADMIN, "pausePartyAActions")
    assert "Pausable: PartyA actions paused" in reason(late)
    chain.send(ADMIN, "unpausePartyAActions")
    r = chain.send(PARTY_A, "forceClosePosition", qid, late)
    assert chain.decoded(r)[-2][1]["closedPrice"] == 60_700 * E18
    assert "Accessibility: Invalid state" in reason(late)  # CLOSED


def test_market_requests_and_expired_requests_cannot_be_forced(
    chain: Chain, muon: DevnetMuon
) -> None:
    qid = _opened(chain, muon)
    t_r = _request(chain, muon, qid, PARTY_A, 60_500 * E18, order=MARKET)
    _rally(chain, muon, 350, 60_700)
    sig = muon.price_range(A, B, t_r + FIRST, chain.now() - SECOND)
    assert "PartyBFacet: Quote's order type should be LIMIT" in chain.reverts(
        OTHER, "forceClosePosition", qid, sig
    )
    q2 = _opened(chain, muon)
    t_r = _request(chain, muon, q2, PARTY_A, 60_500 * E18, deadline=600)
    _rally(chain, muon, 350, 60_800)
    sig = muon.price_range(A, B, t_r + FIRST, chain.now() - SECOND)
    assert "PartyBFacet: Close request is expired" in chain.reverts(
        OTHER, "forceClosePosition", q2, sig
    )


def test_short_force_close(chain: Chain, muon: DevnetMuon) -> None:
    qid = chain.send_quote(side=SHORT)
    chain.send(HEDGER, "lockQuote", qid, muon.single_b(B, A))
    chain.send(HEDGER, "openPosition", qid, QTY, PRICE, muon.pair_price(B, A))
    requested = 59_500 * E18
    t_r = _request(chain, muon, qid, PARTY_A, requested)
    _rally(chain, muon, 350, 59_000)
    sig = muon.price_range(A, B, t_r + FIRST, chain.now() - SECOND)
    r = chain.send(OTHER, "forceClosePosition", qid, sig)
    closed = chain.decoded(r)[-2][1]["closedPrice"]
    assert closed == min(requested - requested * PENALTY // E18, sig[5])
    assert chain.status(qid) == CLOSED


PA5 = ANVIL_KEYS[7]
P5 = addr(PA5)
OPEN5 = 50_005 * E18


def _thin_partyb(chain: Chain, muon: DevnetMuon, sides: tuple[int, ...] = (LONG,)) -> list[int]:
    """0.02 BTC at 50,005 against a PartyB allocation of 22.44 (the bug report's numbers)."""
    chain.fund_party_a(PA5)
    chain.send(HEDGER, "allocateForPartyB", 2244 * 10**16, P5)
    muon.set_price(50_005)
    ids = []
    for side in sides:
        qid = chain.send_quote(PA5, side=side, price=OPEN5, qty=2 * 10**16, market=OPEN5,
                               locked=(2 * E18, E18, 8112 * 10**15, 5 * E18))  # fmt: skip
        chain.send(HEDGER, "lockQuote", qid, muon.single_b(B, P5))
        chain.send(HEDGER, "openPosition", qid, 2 * 10**16, OPEN5, muon.pair_price(B, P5))
        ids.append(qid)
    return ids


def _forced_window(chain: Chain, muon: DevnetMuon, qid: int) -> tuple[Any, ...]:
    t_r = _request(chain, muon, qid, PA5, 51_000 * E18)
    _rally(chain, muon, 350, 52_500)
    return muon.price_range(P5, B, t_r + 360, chain.now() - SECOND)  # all at 52,500


def test_reserve_vault_covers_partyb(chain: Chain, muon: DevnetMuon) -> None:
    (qid,) = _thin_partyb(chain, muon)
    assert "AccountFacet: Should be partyB" in chain.reverts(
        HEDGER, "depositToReserveVault", E18, addr(OTHER)
    )
    assert "AccountFacet: Insufficient balance" in chain.reverts(
        PA5, "depositToReserveVault", E18, B
    )  # PartyA5's balance is all allocated
    r = chain.send(HEDGER, "depositToReserveVault", 30 * E18, B)
    assert chain.decoded(r) == [
        ("DepositToReserveVault/3", {"sender": B, "partyB": B, "amount": 30 * E18})
    ]
    sig = _forced_window(chain, muon, qid)
    r = chain.send(PA5, "forceClosePosition", qid, sig)
    events = chain.decoded(r)
    drawn = 2746 * 10**16  # 22.44 − 3 − 49.9 + 3 = −27.46
    assert events[0] == (
        "BalanceChangePartyB/4",
        {"partyB": B, "partyA": P5, "amount": drawn, "_type": 4},
    )
    assert [n for n, _ in events][-2:] == ["ForceClosePosition/7", "ForceClosePosition/6"]
    assert chain.view("balanceOfReserveVault", B) == 30 * E18 - drawn
    assert chain.view("allocatedBalanceOfPartyB", B, P5) == 0  # exactly the 49.9 paid
    assert chain.status(qid) == CLOSED
    r = chain.send(HEDGER, "withdrawFromReserveVault", 30 * E18 - drawn)
    assert chain.decoded(r)[0][0] == "WithdrawFromReserveVault/2"
    assert "AccountFacet: Insufficient balance" in chain.reverts(
        HEDGER, "withdrawFromReserveVault", 1
    )


def test_partyb_liquidated_when_the_reserve_is_short(chain: Chain, muon: DevnetMuon) -> None:
    (qid,) = _thin_partyb(chain, muon)
    chain.send(HEDGER, "depositToReserveVault", 10 * E18, B)
    sig = _forced_window(chain, muon, qid)
    a_before = chain.view("allocatedBalanceOfPartyA", P5)
    r = chain.send(PA5, "forceClosePosition", qid, sig)
    events = chain.decoded(r)
    assert [n for n, _ in events] == [
        "BalanceChangePartyB/4", "BalanceChangePartyA/3", "BalanceChangePartyB/4", "LiquidatePartyB/5"
    ]  # fmt: skip
    assert events[-1][1] == {"liquidator": P5, "partyB": B, "partyA": P5,
                             "partyBAllocatedBalance": 0, "upnl": -499 * 10**17}  # fmt: skip
    assert chain.view("allocatedBalanceOfPartyA", P5) == a_before + 3244 * 10**16  # 22.44 + 10
    assert chain.view("isPartyBLiquidated", B, P5) is True
    assert chain.status(qid) == CLOSE_PENDING  # closed by liquidatePositionsPartyB
    r = chain.send(ADMIN, "liquidatePositionsPartyB", B, P5, muon.quote_prices([qid]))
    assert [n for n, _ in chain.decoded(r)] == [
        "LiquidatePositionsPartyB/6", "LiquidatePositionsPartyB/4", "FullyLiquidatedPartyB/2"
    ]  # fmt: skip
    assert chain.status(qid) == LIQUIDATED


def test_settle_and_force_close(chain: Chain, muon: DevnetMuon) -> None:
    long_id, short_id = _thin_partyb(chain, muon, (LONG, SHORT))
    sig = _forced_window(chain, muon, long_id)
    assert "LibQuote: PartyA should first exit its positions that are incurring losses" in (
        chain.reverts(PA5, "forceClosePosition", long_id, sig)
    )
    settle, prices = muon.settle(P5, [short_id])
    r = chain.send(PA5, "settleAndForceClosePosition", long_id, sig, settle, prices)
    names = [n for n, _ in chain.decoded(r)]
    assert names[-3:] == ["SettleUpnl/5", "ForceClosePosition/7", "ForceClosePosition/6"]
    assert chain.status(long_id) == CLOSED
    assert chain.view("getQuote", short_id)[5] == 52_500 * E18
