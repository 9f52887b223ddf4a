"""ControlFacet switches and setters of protocol-core 0.8.4: who may call them, their events
(so a hedger can listen for them) and their effect on the guarded paths."""

from __future__ import annotations

from typing import Any

import pytest

from devnet.contracts.deploy import ANVIL_KEYS
from tests.contract.helpers import E18, HEDGER, OTHER, PARTY_A, PRICE, QTY, Chain, addr
from tests.contract.muon import DevnetMuon

ADMIN = ANVIL_KEYS[0]
A, B = addr(PARTY_A), addr(HEDGER)
PAUSES = (
    "Global",
    "Liquidation",
    "Accounting",
    "PartyAActions",
    "PartyBActions",
    "InternalTransfer",
)
STATE_INDEX = {"Global": 0, "Liquidation": 1, "Accounting": 2, "PartyBActions": 3,
               "PartyAActions": 4, "InternalTransfer": 5}  # fmt: skip


@pytest.mark.parametrize("what", PAUSES)
def test_pause_switches(chain: Chain, what: str) -> None:
    assert "Accessibility: Must has role" in chain.reverts(OTHER, f"pause{what}")
    r = chain.send(ADMIN, f"pause{what}")
    assert chain.decoded(r) == [(f"Pause{what}/0", {})]
    assert chain.view("pauseState")[STATE_INDEX[what]] is True
    assert "Accessibility: Must has role" in chain.reverts(OTHER, f"unpause{what}")
    r = chain.send(ADMIN, f"unpause{what}")
    assert chain.decoded(r) == [(f"Unpause{what}/0", {})]
    assert chain.view("pauseState") == [False] * 7


def test_what_each_pause_stops(chain: Chain, muon: DevnetMuon) -> None:
    qid = chain.send_quote()
    chain.send(ADMIN, "pauseGlobal")
    for key, fn, args in (
        (HEDGER, "lockQuote", (qid, muon.single_b(B, A))),
        (PARTY_A, "requestToCancelQuote", (qid,)),
        (HEDGER, "allocateForPartyB", (E18, A)),
        (PARTY_A, "deposit", (E18,)),
        (ADMIN, "liquidatePartyB", (B, A, muon.single_b(B, A))),
    ):
        assert "Pausable: Global paused" in chain.reverts(key, fn, *args), fn
    chain.send(ADMIN, "unpauseGlobal")
    chain.send(ADMIN, "pauseAccounting")
    assert "Pausable: Accounting paused" in chain.reverts(PARTY_A, "deposit", E18)
    chain.send(ADMIN, "unpauseAccounting")
    chain.send(ADMIN, "pauseLiquidation")
    assert "Pausable: Liquidation paused" in chain.reverts(
        ADMIN, "liquidatePositionsPartyB", B, A, muon.quote_prices([qid])
    )


def test_emergency_mode_and_partyb_emergency_status(chain: Chain, muon: DevnetMuon) -> None:
    qid = chain.send_quote()
    chain.lock(qid)
    assert "Accessibility: Must has role" in chain.reverts(OTHER, "activeEmergencyMode")
    r = chain.send(ADMIN, "activeEmergencyMode")
    assert chain.decoded(r) == [("ActiveEmergencyMode/0", {})]
    assert "PartyBFacet: System is in emergency mode" in chain.reverts(
        HEDGER, "openPosition", qid, QTY, PRICE, muon.pair_price(B, A)
    )
    r = chain.send(ADMIN, "deactiveEmergencyMode")
    assert chain.decoded(r) == [("DeactiveEmergencyMode/0", {})]
    r = chain.send(ADMIN, "setPartyBEmergencyStatus", [B], True)
    assert chain.decoded(r) == [("SetPartyBEmergencyStatus/2", {"partyB": B, "status": True})]
    assert chain.view("getPartyBEmergencyStatus", B) is True
    assert "PartyBFacet: PartyB is in emergency mode" in chain.reverts(
        HEDGER, "openPosition", qid, QTY, PRICE, muon.pair_price(B, A)
    )
    assert "ControlFacet: Zero address" in chain.reverts(
        ADMIN, "setPartyBEmergencyStatus", ["0x" + "00" * 20], True
    )
    chain.send(ADMIN, "setPartyBEmergencyStatus", [B], False)
    chain.open(qid)
    # a delisted symbol allows emergency close too
    r = chain.send(ADMIN, "setSymbolValidationState", 1, False)
    assert chain.decoded(r) == [
        ("SetSymbolValidationState/3", {"symbolId": 1, "oldState": True, "isValid": False})
    ]
    chain.send(HEDGER, "emergencyClosePosition", qid, muon.pair_price(B, A))
    assert chain.status(qid) == 7


