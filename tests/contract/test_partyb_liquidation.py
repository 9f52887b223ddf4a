"""liquidatePartyB → liquidatePositionsPartyB (protocol-core 0.8.4 rules) with the devnet
oracle's SingleUpnlSig (`uPnl_B`) and QuotePriceSig (`price`)."""

from __future__ import annotations

from devnet.contracts.deploy import ANVIL_KEYS
from tests.contract.helpers import (
    E18,
    HEDGER,
    LIMIT,
    LONG,
    OTHER,
    PARTY_A,
    Chain,
    addr,
    liquidation_sig,
)
from tests.contract.muon import DevnetMuon, signed_quote_prices, signed_settlement

ADMIN = ANVIL_KEYS[0]  # holds LIQUIDATOR_ROLE in the devnet deployment
PA4 = ANVIL_KEYS[8]
P4, B = addr(PA4), addr(HEDGER)
OPEN = 50_005 * E18
SIZE = 2 * 10**16
LOCKED = (2 * E18, E18, 8112 * 10**15, 5 * E18)
ALLOCATION = 2244 * 10**16
OPENED, LIQUIDATED, LIQUIDATED_PENDING = 4, 8, 10


def _setup(chain: Chain, muon: DevnetMuon) -> tuple[int, int]:
    """An open 0.02 BTC long at 50,005 and a LOCKED limit quote, PartyB allocation 22.44."""
    chain.fund_party_a(PA4)
    chain.send(HEDGER, "allocateForPartyB", ALLOCATION, P4)
    muon.set_price(50_005)
    pos = chain.send_quote(PA4, price=OPEN, qty=SIZE, market=OPEN, locked=LOCKED)
    chain.send(HEDGER, "lockQuote", pos, muon.single_b(B, P4))
    chain.send(HEDGER, "openPosition", pos, SIZE, OPEN, muon.pair_price(B, P4))
    pending = chain.send_quote(PA4, side=LONG, order=LIMIT, price=45_000 * E18, qty=SIZE,
                               market=OPEN, locked=LOCKED)  # fmt: skip
    chain.send(HEDGER, "lockQuote", pending, muon.single_b(B, P4))
    return pos, pending


def test_liquidate_partyb_then_its_positions(chain: Chain, muon: DevnetMuon) -> None:
    pos, pending = _setup(chain, muon)
    assert "LiquidationFacet: partyB is solvent" in chain.reverts(
        ADMIN, "liquidatePartyB", B, P4, muon.single_b(B, P4)
    )
    muon.set_price(52_000)  # PartyB: 22.44 − 3 − 39.9 < 0
    sig = muon.single_b(B, P4)
    assert sig[2] == -399 * 10**17
    assert "Accessibility: Must has role" in chain.reverts(OTHER, "liquidatePartyB", B, P4, sig)
    chain.send(ADMIN, "pauseLiquidation")
    assert "Pausable: Liquidation paused" in chain.reverts(ADMIN, "liquidatePartyB", B, P4, sig)
    chain.send(ADMIN, "unpauseLiquidation")
    assert "LiquidationFacet: PartyB is solvent" in chain.reverts(
        ADMIN, "liquidatePositionsPartyB", B, P4, signed_quote_prices(chain, [pos], [OPEN], ts=1)
    )  # (0.8.4 checks the timeout bound first: only an early timestamp reaches this check)
    early_prices = muon.quote_prices([pos])  # taken before the liquidation: too early later
    chain.warp(5)
    sig = muon.single_b(B, P4)
    a_before, nonce_a = chain.view("allocatedBalanceOfPartyA", P4), chain.nonce_a(P4)
    r = chain.send(ADMIN, "liquidatePartyB", B, P4, sig)
    events = chain.decoded(r)
    fee = SIZE * 45_000 * 10**15 // E18  # the pending quote's trading fee, refunded
    assert events == [
        ("LiquidatePartyB/5", {"liquidator": addr(ADMIN), "partyB": B, "partyA": P4,
                               "partyBAllocatedBalance": ALLOCATION, "upnl": -399 * 10**17}),
        ("BalanceChangePartyA/3", {"partyA": P4, "amount": fee, "_type": 2}),  # PLATFORM_FEE_IN
        ("BalanceChangePartyA/3", {"partyA": P4, "amount": ALLOCATION, "_type": 4}),
        ("BalanceChangePartyB/4", {"partyB": B, "partyA": P4, "amount": ALLOCATION, "_type": 5}),
    ]  # fmt: skip
    assert chain.view("isPartyBLiquidated", B, P4) is True
    assert chain.view("partyBLiquidationTimestamp", B, P4) == sig[1]
    assert chain.status(pending) == LIQUIDATED_PENDING
    assert chain.view("getPartyAPendingQuotes", P4) == []
    assert chain.view("allocatedBalanceOfPartyA", P4) == a_before + fee + ALLOCATION
    assert chain.view("balanceInfoOfPartyB", B, P4) == [0] * 9
    assert chain.nonce_a(P4) == nonce_a + 1
    assert "Accessibility: PartyB isn't solvent" in chain.reverts(
        ADMIN, "liquidatePartyB", B, P4, muon.single_b(B, P4)
    )
    assert "Accessibility: PartyB isn't solvent" in chain.reverts(
        HEDGER, "allocateForPartyB", E18, P4
    )
    assert "Accessibility: PartyB isn't solvent" in chain.reverts(
        PA4, "requestToClosePosition", pos, OPEN, SIZE, LIMIT, chain.now() + 600
    )  # the quote's PartyB is in liquidation
    # liquidatePositionsPartyB: the price signature must not predate the liquidation
    assert "LiquidationFacet: Expired signature" in chain.reverts(
        ADMIN, "liquidatePositionsPartyB", B, P4, early_prices
    )
    assert "LibMuon: Invalid length" in chain.reverts(
        ADMIN, "liquidatePositionsPartyB", B, P4, signed_quote_prices(chain, [pos], [])
    )
    assert "LiquidationFacet: Invalid state" in chain.reverts(
        ADMIN, "liquidatePositionsPartyB", B, P4, muon.quote_prices([pending])
    )
    prices = muon.quote_prices([pos])
    nonce_b = chain.nonce_b(B, P4)
    r = chain.send(ADMIN, "liquidatePositionsPartyB", B, P4, prices)
    events = chain.decoded(r)
    assert events == [
        ("LiquidatePositionsPartyB/6", {"liquidator": addr(ADMIN), "partyB": B, "partyA": P4,
                                        "quoteIds": [pos], "liquidatedAmounts": [SIZE],
                                        "closeIds": [0]}),
        ("LiquidatePositionsPartyB/4", {"liquidator": addr(ADMIN), "partyB": B, "partyA": P4,
                                        "quoteIds": [pos]}),
        ("FullyLiquidatedPartyB/2", {"partyB": B, "partyA": P4}),
    ]  # fmt: skip
    q = chain.view("getQuote", pos)
    assert (q[16], q[17], q[10]) == (LIQUIDATED, 52_000 * E18, SIZE)  # avgClosedPrice, closed
    assert chain.view("isPartyBLiquidated", B, P4) is False
    assert chain.nonce_b(B, P4) == nonce_b + 1
    assert chain.view("getPartyBOpenPositions", B, P4, 0, 10) == []


