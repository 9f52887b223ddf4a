"""Muon signature structs of SYMMIO protocol-core 0.8.4 and the exact hashes the contract verifies.

Pure: no I/O. Every SYMMIO call that depends on solvency carries a Muon struct; the contract
rebuilds ``keccak256(abi.encodePacked(...))`` from its own storage (nonces, ``address(this)``,
``block.chainid``) and the struct's fields, then checks a Schnorr signature and a gateway ECDSA
signature over that hash (SYMMIO.md §3). The builders here produce the same preimage and hash,
so an oracle can sign what the contract will check and a hedger can verify what it received.

Packing rules (``abi.encodePacked``): ``uint256``/``int256`` → 32 bytes big-endian (two's
complement for negatives); ``address`` → 20 bytes; ``bytes``/string literals → raw bytes, no
length; ``uint256[]``/``int256[]`` → each element as 32 bytes, no length.

Traps (symmio-vectors/README.md): ``PairUpnlAndPriceSig`` (and ``PairUpnlSig``) hash
``upnlPartyB`` **before** ``upnlPartyA`` while the struct declares ``upnlPartyA`` first; the
PartyB ``SingleUpnlSig`` does not include a quote id.

All amounts, prices and upnl values are 18-decimal fixed-point integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from eth_utils.crypto import keccak

UINT256_MAX = 2**256 - 1
INT256_MIN = -(2**255)
INT256_MAX = 2**255 - 1


class MuonMethod:
    """Method names of the Muon `symmio` app (SYMMIO.md §3.2, §3.4)."""

    UPNL_A = "uPnl_A"  # PartyA SingleUpnlSig (deallocate)
    UPNL_B = "uPnl_B"  # PartyB SingleUpnlSig (lockQuote, deallocateForPartyB, ...)
    UPNL_A_WITH_SYMBOL_PRICE = "uPnl_A_withSymbolPrice"  # SingleUpnlAndPriceSig (sendQuote)
    UPNL_WITH_SYMBOL_PRICE = "uPnlWithSymbolPrice"  # PairUpnlAndPriceSig (open/fillClose/...)
    UPNL = "uPnl"  # PairUpnlSig (chargeFundingRate)
    PRICE = "price"  # QuotePriceSig (liquidatePositionsPartyB)
    SETTLE_UPNL = "settle_upnl"  # SettlementSig (settleUpnl)


# ---------------------------------------------------------------------------------------------
# abi.encodePacked pieces


def pack_uint256(value: int) -> bytes:
    if not 0 <= value <= UINT256_MAX:
        raise ValueError(f"uint256 out of range: {value}")
    return value.to_bytes(32, "big")


def pack_int256(value: int) -> bytes:
    if not INT256_MIN <= value <= INT256_MAX:
        raise ValueError(f"int256 out of range: {value}")
    return (value % 2**256).to_bytes(32, "big")


def pack_address(address: str) -> bytes:
    raw = bytes.fromhex(address[2:] if address[:2].lower() == "0x" else address)
    if len(raw) != 20:
        raise ValueError(f"address must be 20 bytes: {address!r}")
    return raw


def pack_uint256_array(values: Sequence[int]) -> bytes:
    return b"".join(pack_uint256(v) for v in values)


def pack_int256_array(values: Sequence[int]) -> bytes:
    return b"".join(pack_int256(v) for v in values)


class MuonHash(NamedTuple):
    """A packed preimage and its keccak256 — the 32-byte message the Muon signatures cover."""

    preimage: bytes
    digest: bytes

    @property
    def hex(self) -> str:
        return "0x" + self.digest.hex()

    @property
    def as_int(self) -> int:
        return int.from_bytes(self.digest, "big")


def _hashed(*parts: bytes) -> MuonHash:
    preimage = b"".join(parts)
    return MuonHash(preimage, keccak(preimage))


# ---------------------------------------------------------------------------------------------
# Hash builders, one per verifier of protocol-core 0.8.4


def single_upnl_party_b_hash(
    *,
    muon_app_id: int,
    req_id: bytes,
    symmio: str,
    party_b: str,
    party_a: str,
    nonce_b: int,
    upnl: int,
    timestamp: int,
    chain_id: int,
) -> MuonHash:
    """`SingleUpnlSig` for PartyB (`LibMuon.verifyPartyBUpnl`): lockQuote, deallocateForPartyB,
    transferAllocation (vs origin), liquidatePartyB. `nonce_b = partyBNonces[partyB][partyA]`."""
    return _hashed(
        pack_uint256(muon_app_id),
        req_id,
        pack_address(symmio),
        pack_address(party_b),
        pack_address(party_a),
        pack_uint256(nonce_b),
        pack_int256(upnl),
        pack_uint256(timestamp),
        pack_uint256(chain_id),
    )


def single_upnl_party_a_hash(
    *,
    muon_app_id: int,
    req_id: bytes,
    symmio: str,
    party_a: str,
    nonce_a: int,
    upnl: int,
    timestamp: int,
    chain_id: int,
) -> MuonHash:
    """`SingleUpnlSig` for PartyA (`LibMuonAccount.verifyPartyAUpnl`): deallocate."""
    return _hashed(
        pack_uint256(muon_app_id),
        req_id,
        pack_address(symmio),
        pack_address(party_a),
        pack_uint256(nonce_a),
        pack_int256(upnl),
        pack_uint256(timestamp),
        pack_uint256(chain_id),
    )


def single_upnl_and_price_hash(
    *,
    muon_app_id: int,
    req_id: bytes,
    symmio: str,
    party_a: str,
    nonce_a: int,
    upnl: int,
    symbol_id: int,
    price: int,
    timestamp: int,
    chain_id: int,
) -> MuonHash:
    """`SingleUpnlAndPriceSig` (`LibMuonPartyA.verifyPartyAUpnlAndPrice`): sendQuote*."""
    return _hashed(
        pack_uint256(muon_app_id),
        req_id,
        pack_address(symmio),
        pack_address(party_a),
        pack_uint256(nonce_a),
        pack_int256(upnl),
        pack_uint256(symbol_id),
        pack_uint256(price),
        pack_uint256(timestamp),
        pack_uint256(chain_id),
    )


def pair_upnl_and_price_hash(
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
    price: int,
    timestamp: int,
    chain_id: int,
) -> MuonHash:
    """`PairUpnlAndPriceSig` (`LibMuonPartyB.verifyPairUpnlAndPrice`): openPosition,
    fillCloseRequest, emergencyClosePosition, lockAndOpenQuote. upnlPartyB is packed first.
    `symbol_id` is the quote's symbol as stored on chain."""
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
        pack_uint256(price),
        pack_uint256(timestamp),
        pack_uint256(chain_id),
    )


