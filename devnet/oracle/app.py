"""The devnet Muon oracle: Muon's request API and response envelope, signing what SYMMIO verifies.

`GET /v1/?app=symmio&method=<m>&params[partyA]=..&params[partyB]=..&params[chainId]=..
&params[symbolId]=..&params[symmio]=<diamond>&params[quoteIds]=[1,2]` (array params are JSON
strings, as on the real gateways; SYMMIO.md §3.4). Methods and the struct each one signs:

| method | params | struct (contract call) |
|---|---|---|
| `uPnl_A` | partyA | SingleUpnlSig (deallocate) |
| `uPnl_B` | partyB, partyA | SingleUpnlSig (lockQuote, deallocateForPartyB, liquidatePartyB) |
| `uPnl_A_withSymbolPrice` | partyA, symbolId | SingleUpnlAndPriceSig (sendQuote) |
| `uPnl` | partyB, partyA | PairUpnlSig (chargeFundingRate) |
| `uPnlWithSymbolPrice` | partyB, partyA, symbolId | PairUpnlAndPriceSig (open, fillClose, emergencyClose) |
| `price` | quoteIds | QuotePriceSig (liquidatePositionsPartyB) |
| `priceRange` | partyA, partyB, symbolId, t0, t1 | HighLowPriceSig (forceClosePosition) |
| `settle_upnl` | partyA, quoteIds | SettlementSig (settleUpnl) |

`priceRange` answers `symbolId, startTime (t0), endTime (t1), highest, lowest, mean, price,
uPnlA, uPnlB` (the struct's averagePrice is `mean`, currentPrice is `price`), from the prices this
oracle observed (`devnet.oracle.history`). `settle_upnl` answers `quoteSettlementData`
(`[[quoteId, currentPrice, partyBUpnlIndex], ...]`, PartyB indexes in order of first appearance),
`partyBs`, `upnlPartyBs` (each PartyB's uPnL with PartyA) and `uPnlA`.

Every answer is stamped with the chain's **latest block timestamp** and reads nonces and open
positions at that block, so a signature stays valid (`block.timestamp <= timestamp +
upnlValidTime`) when tests warp the chain. uPnL is computed like the Muon app: per open position
`trunc((quantity − closedAmount) · (price − openedPrice) / 1e18)`, negated for SHORT; PartyB's
uPnL against a PartyA is the negation of PartyA's on that pair's positions.

Errors use Muon's shape: `{"success": false, "error": {"message": ...}}`.

Extra devnet endpoints: `GET /v1/info` (app id, Schnorr public key, gateway — what
`setMuonIds` needs), `GET /health`, `PUT /devnet/prices/{symbol}` (fixed-price mode only).
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from devnet.oracle.chain import OPEN_STATUSES, ChainReader, OpenPosition, Web3ChainReader
from devnet.oracle.hashes import QuoteSettlement, high_low_price_hash, settlement_hash
from devnet.oracle.history import PriceHistory
from devnet.oracle.prices import (
    DEFAULT_FIXED_PRICES,
    WAD,
    BinancePriceSource,
    PriceSource,
    PriceUnavailable,
    StaticPriceSource,
    to_wad,
)
from devnet.oracle.signer import (
    DEVNET_GATEWAY_SEED,
    DEVNET_MUON_APP_ID,
    DEVNET_SCHNORR_SEED,
    MuonSigner,
    derive_private_key,
    derive_schnorr_secret,
)
from domain import muon
from domain.enums import PositionType
from domain.muon import MuonMethod

log = logging.getLogger("devnet.oracle")

APP_NAME = "symmio"
PRICE_RANGE = "priceRange"  # HighLowPriceSig (forceClosePosition)
SETTLE_UPNL = "settle_upnl"  # SettlementSig (settleUpnl)
METHODS = (
    MuonMethod.UPNL_A,
    MuonMethod.UPNL_B,
    MuonMethod.UPNL_A_WITH_SYMBOL_PRICE,
    MuonMethod.UPNL,
    MuonMethod.UPNL_WITH_SYMBOL_PRICE,
    MuonMethod.PRICE,
    PRICE_RANGE,
    SETTLE_UPNL,
)


@dataclass
class OracleConfig:
    rpc_url: str = "http://127.0.0.1:8545"
    # The diamond; when set, requests for another `symmio` are refused.
    symmio: str | None = None
    # Binance-USD-M-compatible REST base URL (e.g. the devnet exchange); None → fixed prices.
    price_url: str | None = None
    fixed_prices: dict[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_FIXED_PRICES))
    muon_app_id: int = DEVNET_MUON_APP_ID
    # None → the public devnet test keys (devnet.oracle.signer).
    schnorr_secret: int | None = None
    gateway_private_key: str | None = None

    def signer(self) -> MuonSigner:
        return MuonSigner(
            self.schnorr_secret
            if self.schnorr_secret is not None
            else derive_schnorr_secret(DEVNET_SCHNORR_SEED),
            self.gateway_private_key or derive_private_key(DEVNET_GATEWAY_SEED),
        )

    def price_source(self) -> PriceSource:
        if self.price_url:
            return BinancePriceSource(self.price_url)
        return StaticPriceSource(self.fixed_prices)


class OracleError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _tdiv(a: int, b: int) -> int:
    """Integer division truncating toward zero (BN.js / Solidity semantics)."""
    q = abs(a) // b
    return q if a >= 0 else -q


def position_upnl(position: OpenPosition, price: int) -> int:
    """PartyA's uPnL of one position at `price` (18-decimal)."""
    raw = position.open_quantity * (price - position.opened_price)
    if position.position_type == PositionType.SHORT:
        raw = -raw
    return _tdiv(raw, WAD)


