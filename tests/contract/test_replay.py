"""Execute the vectors' signed lifecycle on our contract: the real PartyB calldata, byte for byte.

A fresh anvil whose genesis time precedes the captured signatures, a deployment with the vectors'
Muon app id / Schnorr key / gateway, so the diamond sits at the captured address and every captured
signature (bound to address(this), chain id and the nonces) must verify on our contract.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from devnet.contracts.deploy import deploy_and_initialise
from devnet.oracle.signer import default_devnet_signer
from devnet.paths import ANVIL_BIN
from tests.contract.helpers import HEDGER, PARTY_A, Chain, addr, wait_port

VECTORS = (
    Path(__file__).resolve().parents[1] / "muon" / "vectors"
)  # in-repo copy of shared/symmio-vectors
pytestmark = pytest.mark.skipif(not VECTORS.exists(), reason="symmio-vectors not available")
GENESIS = 1_795_736_000
# amounts that depend on our simplified fee maths / symbol settings rather than on the call
INEXACT_DATA = {
    "SendQuote"
}  # its tradingFee field: vectors symbol fee 1e16, ours 1e15  # before the first captured signature (1795736161)


def _is_fee(log: dict[str, Any]) -> bool:
    """BalanceChangePartyA of PLATFORM_FEE_IN/OUT: the amount follows the symbol's fee setting."""
    return bool(log["event"] == "BalanceChangePartyA" and int(log["data"][-64:], 16) in (2, 3))


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


@pytest.fixture(scope="module")
def replay_chain() -> Iterator[Chain]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [
            str(ANVIL_BIN),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--silent",
            "--timestamp",
            str(GENESIS),
        ]
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_port(url)
        sch = _load("schnorr.json")
        key = sch["test_key_TEST_ONLY"]
        dep = deploy_and_initialise(
            url,
            muon_public_key=(int(key["pubkey_x"], 16), key["pubkey_parity"]),
            muon_gateway=sch["gateway"]["address"],
            muon_app_id=int(_load("hashes.json")["muonAppId"]),
            out_path=None,
        )
        chain = Chain(Web3(Web3.HTTPProvider(url)), dep, default_devnet_signer())
        chain.fund_party_a(PARTY_A)
        chain.send(HEDGER, "allocateForPartyB", 50_000 * 10**18, addr(PARTY_A))
        yield chain
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _raw(chain: Chain, key: str, data: str) -> Any:
    acct = Account.from_key(key)
    tx = {
        "to": chain.dep.symmio,
        "data": data,
        "gas": 5_000_000,
        "nonce": chain.w3.eth.get_transaction_count(acct.address),
        "chainId": 31337,
        "maxFeePerGas": 10**11,
        "maxPriorityFeePerGas": 10**9,
    }
    h = chain.w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
    return chain.w3.eth.wait_for_transaction_receipt(h)


def _send_quote_args(log_args: dict[str, Any], sig: dict[str, Any], max_funding: int) -> list[Any]:
    f = sig["fields"]
    upnl_sig = (
        bytes.fromhex(f["reqId"][2:]),
        int(f["timestamp"]),
        int(f["upnl"]),
        int(f["price"]),
        bytes.fromhex(sig["gateway_signature"][2:]),
        (
            int(sig["schnorr_s"], 16),
            "0x" + "00" * 20,
            Web3.to_checksum_address(sig["nonce_address"]),
        ),
    )
    a = log_args
    return [
        a["partyBsWhiteList"], int(a["symbolId"]), a["positionType"]["value"], a["orderType"]["value"],
        int(a["price"]), int(a["quantity"]), int(a["cva"]), int(a["lf"]), int(a["partyAmm"]), int(a["partyBmm"]),
        max_funding, int(a["deadline"]), upnl_sig,
    ]  # fmt: skip


def test_captured_lifecycle_executes_on_our_contract(replay_chain: Chain) -> None:
    chain = replay_chain
    logs = _load("logs.json")
    assert chain.dep.symmio == Web3.to_checksum_address(logs["diamond"])
    by_tx: dict[str, list[dict[str, Any]]] = {}
    for log in logs["logs"]:
        by_tx.setdefault(log["transactionHash"], []).append(log)
    quote_sigs = _load("hashes.json")["kinds"]["SingleUpnlAndPriceSig"]["accepted_examples"]
    party_b = iter(logs["partyB_transactions"])
    sends = iter(quote_sigs)
    for step in logs["all_lifecycle_transactions"]:
        fn = step["function"]
        tx_logs = by_tx.get(step["tx"], [])
        if step["from"].lower() == addr(HEDGER).lower():
            captured = next(party_b)
            assert captured["function"] == fn
            receipt = _raw(chain, HEDGER, captured["calldata"])
            assert receipt["status"] == 1, captured["step"]
            assert len(receipt["logs"]) == len(tx_logs), captured["step"]
            for ours, theirs in zip(receipt["logs"], tx_logs, strict=True):
                assert ["0x" + bytes(t).hex() for t in ours["topics"]] == theirs["topics"], (
                    captured["step"]
                )
                if theirs["event"] not in INEXACT_DATA and not _is_fee(theirs):
                    assert "0x" + bytes(ours["data"]).hex() == theirs["data"], (
                        captured["step"],
                        theirs["event"],
                    )
        elif fn == "sendQuote":
            args = next(e["args"] for e in tx_logs if e["event"] == "SendQuote")
            qid = args["quoteId"]
            max_funding = int(logs["final_quotes"][qid]["maxFundingRate"])
            chain.send(PARTY_A, "sendQuote", *_send_quote_args(args, next(sends), max_funding))
        elif fn == "requestToClosePosition":
            a = next(e["args"] for e in tx_logs if e["event"] == "RequestToClosePosition")
            chain.send(
                PARTY_A, fn, int(a["quoteId"]), int(a["closePrice"]), int(a["quantityToClose"]),
                a["orderType"]["value"], int(a["deadline"]),
            )  # fmt: skip
        elif fn in ("requestToCancelQuote", "requestToCancelCloseRequest"):
            qid = int(next(iter(tx_logs))["args"]["quoteId"])
            chain.send(PARTY_A, fn, qid)
        # `deallocate` (PartyA extra step) is signed by the vectors' key too but not replayed here
    for qid, q in logs["final_quotes"].items():
        assert chain.status(int(qid)) == int(q["quoteStatus"]), qid
    assert chain.nonce_a(addr(PARTY_A)) == logs["final_nonces"]["partyANonces[partyA]"]
    assert (
        chain.nonce_b(addr(HEDGER), addr(PARTY_A))
        == logs["final_nonces"]["partyBNonces[partyB][partyA]"]
    )