def pair_upnl_hash(
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
    timestamp: int,
    chain_id: int,
) -> MuonHash:
    """`PairUpnlSig` (`LibMuonFundingRate.verifyPairUpnl`): chargeFundingRate."""
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
        pack_uint256(timestamp),
        pack_uint256(chain_id),
    )


def quote_prices_hash(
    *,
    muon_app_id: int,
    req_id: bytes,
    symmio: str,
    quote_ids: Sequence[int],
    prices: Sequence[int],
    timestamp: int,
    chain_id: int,
) -> MuonHash:
    """`QuotePriceSig` (`LibMuonLiquidation.verifyQuotePrices`): liquidatePositionsPartyB."""
    if len(quote_ids) != len(prices):
        raise ValueError("quote_ids and prices must have the same length")
    return _hashed(
        pack_uint256(muon_app_id),
        req_id,
        pack_address(symmio),
        pack_uint256_array(quote_ids),
        pack_uint256_array(prices),
        pack_uint256(timestamp),
        pack_uint256(chain_id),
    )


def liquidation_hash(
    *,
    muon_app_id: int,
    req_id: bytes,
    liquidation_id: bytes,
    symmio: str,
    party_a: str,
    nonce_a: int,
    upnl: int,
    total_unrealized_loss: int,
    symbol_ids: Sequence[int],
    prices: Sequence[int],
    timestamp: int,
    chain_id: int,
) -> MuonHash:
    """`LiquidationSig` (`LibMuonLiquidation.verifyLiquidationSig`): liquidatePartyA,
    setSymbolsPrice. Note the literal "verifyLiquidationSig" and liquidationId before symmio."""
    if len(symbol_ids) != len(prices):
        raise ValueError("symbol_ids and prices must have the same length")
    return _hashed(
        pack_uint256(muon_app_id),
        req_id,
        liquidation_id,
        pack_address(symmio),
        b"verifyLiquidationSig",
        pack_address(party_a),
        pack_uint256(nonce_a),
        pack_int256(upnl),
        pack_int256(total_unrealized_loss),
        pack_uint256_array(symbol_ids),
        pack_uint256_array(prices),
        pack_uint256(timestamp),
        pack_uint256(chain_id),
    )


