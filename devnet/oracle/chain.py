"""What the oracle reads from the chain: the latest block, nonces, open positions, symbol names.

`ChainReader` is the interface; `Web3ChainReader` reads a SYMMIO-compatible diamond over HTTP
RPC. All reads of one request are pinned to one block so nonces and positions are consistent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from web3 import Web3

from devnet.contracts.compile import HEDGER_ABI
from domain.enums import PositionType, QuoteStatus

ABI_PATH = HEDGER_ABI  # the generated diamond ABI (one constant, in devnet.contracts.compile)
OPEN_STATUSES = frozenset(
    {QuoteStatus.OPENED, QuoteStatus.CLOSE_PENDING, QuoteStatus.CANCEL_CLOSE_PENDING}
)
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class BlockInfo:
    number: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """The part of a SYMMIO `Quote` the uPnL needs (18-decimal integers)."""

    quote_id: int
    symbol_id: int
    position_type: PositionType
    opened_price: int
    quantity: int
    closed_amount: int
    party_a: str
    party_b: str
    status: QuoteStatus = QuoteStatus.OPENED

    @property
    def open_quantity(self) -> int:
        return self.quantity - self.closed_amount


class ChainReader(Protocol):
    def chain_id(self) -> int: ...

    def latest_block(self) -> BlockInfo: ...

    def nonce_of_party_a(self, party_a: str, block: int) -> int: ...

    def nonce_of_party_b(self, party_b: str, party_a: str, block: int) -> int: ...

    def party_a_open_positions(self, party_a: str, block: int) -> list[OpenPosition]: ...

    def party_b_open_positions(
        self, party_b: str, party_a: str, block: int
    ) -> list[OpenPosition]: ...

    def quote_symbol_ids(self, quote_ids: Sequence[int], block: int) -> list[int]: ...

    def quotes(self, quote_ids: Sequence[int], block: int) -> list[OpenPosition]:
        """The quotes (any status; `status` tells), LookupError for an unknown id."""
        ...

    def symbol_name(self, symbol_id: int, block: int) -> str: ...


# --------------------------------------------------------------------------------------------
# Minimal ABI of the SYMMIO 0.8.4 views used here (same signatures as protocol-core's ViewFacet).

_LOCKED = [{"name": n, "type": "uint256"} for n in ("cva", "lf", "partyAmm", "partyBmm")]
_QUOTE_COMPONENTS: list[dict[str, Any]] = [
    {"name": "id", "type": "uint256"},
    {"name": "partyBsWhiteList", "type": "address[]"},
    {"name": "symbolId", "type": "uint256"},
    {"name": "positionType", "type": "uint8"},
    {"name": "orderType", "type": "uint8"},
    {"name": "openedPrice", "type": "uint256"},
    {"name": "initialOpenedPrice", "type": "uint256"},
    {"name": "requestedOpenPrice", "type": "uint256"},
    {"name": "marketPrice", "type": "uint256"},
    {"name": "quantity", "type": "uint256"},
    {"name": "closedAmount", "type": "uint256"},
    {"name": "initialLockedValues", "type": "tuple", "components": _LOCKED},
    {"name": "lockedValues", "type": "tuple", "components": _LOCKED},
    {"name": "maxFundingRate", "type": "uint256"},
    {"name": "partyA", "type": "address"},
    {"name": "partyB", "type": "address"},
    {"name": "quoteStatus", "type": "uint8"},
    {"name": "avgClosedPrice", "type": "uint256"},
    {"name": "requestedClosePrice", "type": "uint256"},
    {"name": "quantityToClose", "type": "uint256"},
    {"name": "parentId", "type": "uint256"},
    {"name": "createTimestamp", "type": "uint256"},
    {"name": "statusModifyTimestamp", "type": "uint256"},
    {"name": "lastFundingPaymentTimestamp", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
    {"name": "tradingFee", "type": "uint256"},
    {"name": "affiliate", "type": "address"},
]
_SYMBOL_COMPONENTS: list[dict[str, Any]] = [
    {"name": "symbolId", "type": "uint256"},
    {"name": "name", "type": "string"},
    {"name": "isValid", "type": "bool"},
    {"name": "minAcceptableQuoteValue", "type": "uint256"},
    {"name": "minAcceptablePortionLF", "type": "uint256"},
    {"name": "tradingFee", "type": "uint256"},
    {"name": "maxLeverage", "type": "uint256"},
    {"name": "fundingRateEpochDuration", "type": "uint256"},
    {"name": "fundingRateWindowTime", "type": "uint256"},
]


def _view(
    name: str, inputs: list[tuple[str, str]], outputs: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "stateMutability": "view",
        "inputs": [{"name": n, "type": t} for t, n in inputs],
        "outputs": outputs,
    }


MINIMAL_VIEW_ABI: list[dict[str, Any]] = [
    _view("nonceOfPartyA", [("address", "partyA")], [{"name": "", "type": "uint256"}]),
    _view(
        "nonceOfPartyB",
        [("address", "partyB"), ("address", "partyA")],
        [{"name": "", "type": "uint256"}],
    ),
    _view(
        "getPartyAOpenPositions",
        [("address", "partyA"), ("uint256", "start"), ("uint256", "size")],
        [{"name": "", "type": "tuple[]", "components": _QUOTE_COMPONENTS}],
    ),
    _view(
        "getPartyBOpenPositions",
        [("address", "partyB"), ("address", "partyA"), ("uint256", "start"), ("uint256", "size")],
        [{"name": "", "type": "tuple[]", "components": _QUOTE_COMPONENTS}],
    ),
    _view(
        "getQuote",
        [("uint256", "quoteId")],
        [{"name": "", "type": "tuple", "components": _QUOTE_COMPONENTS}],
    ),
    _view(
        "getSymbol",
        [("uint256", "symbolId")],
        [{"name": "", "type": "tuple", "components": _SYMBOL_COMPONENTS}],
    ),
]
_NEEDED = {entry["name"] for entry in MINIMAL_VIEW_ABI}


def load_view_abi(path: Path = ABI_PATH) -> list[dict[str, Any]]:
    """The project's generated diamond ABI for the views we use, or our minimal one if absent."""
    if path.exists():
        full = json.loads(path.read_text())
        entries = full["abi"] if isinstance(full, dict) else full
        found = {
            e["name"]: e
            for e in entries
            if e.get("type") == "function" and e.get("name") in _NEEDED
        }
        # fill gaps (e.g. a view the local contract does not have yet) from the minimal ABI
        return [found.get(e["name"], e) for e in MINIMAL_VIEW_ABI]
    return MINIMAL_VIEW_ABI


