"""Selectors and topic0 of SYMMIO.md §2.3/§2.4 against our ABI; committed build is current."""

from __future__ import annotations

import json
import re
from pathlib import Path

from eth_utils.crypto import keccak

from devnet.contracts.compile import FACETS, HEDGER_ABI, combined_abi, load_artifacts, source_hash
from tests.contract.helpers import _canon

SYMMIO_MD = Path("/work/shared/SYMMIO.md")
SELECTORS = {
    "ca6b88de",
    "1bc10456",
    "606a243b",
    "fa59fbe8",
    "1d6cffe0",
    "e0020899",
    "89b90cd3",
    "a3039431",
    "cd0bac16",
    "a3b298c9",
    "b6b55f25",
    "2f4f21e2",
    "2e1a7d4d",
    "205c2878",
    "7f2755b2",
    "40f1310c",
    "a8ffc7ab",
    "501e891f",
    "a63b9363",
    "f2445cd7",
    "90ca796b",
    "ddabc862",
    "5e1313e7",
    "f03e45b9",
    "cf39918e",
    "060063b5",
    "0182e05d",
    "f366daf1",
    "03764510",
}
# §2.3 topic0 table (copied so the test runs without the shared notes).
TOPICS = {
    "8a17f103c77224ce4d9bab74dad3bd002cd24cf88d2e191e86d18272c8f135dd",
    "bd146e7cbb5d500e754c322f31ac6fff088d4b1037f7451c55520b9a5ad00cb8",
    "5f1255d6db4923f0a48e5c6a465dd7510bfccfdc6128e4a7205d0cf5dd815072",
    "031b9e47506c5b4d3c090a39d07b302270975e574630fb3697be8ae613a52087",
    "43991f038b9f0ae4f9909dade97fec1b0c77ba32582ee8a26fc4c8cf82fb839e",
    "1fb3a5866c913789e890348816f52506a678b5027f5a7a525a0c3f1064441a2d",
    "74d402b085f265915a355c4518ab27527803e4130516698dcabc84e215b2994d",
    "5e953fa5755357c1b02f6091f73960ba1496f00741ddcf57e5db189b7d9e730f",
    "a50f98254710514f60327a4e909cd0be099a62f316299907ef997f3dc4d1cda5",
    "7f9710cf0d5a0ad968b7fc45b62e78bf71c0ca8ebb71a16128fc27b07fa5608d",
    "c3b89af356874802979a890ae8871f67822871b8d01c66893e9b44ff75ab7445",
    "913f6390eac61b1aff6175281eb759d08736f7cbac052d2fec19a05a619c6c16",
    "8db83f0d58002d6c6c0e3f6250b15ea40435f8b603d72237fd28699b299109a9",
    "fa7483d69b899cf16df47cc736ab853f88135f704980d7d358a9746aead7a321",
    "cfb87430bccfbe2bfb59a3cd29b1e9824928449566da1bdcb700c723135d9069",
    "e56157f1775def7e2f20ef604183092721dbe068b92081e566394323ed4ee0d4",
    "8639d1cdfa19595730d00390f0e8f9222eb0ce5fecca0b3320c091302d5a70e4",
    "9529f5ae1b092edf9e2862bf01f1d80ad51a3309f4da3c12997713f3a0aae8b0",
    "fdc5ba180d028947b16ca9ac743e8c9d85713d2daeadbae5a184e14b5e86e152",
    "0183ea1b026f57d871b56583f9dcb01415d727f08b4aab1d307c9e56eecd4140",
    "0bc1fd8a0c1b5d47ffa208736a2441c16573c4e4fc7eda2f646e55145b12e38a",
    "50700f753d488c61d280103a69a439425af6ddbe080a3ed31b869ace98b22f82",
    "328ee25cc7980792889a197f270edb1a81452f30ba7dfa4c743422f8208f8163",
    "e61ecdf2f6757aefa03c992988ff63160eb5f34bb187c005090e66ee6cc54a30",
    "2051e07208dab1fb2fa0986a6fb7217d986feb02ad01eb7c453e62b494671762",
    "0de46198ff2f90607fa355d313fcd2e03df429b6fc26efc6b0789eba66ade532",
    "74f4f24eca3f72e3bb723d7b35a487d7f59901d51c2060820babc5f460c8f7ab",
    "c9a531602b823d6b7e999fe9d22eb296b680b9a7e734a3b68408674e222f7f85",
    "0a89d65a7c7592cc15c929b125f79869f7a619294a0e5b95e12e16f53172d4ac",
    "f56ddf6983b53945ed34f4aa3bb254fec2dc35a0efe0335f5f387c91cefa2997",
    "c96707a57f4b1ee3624b381918608c1c089e9931e14f6b63f0d8fdef99c1141a",
    "188d1e56dc05980698f7408457d264ab7c0ae2b5b5f9da4febd3140714bce66d",
    "83c8f2a8a8fc5962f13e33db863af0fdbd05b6aa763cb4b2243f98a486729d3b",
    "5548c837ab068cf56a2c2479df0882a4922fd203edb7517321831d95078c5f62",
    "9b1bfa7fa9ee420a16e124f794c35ac9f90472acc99140eb2f6447c714cad8eb",
    "12f926682e9716435703a506b436993346a19a8d2f4378b264fee4c5a87f34a2",
    "b4c8993414809cfa5f52991edfe7c5e2510c939d7d3e061895741a3145b46eff",
    "59d828addc0dd9bb214a8c30733eb5a3699c2ea1e6cdba3d41317ba8487bdea2",
    "b1e55b64272332caa21275155200a2bdbfa776c6b6051b41c899dc4d1e34cb42",
    "f688a4e13cb28e5c12cf045718e469d8f189222cc94e8ffd4225f0703da46a72",
    "25a713125adaaeaacbcc48646938c97cd57f1ffad1ab9f2685b123f4b500bca1",
}