@dataclass(frozen=True, slots=True)
class QuoteSettlementData:
    """`QuoteSettlementData{uint256 quoteId; uint256 currentPrice; uint8 partyBUpnlIndex}`."""

    quote_id: int
    current_price: int
    party_b_upnl_index: int

    def to_abi_tuple(self) -> tuple[int, int, int]:
        return (self.quote_id, self.current_price, self.party_b_upnl_index)


def settlement_hash(
    *,
    muon_app_id: int,
    req_id: bytes,
    symmio: str,
    nonces_b: Sequence[int],
    nonce_a: int,
    settlements: Sequence[QuoteSettlementData],
    upnl_party_bs: Sequence[int],
    upnl_party_a: int,
    timestamp: int,
    chain_id: int,
) -> MuonHash:
    """`SettlementSig` (`LibMuonSettlement.verifySettlement`): settleUpnl. The literal
    "verifySettlement" follows the contract address; `nonces_b[i]` is the nonce of quote i's
    PartyB with PartyA; each row packs quoteId, currentPrice (32 bytes each) and the uint8
    partyBUpnlIndex (1 byte)."""
    if len(nonces_b) != len(settlements):
        raise ValueError("one PartyB nonce per settled quote")
    rows = b""
    for row in settlements:
        if not 0 <= row.party_b_upnl_index <= 255:
            raise ValueError(f"partyBUpnlIndex is a uint8: {row.party_b_upnl_index}")
        rows += pack_uint256(row.quote_id) + pack_uint256(row.current_price)
        rows += bytes([row.party_b_upnl_index])
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


# ---------------------------------------------------------------------------------------------
# Signature structs (MuonStorage.sol). `to_abi_tuple()` gives web3's tuple order.

SchnorrTuple = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class SchnorrSign:
    """`SchnorrSign{uint256 signature; address owner; address nonce}`."""

    signature: int
    owner: str
    nonce: str

    def to_abi_tuple(self) -> SchnorrTuple:
        return (self.signature, self.owner, self.nonce)


@dataclass(frozen=True, slots=True)
class SingleUpnlSig:
    """`(bytes reqId, uint256 timestamp, int256 upnl, bytes gatewaySignature, SchnorrSign sigs)`."""

    req_id: bytes
    timestamp: int
    upnl: int
    gateway_signature: bytes
    sigs: SchnorrSign

    def to_abi_tuple(self) -> tuple[bytes, int, int, bytes, SchnorrTuple]:
        return (
            self.req_id,
            self.timestamp,
            self.upnl,
            self.gateway_signature,
            self.sigs.to_abi_tuple(),
        )


@dataclass(frozen=True, slots=True)
class SingleUpnlAndPriceSig:
    """`(bytes reqId, uint256 timestamp, int256 upnl, uint256 price, bytes gatewaySignature,
    SchnorrSign sigs)`."""

    req_id: bytes
    timestamp: int
    upnl: int
    price: int
    gateway_signature: bytes
    sigs: SchnorrSign

    def to_abi_tuple(self) -> tuple[bytes, int, int, int, bytes, SchnorrTuple]:
        return (
            self.req_id,
            self.timestamp,
            self.upnl,
            self.price,
            self.gateway_signature,
            self.sigs.to_abi_tuple(),
        )


@dataclass(frozen=True, slots=True)
class PairUpnlSig:
    """`(bytes reqId, uint256 timestamp, int256 upnlPartyA, int256 upnlPartyB, bytes
    gatewaySignature, SchnorrSign sigs)`."""

    req_id: bytes
    timestamp: int
    upnl_party_a: int
    upnl_party_b: int
    gateway_signature: bytes
    sigs: SchnorrSign

    def to_abi_tuple(self) -> tuple[bytes, int, int, int, bytes, SchnorrTuple]:
        return (
            self.req_id,
            self.timestamp,
            self.upnl_party_a,
            self.upnl_party_b,
            self.gateway_signature,
            self.sigs.to_abi_tuple(),
        )