def test_liquidation_timeout_and_parties(chain: Chain, muon: DevnetMuon) -> None:
    pos, _ = _setup(chain, muon)
    other = chain.send_quote(PARTY_A)
    chain.lock(other)
    chain.open(other)
    muon.set_price(52_000)
    chain.send(ADMIN, "liquidatePartyB", B, P4, muon.single_b(B, P4))
    assert "LiquidationFacet: Invalid party" in chain.reverts(
        ADMIN, "liquidatePositionsPartyB", B, P4, muon.quote_prices([other])
    )
    chain.warp(601)  # liquidationTimeout of the devnet deployment: 600
    assert "LiquidationFacet: Invalid signature" in chain.reverts(
        ADMIN, "liquidatePositionsPartyB", B, P4, muon.quote_prices([pos])
    )
    assert chain.status(pos) == OPENED
    assert chain.status(other) == OPENED  # another PartyA's position with that PartyB: untouched


def test_liquidated_partyb_cannot_be_settled_and_liquidated_partya_blocks(
    chain: Chain, muon: DevnetMuon
) -> None:
    pos, _ = _setup(chain, muon)
    # a second PartyB with a position with PartyA4 (so it may settle PartyA4's quotes)
    o = addr(OTHER)
    chain.send(ADMIN, "registerPartyB", o)
    chain.send(OTHER, "mint", o, 1_000 * E18, contract=chain.token)
    chain.send(OTHER, "approve", chain.dep.symmio, 1_000 * E18, contract=chain.token)
    chain.send(OTHER, "deposit", 1_000 * E18)
    chain.send(OTHER, "allocateForPartyB", 500 * E18, P4)
    theirs = chain.send_quote(PA4, price=OPEN, qty=SIZE, market=OPEN, locked=LOCKED)
    chain.send(OTHER, "lockQuote", theirs, muon.single_b(o, P4))
    chain.send(OTHER, "openPosition", theirs, SIZE, OPEN, muon.pair_price(o, P4))
    muon.set_price(52_000)
    chain.send(ADMIN, "liquidatePartyB", B, P4, muon.single_b(B, P4))
    price = 52_000 * E18
    local = signed_settlement(chain, P4, [(pos, price, 0)], [0])
    assert "LibSettlement: PartyB is in liquidation process" in chain.reverts(
        OTHER, "settleUpnl", local, [price], P4
    )
    # PartyA4 liquidated: no PartyB liquidation against it
    lid = b"\x01" * 4
    chain.send(ADMIN, "liquidatePartyA", P4, liquidation_sig(chain, P4, -20_000 * E18, lid))
    assert "Accessibility: PartyA isn't solvent" in chain.reverts(
        ADMIN, "liquidatePartyB", o, P4, muon.single_b(o, P4)
    )