@dataclass(frozen=True)
class UpnlSummary:
    upnl: int
    loss: int
    notional: int
    quote_ids: list[int]
    prices: list[int]


def summarize(positions: list[OpenPosition], price_of: Callable[[int], int]) -> UpnlSummary:
    upnl = loss = notional = 0
    prices = []
    for p in positions:
        price = price_of(p.symbol_id)
        prices.append(price)
        u = position_upnl(p, price)
        upnl += u
        if u < 0:
            loss += u
        notional += _tdiv(p.open_quantity * p.opened_price, WAD)
    return UpnlSummary(upnl, loss, notional, [p.quote_id for p in positions], prices)


class MuonOracle:
    """Answers Muon requests: reads the chain, prices, computes, hashes, signs, wraps."""

    def __init__(
        self,
        *,
        signer: MuonSigner,
        app_id: int,
        prices: PriceSource,
        chain_for: Callable[[str], ChainReader],
        allowed_symmio: str | None = None,
        req_id: Callable[[str, Mapping[str, str]], bytes] | None = None,
        history: PriceHistory | None = None,
    ) -> None:
        self.signer = signer
        self.history = history or PriceHistory()
        self._req_id = req_id
        self.app_id = app_id
        self.prices = prices
        self._chain_for = chain_for
        self.allowed_symmio = to_checksum_address(allowed_symmio) if allowed_symmio else None
        self._counter = itertools.count()
        # the requests answered, by method: the oracle's own record of what it was asked
        self.served: collections.Counter[str] = collections.Counter()
        self._served_lock = threading.Lock()

    # ---------------------------------------------------------------- params
    @staticmethod
    def _address(params: Mapping[str, str], name: str) -> str:
        value = params.get(name)
        if not value or not is_address(value):
            raise OracleError(f'"{name}" must be an address')
        return to_checksum_address(value)

    @staticmethod
    def _uint(params: Mapping[str, str], name: str) -> int:
        value = params.get(name)
        if value is None or not str(value).isdigit():
            raise OracleError(f'"{name}" must be a non-negative integer')
        return int(value)

    @staticmethod
    def _uint_list(params: Mapping[str, str], name: str) -> list[int]:
        raw = params.get(name)
        if not isinstance(raw, str):
            raise OracleError(f'"{name}" must be a string (a JSON array, e.g. [1,2])')
        try:
            values = json.loads(raw)
        except json.JSONDecodeError:
            raise OracleError(f'"{name}" must be a JSON array string, e.g. [1,2]') from None
        if not isinstance(values, list) or not values:
            raise OracleError(f'"{name}" must be a non-empty JSON array')
        out = []
        for v in values:
            if isinstance(v, bool) or not (
                isinstance(v, int) or (isinstance(v, str) and v.isdigit())
            ):
                raise OracleError(f'"{name}" must contain non-negative integers')
            out.append(int(v))
        return out

    def _chain(self, params: Mapping[str, str]) -> tuple[str, int, ChainReader]:
        symmio = self._address(params, "symmio")
        if self.allowed_symmio and symmio != self.allowed_symmio:
            raise OracleError(f"unknown symmio {symmio}; this oracle serves {self.allowed_symmio}")
        chain_id = self._uint(params, "chainId")
        reader = self._chain_for(symmio)
        actual = reader.chain_id()
        if actual != chain_id:
            raise OracleError(f"chainId {chain_id} does not match the chain ({actual})")
        return symmio, chain_id, reader

    # ---------------------------------------------------------------- prices
    def _price_fn(
        self, reader: ChainReader, block: int, timestamp: int
    ) -> tuple[Callable[[int], int], dict[str, int]]:
        """Mark prices by symbol id, read once per request and recorded in the history."""
        by_symbol: dict[str, int] = {}

        def price_of(symbol_id: int) -> int:
            try:
                name = reader.symbol_name(symbol_id, block)
            except LookupError as exc:
                raise OracleError(str(exc)) from None
            if name not in by_symbol:
                by_symbol[name] = to_wad(self.prices.mark_price(name))
                self.history.record(name, timestamp, by_symbol[name])
            return by_symbol[name]

        return price_of, by_symbol

    def observe_price(self, symmio: str, symbol: str) -> int:
        """Record `symbol`'s current mark price at the chain's latest block time; returns it."""
        block = self._chain_for(to_checksum_address(symmio)).latest_block()
        price = to_wad(self.prices.mark_price(symbol))
        self.history.record(symbol, block.timestamp, price)
        return price

    # ---------------------------------------------------------------- request
    def request(
        self, app: str | None, method: str | None, params: Mapping[str, str]
    ) -> dict[str, Any]:
        if app != APP_NAME:
            raise OracleError(f'unknown app "{app}"; this oracle serves "{APP_NAME}"')
        if method not in METHODS:
            raise OracleError(f'unknown method "{method}"; one of {", ".join(METHODS)}')
        symmio, chain_id, reader = self._chain(params)
        block = reader.latest_block()
        ts = block.timestamp
        price_of, prices_map = self._price_fn(reader, block.number, ts)
        req_id = (
            self._req_id(method, params)
            if self._req_id
            else keccak(
                json.dumps(
                    [method, dict(params), block.number, time.time_ns(), next(self._counter)]
                ).encode()
            )
        )
        common: dict[str, Any] = {
            "req_id": req_id,
            "muon_app_id": self.app_id,
            "symmio": symmio,
            "chain_id": chain_id,
            "timestamp": ts,
        }
        result: dict[str, Any] = {
            "chainId": str(chain_id),
            "symmio": symmio,
            "latestBlockNumber": str(block.number),
        }

        if method in (MuonMethod.UPNL_A, MuonMethod.UPNL_A_WITH_SYMBOL_PRICE):
            party_a = self._address(params, "partyA")
            nonce_a = reader.nonce_of_party_a(party_a, block.number)
            s = summarize(reader.party_a_open_positions(party_a, block.number), price_of)
            result.update(
                partyA=party_a,
                uPnl=str(s.upnl),
                loss=str(s.loss),
                notionalValueSum=str(s.notional),
                nonce=str(nonce_a),
                quoteIds=[str(q) for q in s.quote_ids],
                prices=[str(p) for p in s.prices],
            )
            if method == MuonMethod.UPNL_A:
                hashed = muon.single_upnl_party_a_hash(
                    **common, party_a=party_a, nonce_a=nonce_a, upnl=s.upnl
                )
            else:
                symbol_id = self._uint(params, "symbolId")
                price = price_of(symbol_id)
                result.update(symbolId=str(symbol_id), price=str(price))
                hashed = muon.single_upnl_and_price_hash(
                    **common,
                    party_a=party_a,
                    nonce_a=nonce_a,
                    upnl=s.upnl,
                    symbol_id=symbol_id,
                    price=price,
                )
        elif method == MuonMethod.UPNL_B:
            party_b, party_a = self._address(params, "partyB"), self._address(params, "partyA")
            nonce_b = reader.nonce_of_party_b(party_b, party_a, block.number)
            s = summarize(reader.party_b_open_positions(party_b, party_a, block.number), price_of)
            upnl_b = -s.upnl
            result.update(
                partyB=party_b,
                partyA=party_a,
                uPnl=str(upnl_b),
                notionalValueSum=str(s.notional),
                nonce=str(nonce_b),
                quoteIds=[str(q) for q in s.quote_ids],
                prices=[str(p) for p in s.prices],
            )
            hashed = muon.single_upnl_party_b_hash(
                **common, party_b=party_b, party_a=party_a, nonce_b=nonce_b, upnl=upnl_b
            )
        elif method in (MuonMethod.UPNL, MuonMethod.UPNL_WITH_SYMBOL_PRICE):
            party_b, party_a = self._address(params, "partyB"), self._address(params, "partyA")
            nonce_a = reader.nonce_of_party_a(party_a, block.number)
            nonce_b = reader.nonce_of_party_b(party_b, party_a, block.number)
            sa = summarize(reader.party_a_open_positions(party_a, block.number), price_of)
            sb = summarize(reader.party_b_open_positions(party_b, party_a, block.number), price_of)
            upnl_a, upnl_b = sa.upnl, -sb.upnl
            result.update(
                partyB=party_b,
                partyA=party_a,
                uPnlA=str(upnl_a),
                uPnlB=str(upnl_b),
                notionalValueSumA=str(sa.notional),
                notionalValueSumB=str(sb.notional),
                nonceA=str(nonce_a),
                nonceB=str(nonce_b),
                quoteIdsA=[str(q) for q in sa.quote_ids],
                quoteIdsB=[str(q) for q in sb.quote_ids],
                pricesA=[str(p) for p in sa.prices],
                pricesB=[str(p) for p in sb.prices],
            )
            pair: dict[str, Any] = dict(
                party_b=party_b,
                party_a=party_a,
                nonce_b=nonce_b,
                nonce_a=nonce_a,
                upnl_party_b=upnl_b,
                upnl_party_a=upnl_a,
            )
            if method == MuonMethod.UPNL:
                hashed = muon.pair_upnl_hash(**common, **pair)
            else:
                symbol_id = self._uint(params, "symbolId")
                price = price_of(symbol_id)
                result.update(symbolId=str(symbol_id), price=str(price))
                hashed = muon.pair_upnl_and_price_hash(
                    **common, **pair, symbol_id=symbol_id, price=price
                )
        elif method == PRICE_RANGE:
            extra, hashed = self._price_range(params, common, reader, block.number, price_of)
            result.update(extra)
        elif method == SETTLE_UPNL:
            extra, hashed = self._settle_upnl(params, common, reader, block.number, price_of)
            result.update(extra)
        else:  # price
            quote_ids = self._uint_list(params, "quoteIds")
            try:
                symbol_ids = reader.quote_symbol_ids(quote_ids, block.number)
            except LookupError as exc:
                raise OracleError(str(exc)) from None
            quote_prices = [price_of(sid) for sid in symbol_ids]
            result.update(
                quoteIds=[str(q) for q in quote_ids],
                symbols=[reader.symbol_name(sid, block.number) for sid in symbol_ids],
                prices=[str(p) for p in quote_prices],
            )
            hashed = muon.quote_prices_hash(**common, quote_ids=quote_ids, prices=quote_prices)

        result["markPrices"] = {"binance": {k: str(v) for k, v in prices_map.items()}}
        answer = self._envelope(method, dict(params), ts, result, req_id, hashed)
        with self._served_lock:
            self.served[method] += 1
        return answer

    def _pair(
        self, reader: ChainReader, party_b: str, party_a: str, block: int,
        price_of: Callable[[int], int],
    ) -> tuple[int, int, int, int, UpnlSummary]:  # fmt: skip
        """(nonceB, nonceA, upnlPartyB, upnlPartyA, PartyA's summary) of a pair at `block`."""
        nonce_a = reader.nonce_of_party_a(party_a, block)
        nonce_b = reader.nonce_of_party_b(party_b, party_a, block)
        sa = summarize(reader.party_a_open_positions(party_a, block), price_of)
        sb = summarize(reader.party_b_open_positions(party_b, party_a, block), price_of)
        return nonce_b, nonce_a, -sb.upnl, sa.upnl, sa

    def _price_range(
        self, params: Mapping[str, str], common: dict[str, Any], reader: ChainReader, block: int,
        price_of: Callable[[int], int],
    ) -> tuple[dict[str, Any], muon.MuonHash]:  # fmt: skip
        """HighLowPriceSig over [t0, t1] for the pair, with the current price and upnls."""
        party_b, party_a = self._address(params, "partyB"), self._address(params, "partyA")
        symbol_id = self._uint(params, "symbolId")
        t0, t1 = self._uint(params, "t0"), self._uint(params, "t1")
        if t1 < t0:
            raise OracleError('"t1" must not be before "t0"')
        if t1 > common["timestamp"]:
            raise OracleError(f'"t1" is after the latest block time {common["timestamp"]}')
        price = price_of(symbol_id)
        window = self.history.window(reader.symbol_name(symbol_id, block), t0, t1)
        assert window is not None  # price_of just recorded one observation
        nonce_b, nonce_a, upnl_b, upnl_a, _ = self._pair(reader, party_b, party_a, block, price_of)
        hashed = high_low_price_hash(
            **common, party_b=party_b, party_a=party_a, nonce_b=nonce_b, nonce_a=nonce_a,
            upnl_party_b=upnl_b, upnl_party_a=upnl_a, symbol_id=symbol_id, current_price=price,
            start_time=t0, end_time=t1, lowest=window.lowest, highest=window.highest,
            average_price=window.mean,
        )  # fmt: skip
        result = {
            "partyA": party_a,
            "partyB": party_b,
            "symbolId": str(symbol_id),
            "startTime": str(t0),
            "endTime": str(t1),
            "highest": str(window.highest),
            "lowest": str(window.lowest),
            "mean": str(window.mean),
            "price": str(price),
            "uPnlA": str(upnl_a),
            "uPnlB": str(upnl_b),
            "nonceA": str(nonce_a),
            "nonceB": str(nonce_b),
        }
        return result, hashed

    def _settle_upnl(
        self, params: Mapping[str, str], common: dict[str, Any], reader: ChainReader, block: int,
        price_of: Callable[[int], int],
    ) -> tuple[dict[str, Any], muon.MuonHash]:  # fmt: skip
        """SettlementSig for PartyA's open `quoteIds` at the current prices."""
        party_a = self._address(params, "partyA")
        quote_ids = self._uint_list(params, "quoteIds")
        if len(set(quote_ids)) != len(quote_ids):
            raise OracleError('"quoteIds" must not repeat a quote')
        try:
            quotes = reader.quotes(quote_ids, block)
        except LookupError as exc:
            raise OracleError(str(exc)) from None
        party_bs: list[str] = []
        rows: list[QuoteSettlement] = []
        for q in quotes:
            if q.party_a.lower() != party_a.lower():
                raise OracleError(f"quote {q.quote_id} is not a quote of {party_a}")
            if q.status not in OPEN_STATUSES:
                raise OracleError(f"quote {q.quote_id} is not an open position ({q.status.name})")
            party_b = to_checksum_address(q.party_b)
            if party_b not in party_bs:
                party_bs.append(party_b)
            rows.append(QuoteSettlement(q.quote_id, price_of(q.symbol_id), party_bs.index(party_b)))
        nonce_a = reader.nonce_of_party_a(party_a, block)
        nonce_of_b = {b: reader.nonce_of_party_b(b, party_a, block) for b in party_bs}
        upnl_bs = [
            -summarize(reader.party_b_open_positions(b, party_a, block), price_of).upnl
            for b in party_bs
        ]
        sa = summarize(reader.party_a_open_positions(party_a, block), price_of)
        nonces_b = [nonce_of_b[party_bs[row.party_b_upnl_index]] for row in rows]
        hashed = settlement_hash(
            **common, nonces_b=nonces_b, nonce_a=nonce_a, settlements=rows,
            upnl_party_bs=upnl_bs, upnl_party_a=sa.upnl,
        )  # fmt: skip
        result = {
            "partyA": party_a,
            "quoteIds": [str(q) for q in quote_ids],
            "partyBs": party_bs,
            "quoteSettlementData": [
                [str(r.quote_id), str(r.current_price), r.party_b_upnl_index] for r in rows
            ],
            "upnlPartyBs": [str(u) for u in upnl_bs],
            "uPnlA": str(sa.upnl),
            "notionalValueSumA": str(sa.notional),
            "nonceA": str(nonce_a),
            "noncesB": [str(n) for n in nonces_b],
        }
        return result, hashed

    def _envelope(
        self,
        method: str,
        params: dict[str, str],
        ts: int,
        result: dict[str, Any],
        req_id: bytes,
        hashed: muon.MuonHash,
    ) -> dict[str, Any]:
        sig = self.signer.sign(hashed.digest)
        pk = self.signer.public_key
        return {
            "success": True,
            "result": {
                "confirmed": True,
                "reqId": "0x" + req_id.hex(),
                "app": APP_NAME,
                "appId": str(self.app_id),
                "method": method,
                "gwAddress": self.signer.gateway_address,
                "data": {
                    "params": params,
                    "timestamp": ts,
                    "result": result,
                    "resultHash": hashed.hex,
                    "init": {"nonceAddress": sig.nonce_address},
                },
                "signatures": [
                    {
                        "owner": sig.owner,
                        "ownerPubKey": {"x": hex(pk.x), "yParity": str(pk.parity)},
                        "signature": "0x" + sig.s.to_bytes(32, "big").hex(),
                    }
                ],
                "nodeSignature": "0x" + sig.gateway_signature.hex(),
            },
        }

    def info(self) -> dict[str, Any]:
        pk = self.signer.public_key
        return {
            "app": APP_NAME,
            "appId": str(self.app_id),
            "publicKey": {"x": hex(pk.x), "parity": pk.parity},
            "owner": self.signer.owner_address,
            "gateway": self.signer.gateway_address,
            "symmio": self.allowed_symmio,
            "methods": list(METHODS),
            "served": dict(self.served),
        }


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"success": False, "error": {"message": message}}, status_code=status)