@dataclass(frozen=True, slots=True)
class PairUpnlAndPriceSig:
    """`(bytes reqId, uint256 timestamp, int256 upnlPartyA, int256 upnlPartyB, uint256 price,
    bytes gatewaySignature, SchnorrSign sigs)` — A before B here, B before A in the hash."""

    req_id: bytes
    timestamp: int
    upnl_party_a: int
    upnl_party_b: int
    price: int
    gateway_signature: bytes
    sigs: SchnorrSign

    def to_abi_tuple(self) -> tuple[bytes, int, int, int, int, bytes, SchnorrTuple]:
        return (
            self.req_id,
            self.timestamp,
            self.upnl_party_a,
            self.upnl_party_b,
            self.price,
            self.gateway_signature,
            self.sigs.to_abi_tuple(),
        )


@dataclass(frozen=True, slots=True)
class QuotePriceSig:
    """`(bytes reqId, uint256 timestamp, uint256[] quoteIds, uint256[] prices, bytes
    gatewaySignature, SchnorrSign sigs)`."""

    req_id: bytes
    timestamp: int
    quote_ids: tuple[int, ...]
    prices: tuple[int, ...]
    gateway_signature: bytes
    sigs: SchnorrSign

    def to_abi_tuple(self) -> tuple[bytes, int, list[int], list[int], bytes, SchnorrTuple]:
        return (
            self.req_id,
            self.timestamp,
            list(self.quote_ids),
            list(self.prices),
            self.gateway_signature,
            self.sigs.to_abi_tuple(),
        )


@dataclass(frozen=True, slots=True)
class LiquidationSig:
    """`(bytes reqId, uint256 timestamp, bytes liquidationId, int256 upnl, int256
    totalUnrealizedLoss, uint256[] symbolIds, uint256[] prices, bytes gatewaySignature,
    SchnorrSign sigs)`."""

    req_id: bytes
    timestamp: int
    liquidation_id: bytes
    upnl: int
    total_unrealized_loss: int
    symbol_ids: tuple[int, ...]
    prices: tuple[int, ...]
    gateway_signature: bytes
    sigs: SchnorrSign

    def to_abi_tuple(
        self,
    ) -> tuple[bytes, int, bytes, int, int, list[int], list[int], bytes, SchnorrTuple]:
        return (
            self.req_id,
            self.timestamp,
            self.liquidation_id,
            self.upnl,
            self.total_unrealized_loss,
            list(self.symbol_ids),
            list(self.prices),
            self.gateway_signature,
            self.sigs.to_abi_tuple(),
        )


MuonSig = (
    SingleUpnlSig
    | SingleUpnlAndPriceSig
    | PairUpnlSig
    | PairUpnlAndPriceSig
    | QuotePriceSig
    | LiquidationSig
)

# web3 / eth_abi type strings of each struct, for encoding calldata.
ABI_TYPES: dict[type, str] = {
    SingleUpnlSig: "(bytes,uint256,int256,bytes,(uint256,address,address))",
    SingleUpnlAndPriceSig: "(bytes,uint256,int256,uint256,bytes,(uint256,address,address))",
    PairUpnlSig: "(bytes,uint256,int256,int256,bytes,(uint256,address,address))",
    PairUpnlAndPriceSig: "(bytes,uint256,int256,int256,uint256,bytes,(uint256,address,address))",
    QuotePriceSig: "(bytes,uint256,uint256[],uint256[],bytes,(uint256,address,address))",
    LiquidationSig: (
        "(bytes,uint256,bytes,int256,int256,uint256[],uint256[],bytes,(uint256,address,address))"
    ),
}


@dataclass(frozen=True, slots=True)
class SettlementSig:
    """`(bytes reqId, uint256 timestamp, QuoteSettlementData[] quotesSettlementsData,
    int256[] upnlPartyBs, int256 upnlPartyA, bytes gatewaySignature, SchnorrSign sigs)`."""

    req_id: bytes
    timestamp: int
    rows: tuple[QuoteSettlementData, ...]
    upnl_party_bs: tuple[int, ...]
    upnl_party_a: int
    gateway_signature: bytes
    sigs: SchnorrSign

    def to_abi_tuple(
        self,
    ) -> tuple[bytes, int, list[tuple[int, int, int]], list[int], int, bytes, SchnorrTuple]:
        return (
            self.req_id,
            self.timestamp,
            [r.to_abi_tuple() for r in self.rows],
            list(self.upnl_party_bs),
            self.upnl_party_a,
            self.gateway_signature,
            self.sigs.to_abi_tuple(),
        )
