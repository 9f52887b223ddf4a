"""Test helpers: a web3 handle on the deployed diamond, Muon struct signing, reverts and time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode
from eth_abi.packed import encode_packed
from eth_account import Account
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError

from devnet.contracts.compile import load_artifacts
from devnet.contracts.deploy import ANVIL_KEYS, Deployment, diamond_abi
from devnet.oracle.signer import MuonSigner

ADMIN, PARTY_A, HEDGER, PARTY_A2, OTHER = (ANVIL_KEYS[i] for i in (0, 1, 2, 3, 4))
E18 = 10**18
BTC = 1
PRICE = 60_000 * E18
QTY = 10**16
LONG, SHORT = 0, 1
LIMIT, MARKET = 0, 1


def addr(key: str) -> str:
    return str(Account.from_key(key).address)


@dataclass
class Chain:
    w3: Web3
    dep: Deployment
    signer: MuonSigner

    def __post_init__(self) -> None:
        self.symmio = self.w3.eth.contract(
            address=Web3.to_checksum_address(self.dep.symmio), abi=diamond_abi()
        )
        token_abi = load_artifacts()["contracts"]["CollateralToken"]["abi"]
        self.token = self.w3.eth.contract(
            address=Web3.to_checksum_address(self.dep.collateral), abi=token_abi
        )

    # --- chain control ---------------------------------------------------------------------
    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return self.w3.provider.make_request(method, params or [])["result"]  # type: ignore[arg-type]

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert_to(self, snap: str) -> None:
        assert self.rpc("evm_revert", [snap]) is True

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def warp(self, seconds: int) -> None:
        self.rpc("evm_increaseTime", [seconds])
        self.rpc("evm_mine")

    # --- transactions ----------------------------------------------------------------------
    def send(self, key: str, fn: str, *args: Any, contract: Any = None) -> Any:
        c = contract or self.symmio
        acct = Account.from_key(key)
        tx = getattr(c.functions, fn)(*args).build_transaction(
            {
                "from": acct.address,
                "gas": 5_000_000,
                "nonce": self.w3.eth.get_transaction_count(acct.address),
                "maxFeePerGas": 10**11,
                "maxPriorityFeePerGas": 10**9,
            }
        )
        h = self.w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(h, timeout=30)
        assert receipt["status"] == 1, f"{fn} failed"
        return receipt

    def reverts(self, key: str, fn: str, *args: Any) -> str:
        """The revert reason of calling `fn` (fails the test if it does not revert)."""
        try:
            getattr(self.symmio.functions, fn)(*args).call({"from": addr(key), "gas": 5_000_000})
        except ContractLogicError as exc:
            return str(exc)
        raise AssertionError(f"{fn} did not revert")

    def view(self, fn: str, *args: Any) -> Any:
        return getattr(self.symmio.functions, fn)(*args).call()

    def events(self, receipt: Any) -> list[str]:
        """Event names of a receipt's logs, in order, legacy overloads marked with their arity."""
        by_topic: dict[bytes, str] = {}
        for e in self.symmio.abi:
            if e["type"] == "event":
                types = ",".join(_canon(dict(i)) for i in e["inputs"])
                by_topic[keccak(text=f"{e['name']}({types})")] = f"{e['name']}/{len(e['inputs'])}"
        return [by_topic[bytes(log["topics"][0])] for log in receipt["logs"]]

    def decoded(self, receipt: Any) -> list[tuple[str, dict[str, Any]]]:
        """(name/arity, args) of each log, the ABI entry chosen by topic0 (overloads differ)."""
        entries: dict[bytes, dict[str, Any]] = {}
        for e in self.symmio.abi:
            if e["type"] == "event":
                types = ",".join(_canon(dict(i)) for i in e["inputs"])
                entries[keccak(text=f"{e['name']}({types})")] = dict(e)
        out = []
        for log in receipt["logs"]:
            entry = entries[bytes(log["topics"][0])]
            plain = [i for i in entry["inputs"] if not i.get("indexed")]
            values = decode([_canon(dict(i)) for i in plain], bytes(log["data"]))
            args = dict(zip([i["name"] for i in plain], values, strict=True))
            for i, topic in zip(
                [i for i in entry["inputs"] if i.get("indexed")], log["topics"][1:], strict=True
            ):
                args[i["name"]] = decode([_canon(dict(i))], bytes(topic))[0]
            out.append((f"{entry['name']}/{len(entry['inputs'])}", _checksummed(args)))
        return out

    # --- funding ---------------------------------------------------------------------------
    def fund_party_a(self, key: str, amount: int = 10_000 * E18) -> None:
        self.send(key, "mint", addr(key), amount, contract=self.token)
        self.send(key, "approve", self.dep.symmio, amount, contract=self.token)
        self.send(key, "depositAndAllocate", amount)

    # --- Muon structs ----------------------------------------------------------------------
    def _signed(
        self, h: bytes, signer: MuonSigner | None = None, gateway: MuonSigner | None = None
    ) -> tuple[bytes, tuple[int, str, str]]:
        s = signer or self.signer
        sig = s.sign(h)
        gw = (gateway or self.signer).sign_gateway(h)
        return gw, (sig.s, sig.owner, sig.nonce_address)

    def nonce_a(self, party_a: str) -> int:
        return int(self.view("nonceOfPartyA", party_a))

    def nonce_b(self, party_b: str, party_a: str) -> int:
        return int(self.view("nonceOfPartyB", party_b, party_a))

    def single_b(
        self,
        party_b: str,
        party_a: str,
        upnl: int = 0,
        *,
        ts: int | None = None,
        nonce: int | None = None,
        signer: MuonSigner | None = None,
        gateway: MuonSigner | None = None,
    ) -> tuple[Any, ...]:
        ts = self.now() if ts is None else ts
        n = self.nonce_b(party_b, party_a) if nonce is None else nonce
        req = b"\x01\x02"
        h = keccak(
            encode_packed(
                [
                    "uint256",
                    "bytes",
                    "address",
                    "address",
                    "address",
                    "uint256",
                    "int256",
                    "uint256",
                    "uint256",
                ],
                [
                    self.dep.muon_app_id,
                    req,
                    self.dep.symmio,
                    party_b,
                    party_a,
                    n,
                    upnl,
                    ts,
                    self.w3.eth.chain_id,
                ],
            )
        )
        gw, sigs = self._signed(h, signer, gateway)
        return (req, ts, upnl, gw, sigs)

    def single_a(self, party_a: str, upnl: int = 0) -> tuple[Any, ...]:
        ts = self.now()
        req = b"\x03"
        h = keccak(
            encode_packed(
                [
                    "uint256",
                    "bytes",
                    "address",
                    "address",
                    "uint256",
                    "int256",
                    "uint256",
                    "uint256",
                ],
                [
                    self.dep.muon_app_id,
                    req,
                    self.dep.symmio,
                    party_a,
                    self.nonce_a(party_a),
                    upnl,
                    ts,
                    self.w3.eth.chain_id,
                ],
            )
        )
        gw, sigs = self._signed(h)
        return (req, ts, upnl, gw, sigs)

    def single_a_price(
        self, party_a: str, price: int = PRICE, upnl: int = 0, symbol: int = BTC
    ) -> tuple[Any, ...]:
        ts = self.now()
        req = b"\x04"
        h = keccak(
            encode_packed(
                [
                    "uint256",
                    "bytes",
                    "address",
                    "address",
                    "uint256",
                    "int256",
                    "uint256",
                    "uint256",
                    "uint256",
                    "uint256",
                ],
                [
                    self.dep.muon_app_id,
                    req,
                    self.dep.symmio,
                    party_a,
                    self.nonce_a(party_a),
                    upnl,
                    symbol,
                    price,
                    ts,
                    self.w3.eth.chain_id,
                ],
            )
        )
        gw, sigs = self._signed(h)
        return (req, ts, upnl, price, gw, sigs)

    def pair_price(
        self,
        party_b: str,
        party_a: str,
        price: int = PRICE,
        upnl_a: int = 0,
        upnl_b: int = 0,
        symbol: int = BTC,
        *,
        ts: int | None = None,
    ) -> tuple[Any, ...]:
        ts = self.now() if ts is None else ts
        req = b""
        h = keccak(
            encode_packed(
                [
                    "uint256",
                    "bytes",
                    "address",
                    "address",
                    "address",
                    "uint256",
                    "uint256",
                    "int256",
                    "int256",
                    "uint256",
                    "uint256",
                    "uint256",
                    "uint256",
                ],
                [
                    self.dep.muon_app_id,
                    req,
                    self.dep.symmio,
                    party_b,
                    party_a,
                    self.nonce_b(party_b, party_a),
                    self.nonce_a(party_a),
                    upnl_b,
                    upnl_a,
                    symbol,
                    price,
                    ts,
                    self.w3.eth.chain_id,
                ],
            )
        )
        gw, sigs = self._signed(h)
        return (req, ts, upnl_a, upnl_b, price, gw, sigs)

    # --- quotes ----------------------------------------------------------------------------
    def send_quote(
        self,
        key: str = PARTY_A,
        *,
        side: int = LONG,
        order: int = MARKET,
        price: int | None = None,
        qty: int = QTY,
        whitelist: list[str] | None = None,
        deadline: int | None = None,
        locked: tuple[int, int, int, int] = (10 * E18, 5 * E18, 20 * E18, 10 * E18),
        market: int = PRICE,
        max_funding_rate: int = 10**16,
    ) -> int:
        """sendQuote; `locked` = (cva, lf, partyAmm, partyBmm), `market` = the signed price."""
        if price is None:
            price = PRICE + 100 * E18 if side == LONG else PRICE - 100 * E18
        deadline = self.now() + 600 if deadline is None else deadline
        self.send(
            key,
            "sendQuote",
            whitelist or [],
            BTC,
            side,
            order,
            price,
            qty,
            *locked,
            max_funding_rate,
            deadline,
            self.single_a_price(addr(key), market),
        )
        return int(self.view("getNextQuoteId"))

    def lock(self, qid: int, party_a: str | None = None) -> Any:
        pa = party_a or addr(PARTY_A)
        return self.send(HEDGER, "lockQuote", qid, self.single_b(addr(HEDGER), pa))

    def open(
        self, qid: int, filled: int = QTY, price: int = PRICE, party_a: str | None = None
    ) -> Any:
        pa = party_a or addr(PARTY_A)
        return self.send(
            HEDGER, "openPosition", qid, filled, price, self.pair_price(addr(HEDGER), pa, price)
        )

    def status(self, qid: int) -> int:
        return int(self.view("getQuote", qid)[16])


