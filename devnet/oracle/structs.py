"""A Muon response envelope → the web3 tuple of the contract struct it signs.

Same mapping as the real gateways' clients (SYMMIO.md §3.4, Trading-SDK): `result.reqId` →
reqId, `result.data.timestamp` → timestamp, `result.nodeSignature` → gatewaySignature,
`result.signatures[0].{signature, owner}` + `result.data.init.nonceAddress` → SchnorrSign, and the
method's fields from `result.data.result`. For tests and tools that call our devnet oracle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_utils.address import to_checksum_address
from hexbytes import HexBytes

Envelope = Mapping[str, Any]
SchnorrTuple = tuple[int, str, str]

# web3 / eth_abi type strings of the structs (field order of MuonStorage.sol)
SCHNORR_SIGN = "(uint256,address,address)"
HIGH_LOW_PRICE_SIG = (
    "(bytes,uint256,uint256,uint256,uint256,uint256,uint256,uint256,int256,int256,uint256,bytes,"
    + SCHNORR_SIGN
    + ")"
)
SETTLEMENT_SIG = (
    "(bytes,uint256,(uint256,uint256,uint8)[],int256[],int256,bytes," + SCHNORR_SIGN + ")"
)


def _result(env: Envelope) -> Mapping[str, Any]:
    if not env.get("success"):
        raise ValueError(f"unsuccessful Muon answer: {env.get('error')}")
    r: Mapping[str, Any] = env["result"]
    return r


def _fields(env: Envelope) -> Mapping[str, Any]:
    data: Mapping[str, Any] = _result(env)["data"]["result"]
    return data


def _common(env: Envelope) -> tuple[bytes, int, bytes, SchnorrTuple]:
    r = _result(env)
    share = r["signatures"][0]
    sigs = (
        int(share["signature"], 16),
        to_checksum_address(share["owner"]),
        to_checksum_address(r["data"]["init"]["nonceAddress"]),
    )
    return (
        bytes(HexBytes(r["reqId"])),
        int(r["data"]["timestamp"]),
        bytes(HexBytes(r["nodeSignature"])),
        sigs,
    )


def single_upnl_sig(env: Envelope) -> tuple[Any, ...]:
    """`uPnl_A` / `uPnl_B` → SingleUpnlSig."""
    req, ts, gw, sigs = _common(env)
    return (req, ts, int(_fields(env)["uPnl"]), gw, sigs)


def pair_upnl_sig(env: Envelope) -> tuple[Any, ...]:
    """`uPnl` → PairUpnlSig (upnlPartyA, upnlPartyB in struct order)."""
    req, ts, gw, sigs = _common(env)
    f = _fields(env)
    return (req, ts, int(f["uPnlA"]), int(f["uPnlB"]), gw, sigs)


def pair_upnl_and_price_sig(env: Envelope) -> tuple[Any, ...]:
    """`uPnlWithSymbolPrice` → PairUpnlAndPriceSig."""
    req, ts, gw, sigs = _common(env)
    f = _fields(env)
    return (req, ts, int(f["uPnlA"]), int(f["uPnlB"]), int(f["price"]), gw, sigs)


def quote_price_sig(env: Envelope) -> tuple[Any, ...]:
    """`price` → QuotePriceSig."""
    req, ts, gw, sigs = _common(env)
    f = _fields(env)
    return (req, ts, [int(q) for q in f["quoteIds"]], [int(p) for p in f["prices"]], gw, sigs)


def high_low_price_sig(env: Envelope) -> tuple[Any, ...]:
    """`priceRange` → HighLowPriceSig (mean → averagePrice, price → currentPrice)."""
    req, ts, gw, sigs = _common(env)
    f = _fields(env)
    return (
        req,
        ts,
        int(f["symbolId"]),
        int(f["highest"]),
        int(f["lowest"]),
        int(f["mean"]),
        int(f["startTime"]),
        int(f["endTime"]),
        int(f["uPnlB"]),
        int(f["uPnlA"]),
        int(f["price"]),
        gw,
        sigs,
    )


def settlement_sig(env: Envelope) -> tuple[Any, ...]:
    """`settle_upnl` → SettlementSig."""
    req, ts, gw, sigs = _common(env)
    f = _fields(env)
    rows = [(int(q), int(p), int(i)) for q, p, i in f["quoteSettlementData"]]
    return (req, ts, rows, [int(u) for u in f["upnlPartyBs"]], int(f["uPnlA"]), gw, sigs)


def settlement_prices(env: Envelope) -> list[int]:
    """The signed current price of each settled quote: the `updatedPrices` of a full settlement."""
    return [int(p) for _, p, _ in _fields(env)["quoteSettlementData"]]
