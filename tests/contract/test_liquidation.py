"""PartyA liquidation path: events and status transitions (settlement maths simplified)."""

from __future__ import annotations

from devnet.contracts.deploy import ANVIL_KEYS
from tests.contract.helpers import E18, HEDGER, OTHER, PARTY_A2, Chain, addr, liquidation_sig

ADMIN = ANVIL_KEYS[0]
OPENED, LIQUIDATED, LIQUIDATED_PENDING = 4, 8, 10


def test_party_a_liquidation(chain: Chain) -> None:
    a2, b = addr(PARTY_A2), addr(HEDGER)
    pos = chain.send_quote(PARTY_A2)
    chain.lock(pos, a2)
    chain.open(pos, party_a=a2)
    pending = chain.send_quote(PARTY_A2)
    chain.lock(pending, a2)
    lid = b"liq-1"
    solvent = liquidation_sig(chain, a2, 0, lid)
    assert "PartyA is solvent" in chain.reverts(ADMIN, "liquidatePartyA", a2, solvent)
    allocated = chain.view("partyAStats", a2)[1]
    sig = liquidation_sig(chain, a2, -int(allocated) - E18, lid)
    assert "Must has role" in chain.reverts(OTHER, "liquidatePartyA", a2, sig)
    r = chain.send(ADMIN, "liquidatePartyA", a2, sig)
    assert chain.events(r) == ["LiquidatePartyA/6", "LiquidatePartyA/5"]
    assert chain.view("partyAStats", a2)[0] is True
    assert "PartyA isn't solvent" in chain.reverts(HEDGER, "acceptCancelRequest", pending)
    r = chain.send(ADMIN, "liquidatePendingPositionsPartyA", a2)
    assert chain.events(r) == [
        "LiquidatePendingPositionsPartyA/5",
        "LiquidatePendingPositionsPartyA/2",
    ]
    assert chain.status(pending) == LIQUIDATED_PENDING
    assert chain.view("getPartyBPendingQuotes", b, a2) == []
    assert "still open positions" in chain.reverts(ADMIN, "settlePartyALiquidation", a2, [b])
    r = chain.send(ADMIN, "liquidatePositionsPartyA", a2, [pos])
    assert chain.events(r) == ["LiquidatePositionsPartyA/6", "LiquidatePositionsPartyA/3"]
    assert chain.status(pos) == LIQUIDATED
    before = chain.view("allocatedBalanceOfPartyB", b, a2)
    r = chain.send(ADMIN, "settlePartyALiquidation", a2, [b])
    assert chain.events(r) == [
        "BalanceChangePartyB/4",
        "SettlePartyALiquidation/4",
        "SettlePartyALiquidation/3",
        "FullyLiquidatedPartyA/2",
        "FullyLiquidatedPartyA/1",
    ]
    assert chain.view("allocatedBalanceOfPartyB", b, a2) > before
    assert chain.view("partyAStats", a2)[0] is False