def _ids(abi: list[dict[str, object]]) -> tuple[set[str], set[str]]:
    fns: set[str] = set()
    evs: set[str] = set()
    for e in abi:
        sig = f"{e['name']}({','.join(_canon(i) for i in e['inputs'])})"  # type: ignore[attr-defined]
        h = keccak(text=sig).hex()
        (fns if e["type"] == "function" else evs).add(h[:8] if e["type"] == "function" else h)
    return fns, evs


def test_hedger_abi_has_every_selector_and_topic() -> None:
    abi = json.loads(HEDGER_ABI.read_text())
    fns, evs = _ids(abi)
    assert SELECTORS - fns == set()
    assert TOPICS - evs == set()


def test_topic_table_matches_the_notes_when_present() -> None:
    if SYMMIO_MD.exists():
        assert set(re.findall(r"\| 0x([0-9a-f]{64}) \|", SYMMIO_MD.read_text())) == TOPICS


def test_balance_change_events_are_indexed() -> None:
    abi = json.loads(HEDGER_ABI.read_text())
    bc = {
        e["name"]: [i["indexed"] for i in e["inputs"]]
        for e in abi
        if e["name"].startswith("BalanceChange")
    }
    assert bc == {
        "BalanceChangePartyA": [True, False, False],
        "BalanceChangePartyB": [True, True, False, False],
    }


def test_committed_artifacts_are_current() -> None:
    arts = load_artifacts()
    assert arts["source_hash"] == source_hash(), "run `python -m devnet.contracts.compile`"
    assert json.loads(HEDGER_ABI.read_text()) == combined_abi(arts["contracts"]), (
        "run `python -m devnet.contracts.compile`"
    )


def test_no_selector_clash_between_facets() -> None:
    arts = load_artifacts()["contracts"]
    seen: dict[str, str] = {}
    for name in FACETS:
        fns, _ = _ids([e for e in arts[name]["abi"] if e["type"] == "function"])
        for f in fns:
            assert f not in seen, f"{f} in {seen.get(f)} and {name}"
            seen[f] = name
        assert arts[name]["runtime_size"] <= 24_576


REAL_SIGNATURES = Path(__file__).with_name("symmio_084_signatures.txt")


def _real() -> dict[str, tuple[str, str]]:
    out = {}
    for line in REAL_SIGNATURES.read_text().splitlines():
        if line and not line.startswith("#"):
            kind, ident, sig = line.split(" ", 2)
            out[sig] = (kind, ident)
    return out


def test_every_function_and_event_is_protocol_core_084s() -> None:
    """Same name, argument types (struct layouts), selector and topic0 as the real diamond."""
    real = _real()
    for sig, (kind, ident) in real.items():  # the table itself is consistent
        digest = keccak(text=sig).hex()
        assert ident == (digest[:8] if kind == "fu" else digest), sig
    abi = json.loads(HEDGER_ABI.read_text())
    ours = {f"{e['name']}({','.join(_canon(i) for i in e['inputs'])})": e["type"] for e in abi}
    unknown = {sig for sig in ours if sig not in real}
    assert unknown == set()
    for sig in (
        "chargeFundingRate(address,uint256[],int256[],(bytes,uint256,int256,int256,bytes,(uint256,address,address)))",
        "settleUpnl((bytes,uint256,(uint256,uint256,uint8)[],int256[],int256,bytes,(uint256,address,address)),uint256[],address)",
        "forceClosePosition(uint256,(bytes,uint256,uint256,uint256,uint256,uint256,uint256,uint256,int256,int256,uint256,bytes,(uint256,address,address)))",
        "liquidatePartyB(address,address,(bytes,uint256,int256,bytes,(uint256,address,address)))",
        "liquidatePositionsPartyB(address,address,(bytes,uint256,uint256[],uint256[],bytes,(uint256,address,address)))",
        "ChargeFundingRate(address,address,uint256[],int256[])",
        "SettleUpnl((uint256,uint256,uint8)[],uint256[],address,uint256,uint256[])",
        "ForceClosePosition(uint256,address,address,uint256,uint256,uint8,uint256)",
        "ForceClosePosition(uint256,address,address,uint256,uint256,uint8)",
        "LiquidatePartyB(address,address,address,uint256,int256)",
        "LiquidatePositionsPartyB(address,address,address,uint256[],uint256[],uint256[])",
        "LiquidatePositionsPartyB(address,address,address,uint256[])",
        "FullyLiquidatedPartyB(address,address)",
    ):
        assert sig in ours, sig
