"""domain.events decodes every raw log the real SYMMIO diamond emitted, and refuses bad ones."""

from __future__ import annotations

import json
import re
from enum import IntEnum
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from domain import events as ev
from domain.enums import QuoteStatus

VECTORS = Path(__file__).resolve().parents[1] / "muon" / "vectors"
LOGS = json.loads((VECTORS / "logs.json").read_text())
ALL_LOGS: list[dict[str, Any]] = LOGS["logs"] + LOGS["setup_funding_logs"]["logs"]
SYMMIO_MD_TOPIC0 = {
    # the topic0 table of SYMMIO.md §2.3
    "0x8a17f103c77224ce4d9bab74dad3bd002cd24cf88d2e191e86d18272c8f135dd",
    "0xbd146e7cbb5d500e754c322f31ac6fff088d4b1037f7451c55520b9a5ad00cb8",
    "0x5f1255d6db4923f0a48e5c6a465dd7510bfccfdc6128e4a7205d0cf5dd815072",
    "0x031b9e47506c5b4d3c090a39d07b302270975e574630fb3697be8ae613a52087",
    "0x43991f038b9f0ae4f9909dade97fec1b0c77ba32582ee8a26fc4c8cf82fb839e",
    "0x1fb3a5866c913789e890348816f52506a678b5027f5a7a525a0c3f1064441a2d",
    "0x74d402b085f265915a355c4518ab27527803e4130516698dcabc84e215b2994d",
    "0x5e953fa5755357c1b02f6091f73960ba1496f00741ddcf57e5db189b7d9e730f",
    "0xa50f98254710514f60327a4e909cd0be099a62f316299907ef997f3dc4d1cda5",
    "0x7f9710cf0d5a0ad968b7fc45b62e78bf71c0ca8ebb71a16128fc27b07fa5608d",
    "0xc3b89af356874802979a890ae8871f67822871b8d01c66893e9b44ff75ab7445",
    "0x913f6390eac61b1aff6175281eb759d08736f7cbac052d2fec19a05a619c6c16",
    "0x8db83f0d58002d6c6c0e3f6250b15ea40435f8b603d72237fd28699b299109a9",
    "0xfa7483d69b899cf16df47cc736ab853f88135f704980d7d358a9746aead7a321",
    "0xcfb87430bccfbe2bfb59a3cd29b1e9824928449566da1bdcb700c723135d9069",
    "0xe56157f1775def7e2f20ef604183092721dbe068b92081e566394323ed4ee0d4",
    "0x8639d1cdfa19595730d00390f0e8f9222eb0ce5fecca0b3320c091302d5a70e4",
    "0x9529f5ae1b092edf9e2862bf01f1d80ad51a3309f4da3c12997713f3a0aae8b0",
    "0xfdc5ba180d028947b16ca9ac743e8c9d85713d2daeadbae5a184e14b5e86e152",
    "0x0183ea1b026f57d871b56583f9dcb01415d727f08b4aab1d307c9e56eecd4140",
    "0x0bc1fd8a0c1b5d47ffa208736a2441c16573c4e4fc7eda2f646e55145b12e38a",
    "0x50700f753d488c61d280103a69a439425af6ddbe080a3ed31b869ace98b22f82",
    "0x328ee25cc7980792889a197f270edb1a81452f30ba7dfa4c743422f8208f8163",
    "0xe61ecdf2f6757aefa03c992988ff63160eb5f34bb187c005090e66ee6cc54a30",
    "0x2051e07208dab1fb2fa0986a6fb7217d986feb02ad01eb7c453e62b494671762",
    "0x0de46198ff2f90607fa355d313fcd2e03df429b6fc26efc6b0789eba66ade532",
    "0x74f4f24eca3f72e3bb723d7b35a487d7f59901d51c2060820babc5f460c8f7ab",
    "0xc9a531602b823d6b7e999fe9d22eb296b680b9a7e734a3b68408674e222f7f85",
    "0x0a89d65a7c7592cc15c929b125f79869f7a619294a0e5b95e12e16f53172d4ac",
    "0xf56ddf6983b53945ed34f4aa3bb254fec2dc35a0efe0335f5f387c91cefa2997",
    "0xc96707a57f4b1ee3624b381918608c1c089e9931e14f6b63f0d8fdef99c1141a",
    "0x188d1e56dc05980698f7408457d264ab7c0ae2b5b5f9da4febd3140714bce66d",
    "0x83c8f2a8a8fc5962f13e33db863af0fdbd05b6aa763cb4b2243f98a486729d3b",
    "0x5548c837ab068cf56a2c2479df0882a4922fd203edb7517321831d95078c5f62",
    "0x9b1bfa7fa9ee420a16e124f794c35ac9f90472acc99140eb2f6447c714cad8eb",
    "0x12f926682e9716435703a506b436993346a19a8d2f4378b264fee4c5a87f34a2",
    "0xb4c8993414809cfa5f52991edfe7c5e2510c939d7d3e061895741a3145b46eff",
    "0x59d828addc0dd9bb214a8c30733eb5a3699c2ea1e6cdba3d41317ba8487bdea2",
    "0xb1e55b64272332caa21275155200a2bdbfa776c6b6051b41c899dc4d1e34cb42",
    "0xf688a4e13cb28e5c12cf045718e469d8f189222cc94e8ffd4225f0703da46a72",
    "0x25a713125adaaeaacbcc48646938c97cd57f1ffad1ab9f2685b123f4b500bca1",
}


