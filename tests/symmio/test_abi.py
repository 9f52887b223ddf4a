"""The compiled diamond ABI carries SYMMIO 0.8.4's selectors and event topic0s (SYMMIO.md §2.3/§2.4)."""

from __future__ import annotations

from typing import Any

from eth_utils.crypto import keccak

from devnet.symmio.compile import compile_all, diamond_abi, source_hash

TOPIC0 = {
    "0x8a17f103c77224ce4d9bab74dad3bd002cd24cf88d2e191e86d18272c8f135dd": "SendQuote",
    "0xbd146e7cbb5d500e754c322f31ac6fff088d4b1037f7451c55520b9a5ad00cb8": "LockQuote",
    "0x5f1255d6db4923f0a48e5c6a465dd7510bfccfdc6128e4a7205d0cf5dd815072": "UnlockQuote",
    "0x031b9e47506c5b4d3c090a39d07b302270975e574630fb3697be8ae613a52087": "RequestToCancelQuote",
    "0x43991f038b9f0ae4f9909dade97fec1b0c77ba32582ee8a26fc4c8cf82fb839e": "AcceptCancelRequest",
    "0x1fb3a5866c913789e890348816f52506a678b5027f5a7a525a0c3f1064441a2d": "ExpireQuote",
    "0x74d402b085f265915a355c4518ab27527803e4130516698dcabc84e215b2994d": "ExpireQuoteOpen",
    "0x5e953fa5755357c1b02f6091f73960ba1496f00741ddcf57e5db189b7d9e730f": "ExpireQuoteClose",
    "0xa50f98254710514f60327a4e909cd0be099a62f316299907ef997f3dc4d1cda5": "OpenPosition",
    "0x7f9710cf0d5a0ad968b7fc45b62e78bf71c0ca8ebb71a16128fc27b07fa5608d": "RequestToClosePosition",
    "0xc3b89af356874802979a890ae8871f67822871b8d01c66893e9b44ff75ab7445": "RequestToClosePosition",
    "0x913f6390eac61b1aff6175281eb759d08736f7cbac052d2fec19a05a619c6c16": "RequestToCancelCloseRequest",
    "0x8db83f0d58002d6c6c0e3f6250b15ea40435f8b603d72237fd28699b299109a9": "RequestToCancelCloseRequest",
    "0xfa7483d69b899cf16df47cc736ab853f88135f704980d7d358a9746aead7a321": "FillCloseRequest",
    "0xcfb87430bccfbe2bfb59a3cd29b1e9824928449566da1bdcb700c723135d9069": "FillCloseRequest",
    "0xe56157f1775def7e2f20ef604183092721dbe068b92081e566394323ed4ee0d4": "AcceptCancelCloseRequest",
    "0x8639d1cdfa19595730d00390f0e8f9222eb0ce5fecca0b3320c091302d5a70e4": "AcceptCancelCloseRequest",
    "0x9529f5ae1b092edf9e2862bf01f1d80ad51a3309f4da3c12997713f3a0aae8b0": "EmergencyClosePosition",
    "0xfdc5ba180d028947b16ca9ac743e8c9d85713d2daeadbae5a184e14b5e86e152": "ForceCancelQuote",
    "0x0183ea1b026f57d871b56583f9dcb01415d727f08b4aab1d307c9e56eecd4140": "ForceCancelCloseRequest",
    "0xc96707a57f4b1ee3624b381918608c1c089e9931e14f6b63f0d8fdef99c1141a": "AllocateForPartyB",
    "0x188d1e56dc05980698f7408457d264ab7c0ae2b5b5f9da4febd3140714bce66d": "DeallocateForPartyB",
    "0x5548c837ab068cf56a2c2479df0882a4922fd203edb7517321831d95078c5f62": "Deposit",
    "0x9b1bfa7fa9ee420a16e124f794c35ac9f90472acc99140eb2f6447c714cad8eb": "Withdraw",
    "0x12f926682e9716435703a506b436993346a19a8d2f4378b264fee4c5a87f34a2": "BalanceChangePartyA",
    "0xb4c8993414809cfa5f52991edfe7c5e2510c939d7d3e061895741a3145b46eff": "BalanceChangePartyB",
    "0xb1e55b64272332caa21275155200a2bdbfa776c6b6051b41c899dc4d1e34cb42": "RegisterPartyB",
    "0xf688a4e13cb28e5c12cf045718e469d8f189222cc94e8ffd4225f0703da46a72": "AddSymbol",
    "0x25a713125adaaeaacbcc48646938c97cd57f1ffad1ab9f2685b123f4b500bca1": "SetMuonIds",
}

