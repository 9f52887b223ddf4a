"""deploy_and_initialise output, admin set-up of §4.3, pause flags and the CLI functions."""

from __future__ import annotations

import pytest
import rlp
from eth_utils.crypto import keccak
from web3 import Web3

from devnet.contracts import cli
from devnet.contracts.deploy import ANVIL_KEYS
from tests.contract.helpers import E18, HEDGER, PARTY_A, Chain, addr

ADMIN = ANVIL_KEYS[0]


def _created(sender: str, nonce: int) -> str:
    """The address of the contract `sender` creates with `nonce`."""
    return Web3.to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


def test_deployment_json_and_set_up(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> None:
    dep = chain.dep.to_json()
    assert set(dep) == {
        "chain_id", "symmio", "collateral", "facets", "admin", "party_b", "traders", "deploy_block", "muon",
        "multi_account",
    }  # fmt: skip
    assert (
        dep["chain_id"] == 31337 and dep["party_b"] == addr(HEDGER) and dep["admin"] == addr(ADMIN)
    )
    assert dep["traders"][0] == addr(PARTY_A) and len(dep["traders"]) == 8
    app_id, (x, parity), gateway = chain.view("getMuonIds")
    assert (app_id, hex(x), parity, gateway) == (
        int(dep["muon"]["app_id"]), dep["muon"]["public_key"]["x"], dep["muon"]["public_key"]["parity"],
        dep["muon"]["gateway"],
    )  # fmt: skip
    sym = list(chain.view("getSymbol", 2))
    assert sym == [2, "ETHUSDT", True, 5 * E18, 10**16, 10**15, 100 * E18, 28800, 900]
    assert chain.view("pendingQuotesValidLength") == 100
    assert chain.view("balanceOf", addr(HEDGER)) > 0
    assert chain.w3.eth.get_block(dep["deploy_block"])["number"] == dep["deploy_block"]
    # the MultiAccount is deployed last: the collateral and the diamond keep the vectors' addresses
    assert chain.w3.eth.get_code(dep["multi_account"]) not in (b"", None)
    created = [_created(addr(ADMIN), n) for n in range(3)]
    assert (created[0], created[2]) == (dep["collateral"], dep["symmio"])


def test_pause_and_symbol_validity(chain: Chain) -> None:
    qid = chain.send_quote()
    chain.send(ADMIN, "pausePartyBActions")
    assert chain.view("pauseState")[3] is True
    assert "PartyB actions paused" in chain.reverts(
        HEDGER, "lockQuote", qid, chain.single_b(addr(HEDGER), addr(PARTY_A))
    )
    chain.send(ADMIN, "unpausePartyBActions")
    chain.send(ADMIN, "pausePartyAActions")
    assert "PartyA actions paused" in chain.reverts(PARTY_A, "requestToCancelQuote", qid)
    chain.send(ADMIN, "unpausePartyAActions")
    chain.lock(qid)
    chain.send(ADMIN, "setSymbolValidationState", 1, False)
    assert "Symbol is not valid" in chain.reverts(
        HEDGER,
        "openPosition",
        qid,
        10**16,
        60_000 * E18,
        chain.pair_price(addr(HEDGER), addr(PARTY_A)),
    )
    chain.send(ADMIN, "setSymbolValidationState", 1, True)
    chain.send(ADMIN, "activeEmergencyMode")
    assert chain.view("pauseState")[6] is True
    assert "PartyBFacet: System is in emergency mode" in chain.reverts(
        HEDGER,
        "openPosition",
        qid,
        10**16,
        60_000 * E18,
        chain.pair_price(addr(HEDGER), addr(PARTY_A)),
    )
    chain.send(ADMIN, "deactiveEmergencyMode")
    chain.send(ADMIN, "suspendedAddress", addr(PARTY_A))
    assert chain.view("isSuspended", addr(PARTY_A)) is True
    assert "Accessibility: Sender is Suspended" in chain.reverts(
        PARTY_A, "sendQuote", [], 1, 0, 1, 60_100 * E18, 10**16, 10 * E18, 5 * E18, 20 * E18,
        10 * E18, 10**16, chain.now() + 600, chain.single_a_price(addr(PARTY_A)),
    )  # fmt: skip
    assert "Must has role" in chain.reverts(PARTY_A, "unsuspendedAddress", addr(PARTY_A))


def test_cli_functions(capsys: pytest.CaptureFixture[str]) -> None:
    cli.compile_command(force=False)  # cached: the committed artifacts are current
    out = capsys.readouterr().out
    assert "PartyBFacet:" in out and "source hash" in out
    assert callable(cli.deploy_command)