def _checksummed(value: Any) -> Any:
    """Addresses checksummed, arrays and structs as lists (comparable to literals)."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return Web3.to_checksum_address(value)
    if isinstance(value, dict):
        return {k: _checksummed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_checksummed(v) for v in value]  # arrays and tuples as lists
    return value


def _canon(t: dict[str, Any]) -> str:
    if t["type"].startswith("tuple"):
        return "(" + ",".join(_canon(c) for c in t["components"]) + ")" + str(t["type"])[5:]
    return str(t["type"])


def wait_port(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Web3(Web3.HTTPProvider(url)).is_connected():
                return
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def liquidation_sig(
    chain: Chain, party_a: str, upnl: int, liquidation_id: bytes
) -> tuple[Any, ...]:
    """A LiquidationSig for `party_a` at the current nonce (no symbol prices)."""
    ts = chain.now()
    req = b"\x05"
    h = keccak(
        encode_packed(
            [
                "uint256",
                "bytes",
                "bytes",
                "address",
                "string",
                "address",
                "uint256",
                "int256",
                "int256",
                "uint256[]",
                "uint256[]",
                "uint256",
                "uint256",
            ],
            [
                chain.dep.muon_app_id,
                req,
                liquidation_id,
                chain.dep.symmio,
                "verifyLiquidationSig",
                party_a,
                chain.nonce_a(party_a),
                upnl,
                upnl,
                [],
                [],
                ts,
                chain.w3.eth.chain_id,
            ],
        )
    )
    gw, sigs = chain._signed(h)
    return (req, ts, liquidation_id, upnl, upnl, [], [], gw, sigs)