def _muon_params(items: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    params: dict[str, str] = {}
    bad: list[str] = []
    for key, value in items:
        if key.startswith("params[") and key.endswith("]"):
            inner = key[len("params[") : -1]
            if "[" in inner or "]" in inner:
                bad.append(key)
            else:
                params[inner] = value
    return params, bad


def create_app(
    config: OracleConfig | None = None,
    *,
    chain: ChainReader | None = None,
    prices: PriceSource | None = None,
    signer: MuonSigner | None = None,
    req_id: Callable[[str, Mapping[str, str]], bytes] | None = None,
) -> FastAPI:
    """The oracle app. `chain`/`prices`/`signer`/`req_id` override the defaults (tests)."""
    config = config or OracleConfig()
    price_source = prices or config.price_source()
    readers: dict[str, ChainReader] = {}
    lock = threading.Lock()

    def chain_for(symmio: str) -> ChainReader:
        if chain is not None:
            return chain
        with lock:
            if symmio not in readers:
                readers[symmio] = Web3ChainReader(config.rpc_url, symmio)
            return readers[symmio]

    oracle = MuonOracle(
        signer=signer or config.signer(),
        app_id=config.muon_app_id,
        prices=price_source,
        chain_for=chain_for,
        allowed_symmio=config.symmio,
        req_id=req_id,
    )
    app = FastAPI(title="devnet Muon oracle (symmio app)", docs_url=None, redoc_url=None)
    app.state.oracle = oracle

    def answer(app_name: str | None, method: str | None, params: dict[str, str]) -> JSONResponse:
        try:
            return JSONResponse(oracle.request(app_name, method, params))
        except OracleError as exc:
            return _error(exc.message, exc.status)
        except PriceUnavailable as exc:
            return _error(f"price unavailable: {exc}", 503)
        except Exception as exc:  # chain unreachable, contract revert, ...
            log.exception("oracle request failed: %s %s", method, params)
            return _error(f"{type(exc).__name__}: {exc}", 503)

    @app.get("/v1/")
    @app.get("/v1")
    def muon_get(request: Request) -> JSONResponse:
        q = request.query_params
        params, bad = _muon_params(list(q.multi_items()))
        if bad:
            return _error(
                f"array params must be JSON strings (e.g. params[quoteIds]=[1,2]), got {bad}", 400
            )
        return answer(q.get("app"), q.get("method"), params)

    @app.post("/v1/")
    @app.post("/v1")
    async def muon_post(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error("body must be JSON {app, method, params}", 400)
        if not isinstance(body, dict) or not isinstance(body.get("params", {}), dict):
            return _error("body must be JSON {app, method, params}", 400)
        params = {
            k: v if isinstance(v, str) else json.dumps(v) for k, v in body.get("params", {}).items()
        }
        return await run_in_threadpool(answer, body.get("app"), body.get("method"), params)

    @app.get("/v1/info")
    def info() -> dict[str, Any]:
        return oracle.info()

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True}

    @app.put("/devnet/prices/{symbol}")
    async def set_price(symbol: str, request: Request) -> JSONResponse:
        if not isinstance(price_source, StaticPriceSource):
            return _error("prices come from an exchange; set them there", 409)
        try:
            body = await request.json()
            price = Decimal(str(body["price"]))
            price_source.set_price(symbol, price)
        except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
            return _error(
                f'body must be {{"price": "<decimal>"}} with a positive price ({exc})', 400
            )
        if config.symmio:  # stamp the change for priceRange windows (else: at the next request)
            try:
                await run_in_threadpool(oracle.observe_price, config.symmio, symbol)
            except Exception:  # chain unreachable: the next request records the price
                log.warning("could not stamp the price of %s with the chain time", symbol)
        return JSONResponse({"symbol": symbol, "price": str(price)})

    return app