def snake(name: str) -> str:
    if name == "_type":
        return "change_type"
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def as_json(value: Any) -> Any:
    """Our decoded value in logs.json's notation (enums {value, name}, ints as strings)."""
    if isinstance(value, IntEnum):
        return {"value": int(value), "name": f"{type(value).__name__}.{value.name}"}
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        return [as_json(v) for v in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def test_symmio_md_table_is_covered() -> None:
    assert SYMMIO_MD_TOPIC0 <= set(ev.EVENTS_BY_TOPIC0)


def test_vector_logs_cover_both_forms() -> None:
    assert len(LOGS["logs"]) == 34
    assert {log["event_signature"] for log in ALL_LOGS} <= set(ev.TOPIC0_BY_SIGNATURE)


@pytest.mark.parametrize(
    "log", ALL_LOGS, ids=lambda log: f"{log['blockNumber']}-{log['logIndex']}-{log['event']}"
)
def test_decode_every_vector_log(log: dict[str, Any]) -> None:
    event = ev.decode_log(log)
    assert event.signature == log["event_signature"]
    assert event.topic0 == log["topics"][0]
    assert event.topic0 == "0x" + keccak(text=log["event_signature"]).hex()
    assert event.key == ev.EventKey(log["blockNumber"], log["transactionHash"], log["logIndex"])
    assert event.address == log["address"]
    assert event.canonical_name == log["event"]
    for name, expected in log["args"].items():
        assert as_json(getattr(event, snake(name))) == expected, name
    # the legacy form is exactly the shorter overload
    same_name = [s for s in ev.EVENTS_BY_TOPIC0.values() if s.name == log["event"]]
    if len(same_name) == 2:
        longest = max(len(s.params) for s in same_name)
        assert event.legacy == (len(log["args"]) < longest)
    else:
        assert not event.legacy


def test_decode_accepts_web3_style_log() -> None:
    log = LOGS["logs"][1]  # SendQuote
    web3_log = {
        **log,
        "topics": [bytes.fromhex(t[2:]) for t in log["topics"]],
        "data": bytes.fromhex(log["data"][2:]),
        "transactionHash": bytes.fromhex(log["transactionHash"][2:]),
        "blockNumber": hex(log["blockNumber"]),
        "logIndex": hex(log["logIndex"]),
        "address": log["address"].lower(),
    }
    assert ev.decode_log(web3_log) == ev.decode_log(log)


def test_events_are_frozen_and_hashable() -> None:
    event = ev.decode_log(LOGS["logs"][1])
    assert isinstance(event, ev.SendQuote)
    with pytest.raises(AttributeError):
        event.quote_id = 5  # type: ignore[misc]
    assert len({event, ev.decode_log(LOGS["logs"][1])}) == 1


def test_legacy_and_current_map_to_one_logical_event() -> None:
    decoded = ev.decode_logs(LOGS["logs"])
    assert len(decoded) == 34
    fills = [e for e in decoded if isinstance(e, ev.FillCloseRequest)]
    assert len(fills) == 4
    assert [f.legacy for f in fills] == [False, True, False, True]
    assert fills[0].close_id == 1 and fills[1].close_id is None
    assert fills[0].logical_key() == fills[1].logical_key()
    assert fills[0].logical_key() != fills[2].logical_key()
    kept = ev.drop_legacy_twins(decoded)
    assert len(kept) == 34 - 8  # legacy: RTCP x3, FCR x2, RTCCR, ACCR, DeallocatePartyA
    assert not any(e.legacy for e in kept)
    names = [e.canonical_name for e in kept]
    assert names.count("RequestToClosePosition") == 3


def _static_log(
    definition_name: str, data_words: list[int], *, extra_topics: list[bytes] | None = None
) -> dict[str, Any]:
    (spec,) = [s for s in ev.EVENTS_BY_TOPIC0.values() if s.signature == definition_name]
    return {
        "address": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
        "topics": [spec.topic0] + ["0x" + t.hex() for t in (extra_topics or [])],
        "data": "0x" + b"".join(w.to_bytes(32, "big") for w in data_words).hex(),
        "blockNumber": 5,
        "transactionHash": "0x" + "ab" * 32,
        "logIndex": 3,
    }


def test_legacy_expire_quote_maps_by_status() -> None:
    opened = ev.decode_log(_static_log("ExpireQuote(uint8,uint256)", [QuoteStatus.OPENED, 7]))
    assert isinstance(opened, ev.ExpireQuoteClose) and opened.legacy and opened.close_id is None
    expired = ev.decode_log(_static_log("ExpireQuote(uint8,uint256)", [QuoteStatus.EXPIRED, 7]))
    assert isinstance(expired, ev.ExpireQuoteOpen) and expired.legacy and expired.quote_id == 7
    current = ev.decode_log(_static_log("ExpireQuoteClose(uint8,uint256,uint256)", [4, 7, 2]))
    assert isinstance(current, ev.ExpireQuoteClose) and current.close_id == 2 and not current.legacy


def test_topic0s_for_filters() -> None:
    fill = ev.topic0s(ev.FillCloseRequest)
    assert len(fill) == 2
    assert ev.topic0s(ev.FillCloseRequest, include_legacy=False) == [
        "0xfa7483d69b899cf16df47cc736ab853f88135f704980d7d358a9746aead7a321"
    ]
    assert "0x1fb3a5866c913789e890348816f52506a678b5027f5a7a525a0c3f1064441a2d" in ev.topic0s(
        ev.ExpireQuoteClose
    )
    assert len(ev.topic0s()) == len(ev.EVENTS_BY_TOPIC0)


# ---------------------------------------------------------------------------------------- malformed


def _send_quote() -> dict[str, Any]:
    return dict(LOGS["logs"][1])


def test_unknown_topic0() -> None:
    log = _send_quote()
    log["topics"] = ["0x" + "11" * 32]
    with pytest.raises(ev.UnknownEvent):
        ev.decode_log(log)
    assert ev.try_decode_log(log) is None


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda log: log.update(topics=[]), id="no-topics"),
        pytest.param(
            lambda log: log.update(topics=log["topics"] + ["0x" + "00" * 32]), id="extra-topic"
        ),
        pytest.param(lambda log: log.update(data=log["data"][:-64]), id="truncated-dynamic"),
        pytest.param(lambda log: log.update(data="0x"), id="empty-data"),
        pytest.param(lambda log: log.update(data="0xzz"), id="not-hex"),
        pytest.param(lambda log: log.update(topics=[log["topics"][0][:-2]]), id="short-topic"),
        pytest.param(lambda log: log.update(transactionHash="0x12"), id="bad-txhash"),
        pytest.param(lambda log: log.pop("blockNumber"), id="no-block"),
        pytest.param(lambda log: log.update(address=None), id="no-address"),
    ],
)
def test_malformed_send_quote(mutate: Any) -> None:
    log = _send_quote()
    mutate(log)
    with pytest.raises(ev.UndecodableLog):
        ev.decode_log(log)
    with pytest.raises(ev.UndecodableLog):
        ev.try_decode_log(log)


