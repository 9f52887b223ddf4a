"""Revert-data decoding and the revert → Temporal error mapping (pure)."""

from __future__ import annotations

from eth_abi import encode as abi_encode

from activities.chain import ChainActivities
from adapters.chain.abi import error_selectors
from adapters.chain.errors import TxReverted, decode_revert_data, reason_from_message

CUSTOM = [
    {"type": "error", "name": "NotPartyB", "inputs": [{"name": "who", "type": "address"}]},
    {"type": "error", "name": "Bad", "inputs": [{"name": "x", "type": "uint256"},
                                                  {"name": "s", "type": "string"}]},
]  # fmt: skip


def test_error_string_panic_custom_and_raw() -> None:
    data = "0x08c379a0" + abi_encode(["string"], ["PartyBFacet: Invalid state"]).hex()
    assert decode_revert_data(data) == "PartyBFacet: Invalid state"
    panic = bytes.fromhex("4e487b71") + (0x12).to_bytes(32, "big")
    assert decode_revert_data(panic) == "Panic(0x12: division or modulo by zero)"
    selectors = error_selectors(CUSTOM)
    who = "0x" + "ab" * 20
    custom = next(s for s, e in selectors.items() if e["name"] == "NotPartyB")
    assert decode_revert_data(custom + abi_encode(["address"], [who]), selectors) == (
        f"NotPartyB({who})"
    )
    bad = next(s for s, e in selectors.items() if e["name"] == "Bad")
    assert decode_revert_data(bad + abi_encode(["uint256", "string"], [7, "no"]), selectors) == (
        "Bad(7, no)"
    )
    assert decode_revert_data("0xdeadbeef") == "0xdeadbeef"
    assert decode_revert_data("0x") is None and decode_revert_data(None) is None
    assert reason_from_message("execution reverted: LibMuon: TSS not verified") == (
        "LibMuon: TSS not verified"
    )


def test_revert_mapping_retryable_only_for_signature_problems() -> None:
    for reason in ("LibMuon: TSS not verified", "LibMuon: Expired signature"):
        err = ChainActivities._revert_error(TxReverted(reason, "0xabc"))
        assert err.type == "TxReverted" and not err.non_retryable and list(err.details) == [reason]
    err = ChainActivities._revert_error(TxReverted("PartyBFacet: Invalid state", "0xabc"))
    assert err.type == "TxReverted" and err.non_retryable
    assert list(err.details) == ["PartyBFacet: Invalid state"]