def test_suspension(chain: Chain, muon: DevnetMuon) -> None:
    qid = chain.send_quote()
    chain.lock(qid)
    assert "Accessibility: Must has role" in chain.reverts(OTHER, "suspendedAddress", A)
    r = chain.send(ADMIN, "suspendedAddress", A)
    assert chain.decoded(r) == [("SetSuspendedAddress/2", {"user": A, "isSuspended": True})]
    assert chain.view("isSuspended", A) is True
    assert "PartyBFacet: PartyA is suspended" in chain.reverts(
        HEDGER, "openPosition", qid, QTY, PRICE, muon.pair_price(B, A)
    )
    chain.send(ADMIN, "suspendedAddress", B)
    assert "Accessibility: Sender is Suspended" in chain.reverts(
        HEDGER, "deallocateForPartyB", E18, A, muon.single_b(B, A)
    )
    r = chain.send(ADMIN, "unsuspendedAddress", A)
    assert chain.decoded(r) == [("SetSuspendedAddress/2", {"user": A, "isSuspended": False})]
    assert "PartyBFacet: Sender is Suspended" in chain.reverts(
        HEDGER, "openPosition", qid, QTY, PRICE, muon.pair_price(B, A)
    )
    chain.send(ADMIN, "unsuspendedAddress", B)
    chain.open(qid)


def test_setters_emit_old_and_new_values(chain: Chain) -> None:
    cases: list[tuple[str, tuple[Any, ...], str, list[Any]]] = [
        ("setDeallocateCooldown", (7,), "SetDeallocateCooldown/2", [120, 7]),
        ("setForceCancelCooldown", (7,), "SetForceCancelCooldown/2", [300, 7]),
        ("setForceCancelCloseCooldown", (7,), "SetForceCancelCloseCooldown/2", [300, 7]),
        ("setForceCloseCooldowns", (7, 8), "SetForceCloseCooldowns/4", [300, 7, 120, 8]),
        ("setForceClosePricePenalty", (7,), "SetForceClosePricePenalty/2", [10**15, 7]),
        ("setForceCloseMinSigPeriod", (7,), "SetForceCloseMinSigPeriod/2", [60, 7]),
        ("setForceCloseGapRatio", (1, 7), "SetForceCloseGapRatio/3", [1, 10**15, 7]),
        ("setSettlementCooldown", (7,), "SetSettlementCooldown/2", [300, 7]),
        ("setLiquidatorShare", (7,), "SetLiquidatorShare/2", [5 * 10**16, 7]),
        ("setLiquidationTimeout", (7,), "SetLiquidationTimeout/2", [600, 7]),
        ("setPendingQuotesValidLength", (7,), "SetPendingQuotesValidLength/2", [100, 7]),
        ("setBalanceLimitPerUser", (7,), "SetBalanceLimitPerUser/1", [7]),
        ("setDefaultFeeCollector", (B,), "SetDefaultFeeCollector/2", ["0x" + "00" * 20, B]),
    ]
    for fn, args, event, values in cases:
        assert "Accessibility: Must has role" in chain.reverts(OTHER, fn, *args), fn
        ((name, decoded),) = chain.decoded(chain.send(ADMIN, fn, *args))
        got = [v.lower() if isinstance(v, str) else v for v in decoded.values()]
        want = [v.lower() if isinstance(v, str) else v for v in values]
        assert (name, got) == (event, want), fn
    assert chain.view("coolDownsOfMA") == [7, 7, 7, 7]
    assert chain.view("forceCloseCooldowns") == [7, 8]
    assert (chain.view("forceClosePricePenalty"), chain.view("forceCloseMinSigPeriod")) == (7, 7)
    assert (chain.view("forceCloseGapRatio", 1), chain.view("settlementCooldown")) == (7, 7)
    assert chain.view("getDefaultFeeCollector") == B


def test_roles_and_partyb_registry(chain: Chain) -> None:
    role = chain.w3.keccak(text="PAUSER_ROLE")
    r = chain.send(ADMIN, "grantRole", addr(OTHER), role)
    assert chain.decoded(r) == [("RoleGranted/2", {"role": bytes(role), "user": addr(OTHER)})]
    chain.send(OTHER, "pauseGlobal")
    r = chain.send(ADMIN, "revokeRole", addr(OTHER), role)
    assert chain.decoded(r) == [("RoleRevoked/2", {"role": bytes(role), "user": addr(OTHER)})]
    assert "Accessibility: Must has role" in chain.reverts(OTHER, "pauseGlobal")
    chain.send(ADMIN, "unpauseGlobal")
    chain.send_quote()  # PartyA now has a pending quote
    assert "ControlFacet: PartyA can't become liquidator" in chain.reverts(
        ADMIN, "grantRole", A, chain.w3.keccak(text="LIQUIDATOR_ROLE")
    )
    chain.send(ADMIN, "registerPartyB", addr(OTHER))
    assert "ControlFacet: Address is already registered" in chain.reverts(
        ADMIN, "registerPartyB", addr(OTHER)
    )
    assert "ControlFacet: Invalid index" in chain.reverts(ADMIN, "deregisterPartyB", addr(OTHER), 0)
    r = chain.send(ADMIN, "deregisterPartyB", addr(OTHER), 1)
    assert chain.decoded(r) == [("DeregisterPartyB/2", {"partyB": addr(OTHER), "index": 1})]
    assert chain.view("isPartyB", addr(OTHER)) is False
    assert "ControlFacet: Address is not registered" in chain.reverts(
        ADMIN, "deregisterPartyB", addr(OTHER), 1
    )
    assert "ControlFacet: High window time" in chain.reverts(
        ADMIN, "addSymbol", "SOLUSDT", E18, 10**16, 10**15, 100 * E18, 3600, 1800
    )
    assert "ControlFacet: High trading fee" in chain.reverts(
        ADMIN, "addSymbol", "SOLUSDT", E18, 10**16, E18 + 1, 100 * E18, 3600, 900
    )