def test_malformed_static_and_indexed() -> None:
    balance = dict(LOGS["logs"][0])  # BalanceChangePartyA, one indexed param
    ok = ev.decode_log(balance)
    assert isinstance(ok, ev.BalanceChangePartyA) and ok.party_a == LOGS["partyA"]
    with pytest.raises(ev.UndecodableLog, match="expected 2 topics, got 1"):
        ev.decode_log({**balance, "topics": balance["topics"][:1]})
    with pytest.raises(ev.UndecodableLog, match="expected 64"):
        ev.decode_log({**balance, "data": balance["data"][:-2]})
    with pytest.raises(ev.UndecodableLog, match="expected 64"):
        ev.decode_log({**balance, "data": balance["data"] + "00" * 32})
    bad_enum = balance["data"][:-2] + "0c"  # BalanceChangeType has 12 members (0..11)
    with pytest.raises(ev.UndecodableLog, match="not a valid BalanceChangeType"):
        ev.decode_log({**balance, "data": bad_enum})
    with pytest.raises(ev.UndecodableLog, match="not a valid QuoteStatus"):
        ev.decode_log(_static_log("AcceptCancelRequest(uint256,uint8)", [3, 11]))
    # a non-canonical address word in an indexed topic is refused by eth_abi
    with pytest.raises(ev.UndecodableLog):
        ev.decode_log({**balance, "topics": [balance["topics"][0], "0x" + "ff" * 32]})


def test_error_message_names_the_log() -> None:
    log = _send_quote()
    log["data"] = "0x"
    with pytest.raises(ev.UndecodableLog, match=log["transactionHash"]) as info:
        ev.decode_log(log)
    assert info.value.log is log
