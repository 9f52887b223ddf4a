"""Packed hashes of the Muon structs `domain.muon` does not cover: `HighLowPriceSig` (force close)
and `SettlementSig` (settleUpnl), exactly as protocol-core 0.8.4 rebuilds them on chain
(`LibMuonForceActions.verifyHighLowPrice`, `LibMuonSettlement.verifySettlement`).

Traps: the high/low hash packs the *quote's* symbol id (the struct's `symbolId` field is not
read), the window as start, end, lowest, highest, average (not the struct order), and
upnlPartyB before upnlPartyA. The settlement hash packs the literal "verifySettlement", one
PartyB nonce per quote (that quote's PartyB, so a PartyB with two quotes appears twice), and
`partyBUpnlIndex` as a single byte (uint8 under abi.encodePacked).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from eth_utils.crypto import keccak

from domain.muon import (
    MuonHash,
    pack_address,
    pack_int256,
    pack_int256_array,
    pack_uint256,
    pack_uint256_array,
)


class QuoteSettlement(NamedTuple):
    """`QuoteSettlementData{uint256 quoteId; uint256 currentPrice; uint8 partyBUpnlIndex}`."""

    quote_id: int
    current_price: int
    party_b_upnl_index: int


def _hashed(*parts: bytes) -> MuonHash:
    preimage = b"".join(parts)
    return MuonHash(preimage, keccak(preimage))


def high_low_price_hash(
    *,
    muon_app_id: int,
    req_id: bytes,
    symmio: str,
    party_b: str,
    party_a: str,
    nonce_b: int,
    nonce_a: int,
    upnl_party_b: int,
    upnl_party_a: int,
    symbol_id: int,
    current_price: int,
    start_time: int,
    end_time: int,
    lowest: int,
    highest: int,
    average_price: int,
    timestamp: int,
    chain_id: int,
) -> MuonHash:
    """`HighLowPriceSig` (forceClosePosition, settleAndForceClosePosition)."""
    return _hashed(
        pack_uint256(muon_app_id),
        req_id,
        pack_address(symmio),
        pack_address(party_b),
        pack_address(party_a),
        pack_uint256(nonce_b),
        pack_uint256(nonce_a),
        pack_int256(upnl_party_b),
        pack_int256(upnl_party_a),
        pack_uint256(symbol_id),
        pack_uint256(current_price),
        pack_uint256(start_time),
        pack_uint256(end_time),
        pack_uint256(lowest),
        pack_uint256(highest),
        pack_uint256(average_price),
        pack_uint256(timestamp),
        pack_uint256(chain_id),
    )


def settlement_hash(
    *,
    muon_app_id: int,
    req_id: bytes,
    symmio: str,
    nonces_b: Sequence[int],
    nonce_a: int,
    settlements: Sequence[QuoteSettlement],
    upnl_party_bs: Sequence[int],
    upnl_party_a: int,
    timestamp: int,
    chain_id: int,
) -> MuonHash:
    """`SettlementSig` (settleUpnl). `nonces_b[i]` is the nonce of quote i's PartyB with PartyA."""
    if len(nonces_b) != len(settlements):
        raise ValueError("one PartyB nonce per settled quote")
    rows = b""
    for row in settlements:
        if not 0 <= row.party_b_upnl_index <= 255:
            raise ValueError(f"partyBUpnlIndex is a uint8: {row.party_b_upnl_index}")
        rows += (
            pack_uint256(row.quote_id)
            + pack_uint256(row.current_price)
            + bytes([row.party_b_upnl_index])
        )
    return _hashed(
        pack_uint256(muon_app_id),
        req_id,
        pack_address(symmio),
        b"verifySettlement",
        pack_uint256_array(nonces_b),
        pack_uint256(nonce_a),
        rows,
        pack_int256_array(upnl_party_bs),
        pack_int256(upnl_party_a),
        pack_uint256(timestamp),
        pack_uint256(chain_id),
    )