def _component_names(abi: list[dict[str, Any]], fn: str) -> list[str]:
    (entry,) = [e for e in abi if e["name"] == fn]
    return [c["name"] for c in entry["outputs"][0]["components"]]


class Web3ChainReader:
    """`ChainReader` over web3 HTTP RPC against the diamond at `symmio`."""

    def __init__(self, rpc_url: str, symmio: str, *, timeout: float = 10.0) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self.symmio = Web3.to_checksum_address(symmio)
        abi = load_view_abi()
        self.contract = self.w3.eth.contract(address=self.symmio, abi=abi)
        self._quote_fields = _component_names(abi, "getQuote")
        self._symbol_fields = _component_names(abi, "getSymbol")
        self._chain_id: int | None = None
        self._symbol_names: dict[int, str] = {}

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def latest_block(self) -> BlockInfo:
        block = self.w3.eth.get_block("latest")
        return BlockInfo(int(block["number"]), int(block["timestamp"]))

    def nonce_of_party_a(self, party_a: str, block: int) -> int:
        fn = self.contract.functions.nonceOfPartyA(Web3.to_checksum_address(party_a))
        return int(fn.call(block_identifier=block))

    def nonce_of_party_b(self, party_b: str, party_a: str, block: int) -> int:
        fn = self.contract.functions.nonceOfPartyB(
            Web3.to_checksum_address(party_b), Web3.to_checksum_address(party_a)
        )
        return int(fn.call(block_identifier=block))

    def _quote(self, raw: Sequence[Any]) -> dict[str, Any]:
        return dict(zip(self._quote_fields, raw, strict=True))

    def _position(self, raw: Sequence[Any]) -> OpenPosition:
        q = self._quote(raw)
        return OpenPosition(
            quote_id=int(q["id"]),
            symbol_id=int(q["symbolId"]),
            position_type=PositionType(int(q["positionType"])),
            opened_price=int(q["openedPrice"]),
            quantity=int(q["quantity"]),
            closed_amount=int(q["closedAmount"]),
            party_a=str(q["partyA"]),
            party_b=str(q["partyB"]),
            status=QuoteStatus(int(q["quoteStatus"])),
        )

    def _paged(self, fn_name: str, args: list[Any], block: int) -> list[OpenPosition]:
        out: list[OpenPosition] = []
        start = 0
        while True:
            fn = getattr(self.contract.functions, fn_name)(*args, start, PAGE_SIZE)
            page = fn.call(block_identifier=block)
            out.extend(self._position(raw) for raw in page)
            if len(page) < PAGE_SIZE:
                break
            start += PAGE_SIZE
        return [p for p in out if p.status in OPEN_STATUSES]

    def party_a_open_positions(self, party_a: str, block: int) -> list[OpenPosition]:
        return self._paged("getPartyAOpenPositions", [Web3.to_checksum_address(party_a)], block)

    def party_b_open_positions(self, party_b: str, party_a: str, block: int) -> list[OpenPosition]:
        args = [Web3.to_checksum_address(party_b), Web3.to_checksum_address(party_a)]
        return self._paged("getPartyBOpenPositions", args, block)

    def quote_symbol_ids(self, quote_ids: Sequence[int], block: int) -> list[int]:
        return [q.symbol_id for q in self.quotes(quote_ids, block)]

    def quotes(self, quote_ids: Sequence[int], block: int) -> list[OpenPosition]:
        out = []
        for quote_id in quote_ids:
            raw = self.contract.functions.getQuote(quote_id).call(block_identifier=block)
            if int(self._quote(raw)["id"]) != quote_id:
                raise LookupError(f"quote {quote_id} does not exist")
            out.append(self._position(raw))
        return out

    def symbol_name(self, symbol_id: int, block: int) -> str:
        if symbol_id not in self._symbol_names:
            raw = self.contract.functions.getSymbol(symbol_id).call(block_identifier=block)
            symbol = dict(zip(self._symbol_fields, raw, strict=True))
            if not symbol["name"]:
                raise LookupError(f"symbol {symbol_id} does not exist")
            self._symbol_names[symbol_id] = str(symbol["name"])
        return self._symbol_names[symbol_id]
