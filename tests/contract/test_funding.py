"""chargeFundingRate (protocol-core 0.8.4 rules) with the devnet oracle's PairUpnlSig (`uPnl`)."""

from __future__ import annotations

from devnet.contracts.deploy import ANVIL_KEYS
from tests.contract.helpers import E18, HEDGER, OTHER, PARTY_A, PARTY_A2, PRICE, QTY, Chain, addr
from tests.contract.muon import DevnetMuon

A, B = addr(PARTY_A), addr(HEDGER)
ADMIN = ANVIL_KEYS[0]
EPOCH, WINDOW = 28800, 900  # BTCUSDT's funding settings in the devnet deployment
MAX_RATE = 10**16  # the quotes' maxFundingRate (1%)


def _opened(chain: Chain, key: str = PARTY_A) -> int:
    qid = chain.send_quote(key)
    chain.lock(qid, addr(key))
    chain.open(qid, party_a=addr(key), filled=QTY)
    return qid


def _warp_to(chain: Chain, t: int) -> None:
    assert t > chain.now()
    chain.warp(t - chain.now())


def _next_boundary(chain: Chain) -> int:
    return (chain.now() // EPOCH + 1) * EPOCH


def _charge(chain: Chain, muon: DevnetMuon, ids: list[int], rates: list[int], key: str = HEDGER,
            party_a: str = A) -> tuple[str, tuple[object, ...]]:  # fmt: skip
    return "chargeFundingRate", (party_a, ids, rates, muon.pair(addr(key), party_a))


def test_charged_once_per_epoch_inside_the_window(chain: Chain, muon: DevnetMuon) -> None:
    qid = _opened(chain)
    assert chain.view("getQuote", qid)[23] == 0  # lastFundingPaymentTimestamp: never paid
    boundary = _next_boundary(chain)
    _warp_to(chain, boundary + WINDOW + 100)  # between two windows
    fn, args = _charge(chain, muon, [qid], [5 * 10**15])
    assert "ChargeFundingFacet: Current timestamp is out of window" in chain.reverts(
        HEDGER, fn, *args
    )
    nxt = boundary + EPOCH
    _warp_to(chain, nxt - 100)  # inside the window before the next boundary
    nonces = (chain.nonce_a(A), chain.nonce_b(B, A))
    fn, args = _charge(chain, muon, [qid], [5 * 10**15])  # +0.5%: the long pays
    r = chain.send(HEDGER, fn, *args)
    assert chain.decoded(r) == [
        (
            "ChargeFundingRate/4",
            {"partyB": B, "partyA": A, "quoteIds": [qid], "rates": [5 * 10**15]},
        )
    ]
    q = chain.view("getQuote", qid)
    assert q[5] == PRICE + PRICE * 5 // 1000  # openedPrice 60000 → 60300
    assert q[23] == nxt  # paid for that boundary
    assert (chain.nonce_a(A), chain.nonce_b(B, A)) == (nonces[0] + 1, nonces[1] + 1)
    _warp_to(chain, nxt + 100)  # same boundary, the window's other side
    fn, args = _charge(chain, muon, [qid], [10**15])
    assert "ChargeFundingFacet: Funding already paid for this window" in chain.reverts(
        HEDGER, fn, *args
    )
    _warp_to(chain, nxt + EPOCH + 10)  # the next epoch's window
    fn, args = _charge(chain, muon, [qid], [-(10**16)])  # −1%: the long receives
    chain.send(HEDGER, fn, *args)
    q = chain.view("getQuote", qid)
    assert q[5] == 60300 * E18 - 603 * E18 and q[23] == nxt + EPOCH


def test_rate_cap_lengths_parties_and_state(chain: Chain, muon: DevnetMuon) -> None:
    qid = _opened(chain)
    other_a = _opened(chain, PARTY_A2)
    _warp_to(chain, _next_boundary(chain) + 60)
    for rate in (MAX_RATE + 1, -MAX_RATE - 1):
        fn, args = _charge(chain, muon, [qid], [rate])
        assert "ChargeFundingFacet: High funding rate" in chain.reverts(HEDGER, fn, *args)
    fn, args = _charge(chain, muon, [qid], [1, 2])
    assert "ChargeFundingFacet: Length not match" in chain.reverts(HEDGER, fn, *args)
    fn, args = _charge(chain, muon, [], [])
    assert "ChargeFundingFacet: Length not match" in chain.reverts(HEDGER, fn, *args)
    fn, args = _charge(chain, muon, [other_a], [1])
    assert "ChargeFundingFacet: Invalid quote" in chain.reverts(HEDGER, fn, *args)
    fn, args = _charge(chain, muon, [qid], [1], key=OTHER)  # signed for OTHER as the PartyB
    assert "ChargeFundingFacet: Sender isn't partyB of quote" in chain.reverts(OTHER, fn, *args)
    fn, args = _charge(chain, muon, [qid], [1])
    assert "LibMuon: TSS not verified" in chain.reverts(OTHER, fn, *args)  # B's sig, OTHER sends
    chain.send(PARTY_A, "requestToClosePosition", qid, PRICE - 100 * E18, QTY, 1, chain.now() + 600)
    chain.send(HEDGER, "fillCloseRequest", qid, QTY, PRICE, chain.pair_price(B, A))
    fn, args = _charge(chain, muon, [qid], [1])
    assert "ChargeFundingFacet: Invalid state" in chain.reverts(HEDGER, fn, *args)
    chain.send(ADMIN, "pausePartyBActions")
    assert "Pausable: PartyB actions paused" in chain.reverts(HEDGER, fn, *args)


def test_solvency_after_funding(chain: Chain, muon: DevnetMuon) -> None:
    """A PartyA with 40 allocated and a PartyB with 22.44 allocated for it, 0.02 BTC at 50,005."""
    key = ANVIL_KEYS[6]
    pa = addr(key)
    chain.fund_party_a(key, 40 * E18)
    chain.send(HEDGER, "allocateForPartyB", 2244 * 10**16, pa)
    muon.set_price(50_000)
    qid = chain.send_quote(
        key, price=50_005 * E18, qty=2 * 10**16, market=50_000 * E18,
        locked=(2 * E18, E18, 8112 * 10**15, 5 * E18),
    )  # fmt: skip
    chain.send(HEDGER, "lockQuote", qid, muon.single_b(B, pa))
    chain.send(HEDGER, "openPosition", qid, 2 * 10**16, 50_005 * E18, muon.pair_price(B, pa))
    _warp_to(chain, _next_boundary(chain) + 60)
    muon.set_price(50_900)  # PartyB's liquidation-available: 22.44 − 3 − 17.9 = 1.54
    fn, args = _charge(chain, muon, [qid], [-MAX_RATE], party_a=pa)  # PartyB pays 10.0 → −8.46
    assert "ChargeFundingFacet: PartyB will be insolvent" in chain.reverts(HEDGER, fn, *args)
    muon.set_price(48_400)  # PartyA's: 40 − 1 (fee) − 3 − 32.1 = 3.9
    fn, args = _charge(chain, muon, [qid], [MAX_RATE], party_a=pa)  # PartyA pays 10.0 → −6.1
    assert "ChargeFundingFacet: PartyA will be insolvent" in chain.reverts(HEDGER, fn, *args)
    muon.set_price(50_005)
    fn, args = _charge(chain, muon, [qid], [MAX_RATE], party_a=pa)
    chain.send(HEDGER, fn, *args)


def test_symbol_funding_state(chain: Chain) -> None:
    r = chain.send(ADMIN, "setSymbolFundingState", 1, 3600, 300)
    assert chain.decoded(r) == [
        ("SetSymbolFundingState/3", {"symbolId": 1, "fundingRateEpochDuration": 3600,
                                     "fundingRateWindowTime": 300})
    ]  # fmt: skip
    assert list(chain.view("getSymbol", 1))[7:] == [3600, 300]
    assert "ControlFacet: High window time" in chain.reverts(
        ADMIN, "setSymbolFundingState", 1, 3600, 1800
    )
    assert "ControlFacet: Invalid id" in chain.reverts(ADMIN, "setSymbolFundingState", 9, 3600, 1)
    assert "Accessibility: Must has role" in chain.reverts(
        PARTY_A, "setSymbolFundingState", 1, 3600, 1
    )