SELECTORS = {
    "0xca6b88de": "lockQuote",
    "0x1bc10456": "unlockQuote",
    "0x606a243b": "acceptCancelRequest",
    "0xfa59fbe8": "openPosition",
    "0x1d6cffe0": "lockAndOpenQuote",
    "0xe0020899": "fillCloseRequest",
    "0x89b90cd3": "acceptCancelCloseRequest",
    "0xa3039431": "emergencyClosePosition",
    "0xcd0bac16": "allocateForPartyB",
    "0xa3b298c9": "deallocateForPartyB",
    "0xb6b55f25": "deposit",
    "0x2f4f21e2": "depositFor",
    "0x2e1a7d4d": "withdraw",
    "0x205c2878": "withdrawTo",
    "0x7f2755b2": "sendQuote",
    "0x40f1310c": "sendQuoteWithAffiliate",
    "0xa8ffc7ab": "requestToCancelQuote",
    "0x501e891f": "requestToClosePosition",
    "0xa63b9363": "requestToCancelCloseRequest",
    "0xf2445cd7": "expireQuote",
    "0x90ca796b": "allocate",
    "0xddabc862": "depositAndAllocate",
    "0x5e1313e7": "forceCancelQuote",
    "0xf03e45b9": "forceCancelCloseRequest",
    "0xcf39918e": "getQuote",
    "0x060063b5": "nonceOfPartyA",
    "0x0182e05d": "nonceOfPartyB",
    "0xf366daf1": "getPartyBOpenPositions",
    "0x03764510": "getPartyBPendingQuotes",
}


def _type(i: dict[str, Any]) -> str:
    t = str(i["type"])
    if t.startswith("tuple"):
        return "(" + ",".join(_type(c) for c in i["components"]) + ")" + t[5:]
    return t


def _sig(e: dict[str, Any]) -> str:
    return f"{e['name']}({','.join(_type(i) for i in e['inputs'])})"


def test_topic0s_match_symmio() -> None:
    abi = diamond_abi()
    ours = {"0x" + keccak(text=_sig(e)).hex(): e for e in abi if e["type"] == "event"}
    for topic0, name in TOPIC0.items():
        assert topic0 in ours, f"{name} {topic0} missing"
        assert ours[topic0]["name"] == name
    bc = ours["0xb4c8993414809cfa5f52991edfe7c5e2510c939d7d3e061895741a3145b46eff"]
    assert [i["indexed"] for i in bc["inputs"]] == [True, True, False, False]


def test_selectors_match_symmio() -> None:
    abi = diamond_abi()
    ours = {
        "0x" + keccak(text=_sig(e)).hex()[:8]: e["name"] for e in abi if e["type"] == "function"
    }
    for sel, name in SELECTORS.items():
        assert ours.get(sel) == name, f"{name} {sel}"
    assert len(ours) == len({e["name"] + _sig(e) for e in abi if e["type"] == "function"})


def test_quote_struct_layout() -> None:
    abi = diamond_abi()
    get_quote = next(e for e in abi if e["type"] == "function" and e["name"] == "getQuote")
    out = get_quote["outputs"][0]
    assert _type(out) == (
        "(uint256,address[],uint256,uint8,uint8,uint256,uint256,uint256,uint256,uint256,uint256,"
        "(uint256,uint256,uint256,uint256),(uint256,uint256,uint256,uint256),uint256,address,address,"
        "uint8,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,address)"
    )


def test_artifacts_are_current() -> None:
    art = compile_all()
    assert art["source_hash"] == source_hash()
    for c in art["contracts"].values():
        assert c["deployed_size"] <= 24_576
