"""Fixtures for tests of our SYMMIO-compatible diamond (devnet/symmio): one deployment per module,
every test isolated with evm_snapshot / evm_revert."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract

from devnet.oracle.signer import DEVNET_MUON_APP_ID, MuonSigner, default_devnet_signer
from devnet.stack.anvil import Anvil
from devnet.symmio.deploy import (
    ANVIL_KEYS,
    Sender,
    collateral_contract,
    deploy_and_initialise,
    symmio_contract,
)
from domain import muon
from domain.events import SymmioEvent, try_decode_log

E18 = 10**18
BTC = 1


@dataclass
class Env:
    anvil: Anvil
    w3: Web3
    info: dict[str, Any]
    symmio: Contract
    token: Contract
    admin: Sender
    hedger: Sender
    party_a: Sender
    signer: MuonSigner
    app_id: int

    @property
    def f(self) -> Any:
        return self.symmio.functions

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def warp(self, seconds: int) -> None:
        self.anvil.rpc("evm_increaseTime", [seconds])
        self.anvil.rpc("evm_mine", [])

    # --- signatures (hashes from domain/muon.py, signed with MuonSigner) -------------------
    def _sig(self, h: muon.MuonHash, signer: MuonSigner | None) -> tuple[muon.SchnorrSign, bytes]:
        s = (signer or self.signer).sign(h.digest)
        return muon.SchnorrSign(s.s, s.owner, s.nonce_address), s.gateway_signature

    def send_sig(
        self,
        party_a: str,
        symbol_id: int,
        price: int,
        *,
        upnl: int = 0,
        ts: int | None = None,
        signer: MuonSigner | None = None,
    ) -> tuple[Any, ...]:
        ts = self.now() if ts is None else ts
        h = muon.single_upnl_and_price_hash(
            muon_app_id=self.app_id,
            req_id=b"\x01",
            symmio=self.symmio.address,
            party_a=party_a,
            nonce_a=self.f.nonceOfPartyA(party_a).call(),
            upnl=upnl,
            symbol_id=symbol_id,
            price=price,
            timestamp=ts,
            chain_id=self.w3.eth.chain_id,
        )
        sch, gw = self._sig(h, signer)
        return muon.SingleUpnlAndPriceSig(b"\x01", ts, upnl, price, gw, sch).to_abi_tuple()

    def lock_sig(
        self,
        party_b: str,
        party_a: str,
        *,
        upnl: int = 0,
        ts: int | None = None,
        signer: MuonSigner | None = None,
        nonce_b: int | None = None,
    ) -> tuple[Any, ...]:
        ts = self.now() if ts is None else ts
        nb = self.f.nonceOfPartyB(party_b, party_a).call() if nonce_b is None else nonce_b
        h = muon.single_upnl_party_b_hash(
            muon_app_id=self.app_id,
            req_id=b"",
            symmio=self.symmio.address,
            party_b=party_b,
            party_a=party_a,
            nonce_b=nb,
            upnl=upnl,
            timestamp=ts,
            chain_id=self.w3.eth.chain_id,
        )
        sch, gw = self._sig(h, signer)
        return muon.SingleUpnlSig(b"", ts, upnl, gw, sch).to_abi_tuple()

    def pair_sig(
        self,
        party_b: str,
        party_a: str,
        symbol_id: int,
        price: int,
        *,
        upnl_a: int = 0,
        upnl_b: int = 0,
        ts: int | None = None,
        signer: MuonSigner | None = None,
    ) -> tuple[Any, ...]:
        ts = self.now() if ts is None else ts
        h = muon.pair_upnl_and_price_hash(
            muon_app_id=self.app_id,
            req_id=b"abc",
            symmio=self.symmio.address,
            party_b=party_b,
            party_a=party_a,
            nonce_b=self.f.nonceOfPartyB(party_b, party_a).call(),
            nonce_a=self.f.nonceOfPartyA(party_a).call(),
            upnl_party_b=upnl_b,
            upnl_party_a=upnl_a,
            symbol_id=symbol_id,
            price=price,
            timestamp=ts,
            chain_id=self.w3.eth.chain_id,
        )
        sch, gw = self._sig(h, signer)
        return muon.PairUpnlAndPriceSig(b"abc", ts, upnl_a, upnl_b, price, gw, sch).to_abi_tuple()

    def party_a_sig(self, party_a: str, *, upnl: int = 0) -> tuple[Any, ...]:
        ts = self.now()
        h = muon.single_upnl_party_a_hash(
            muon_app_id=self.app_id,
            req_id=b"\x02",
            symmio=self.symmio.address,
            party_a=party_a,
            nonce_a=self.f.nonceOfPartyA(party_a).call(),
            upnl=upnl,
            timestamp=ts,
            chain_id=self.w3.eth.chain_id,
        )
        sch, gw = self._sig(h, None)
        return muon.SingleUpnlSig(b"\x02", ts, upnl, gw, sch).to_abi_tuple()

    # --- actions ---------------------------------------------------------------------------
    def events(self, receipt: Any) -> list[SymmioEvent]:
        out = [try_decode_log(dict(log)) for log in receipt["logs"]]
        return [e for e in out if e is not None]

    def names(self, receipt: Any) -> list[str]:
        return [e.signature.split("(")[0] + ("*" if e.legacy else "") for e in self.events(receipt)]

    def send_quote(
        self,
        *,
        position: int = 0,
        order: int = 1,
        price: int = 60_100 * E18,
        market: int = 60_000 * E18,
        quantity: int = 10**16,
        cva: int = 2 * E18,
        lf: int = E18,
        amm: int = 4 * E18,
        bmm: int = 4 * E18,
        deadline: int | None = None,
        whitelist: list[str] | None = None,
        sender: Sender | None = None,
    ) -> tuple[int, Any]:
        who = sender or self.party_a
        dl = self.now() + 3600 if deadline is None else deadline
        fn = self.f.sendQuote(
            whitelist or [],
            BTC,
            position,
            order,
            price,
            quantity,
            cva,
            lf,
            amm,
            bmm,
            10**16,
            dl,
            self.send_sig(who.address, BTC, market),
        )
        receipt = who.call(fn)
        return int(self.f.getNextQuoteId().call()), receipt

    def lock(self, qid: int) -> Any:
        return self.hedger.call(
            self.f.lockQuote(qid, self.lock_sig(self.hedger.address, self.party_a.address))
        )

    def open(self, qid: int, filled: int, price: int) -> Any:
        sig = self.pair_sig(self.hedger.address, self.party_a.address, BTC, price)
        return self.hedger.call(self.f.openPosition(qid, filled, price, sig))

    def fill_close(self, qid: int, filled: int, price: int) -> Any:
        sig = self.pair_sig(self.hedger.address, self.party_a.address, BTC, price)
        return self.hedger.call(self.f.fillCloseRequest(qid, filled, price, sig))

    def quote(self, qid: int) -> Any:
        return self.f.getQuote(qid).call()

    def status(self, qid: int) -> int:
        return int(self.quote(qid)[16])


def revert_reason(fn: Any, sender: Sender) -> str:
    """Run `fn` as an eth_call from `sender`; return the revert reason ('' if it did not revert)."""
    try:
        fn.call({"from": sender.address})
    except Exception as exc:  # web3 raises ContractLogicError with the reason in the message
        return str(exc)
    return ""


@pytest.fixture(scope="module")
def env(anvil: Anvil) -> Env:
    signer = default_devnet_signer()
    info = deploy_and_initialise(
        anvil.http_url,
        admin_key=ANVIL_KEYS[0],
        hedger_key=ANVIL_KEYS[2],
        muon_signer=signer,
        muon_app_id=DEVNET_MUON_APP_ID,
        out_path=None,
    )
    w3 = Web3(Web3.HTTPProvider(anvil.http_url))
    e = Env(
        anvil=anvil,
        w3=w3,
        info=info,
        symmio=symmio_contract(w3, info["symmio"]),
        token=collateral_contract(w3, info["collateral"]),
        admin=Sender(w3, ANVIL_KEYS[0]),
        hedger=Sender(w3, ANVIL_KEYS[2]),
        party_a=Sender(w3, ANVIL_KEYS[1]),
        signer=signer,
        app_id=DEVNET_MUON_APP_ID,
    )
    pa = e.party_a
    pa.call(e.token.functions.mint(pa.address, 100_000 * E18))
    pa.call(e.token.functions.approve(e.symmio.address, 2**256 - 1))
    pa.call(e.f.depositAndAllocate(50_000 * E18))
    e.hedger.call(e.f.allocateForPartyB(1_000_000 * E18, pa.address))
    return e


@pytest.fixture(autouse=True)
def _isolate(request: pytest.FixtureRequest) -> Iterator[None]:
    if "env" not in request.fixturenames:
        yield
        return
    e: Env = request.getfixturevalue("env")
    snap = e.anvil.rpc("evm_snapshot", [])
    yield
    e.anvil.rpc("evm_revert", [snap])
