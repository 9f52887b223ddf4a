"""The devnet Muon oracle (devnet/oracle, default keys and app id) reads our diamond and its
signatures are accepted by it: sendQuote, lockQuote, openPosition, fillCloseRequest."""

from __future__ import annotations

from typing import Any

from devnet.oracle.app import APP_NAME, MuonOracle
from devnet.oracle.chain import Web3ChainReader
from devnet.oracle.prices import DEFAULT_FIXED_PRICES, StaticPriceSource
from devnet.oracle.signer import DEVNET_MUON_APP_ID, default_devnet_signer
from domain.enums import QuoteStatus
from domain.muon import MuonMethod
from tests.symmio.conftest import BTC, E18, Env


def _oracle(env: Env) -> MuonOracle:
    return MuonOracle(
        signer=default_devnet_signer(),
        app_id=DEVNET_MUON_APP_ID,
        prices=StaticPriceSource(dict(DEFAULT_FIXED_PRICES)),
        chain_for=lambda s: Web3ChainReader(env.anvil.http_url, s),
    )


def _ask(env: Env, method: str, **extra: str) -> dict[str, Any]:
    params = {"symmio": env.symmio.address, "chainId": str(env.w3.eth.chain_id), **extra}
    out: dict[str, Any] = _oracle(env).request(APP_NAME, method, params)["result"]
    return out


def _parts(r: dict[str, Any]) -> tuple[bytes, int, bytes, tuple[int, str, str]]:
    sig = r["signatures"][0]
    return (
        bytes.fromhex(r["reqId"][2:]),
        int(r["data"]["timestamp"]),
        bytes.fromhex(r["nodeSignature"][2:]),
        (int(sig["signature"], 16), sig["owner"], r["data"]["init"]["nonceAddress"]),
    )


def test_oracle_signatures_drive_a_lifecycle(env: Env) -> None:
    a, b = env.party_a.address, env.hedger.address
    f = env.f
    r = _ask(env, MuonMethod.UPNL_A_WITH_SYMBOL_PRICE, partyA=a, symbolId=str(BTC))
    req, ts, gw, sch = _parts(r)
    price = int(r["data"]["result"]["price"])
    send_sig = (req, ts, int(r["data"]["result"]["uPnl"]), price, gw, sch)
    env.party_a.call(
        f.sendQuote(
            [],
            BTC,
            0,
            1,
            price * 101 // 100,
            10**16,
            2 * E18,
            E18,
            4 * E18,
            4 * E18,
            0,
            env.now() + 600,
            send_sig,
        )
    )
    qid = f.getNextQuoteId().call()

    r = _ask(env, MuonMethod.UPNL_B, partyB=b, partyA=a)
    req, ts, gw, sch = _parts(r)
    env.hedger.call(f.lockQuote(qid, (req, ts, int(r["data"]["result"]["uPnl"]), gw, sch)))

    def pair() -> tuple[Any, ...]:
        r = _ask(env, MuonMethod.UPNL_WITH_SYMBOL_PRICE, partyB=b, partyA=a, symbolId=str(BTC))
        req, ts, gw, sch = _parts(r)
        res = r["data"]["result"]
        return (req, ts, int(res["uPnlA"]), int(res["uPnlB"]), int(res["price"]), gw, sch)

    env.hedger.call(f.openPosition(qid, 10**16, price, pair()))
    assert env.status(qid) == QuoteStatus.OPENED
    env.party_a.call(f.requestToClosePosition(qid, price // 2, 10**16, 1, env.now() + 600))
    env.hedger.call(f.fillCloseRequest(qid, 10**16, price, pair()))
    assert env.status(qid) == QuoteStatus.CLOSED
