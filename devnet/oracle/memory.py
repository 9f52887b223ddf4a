"""An in-memory `ChainReader`: run the oracle without a node (unit tests, quick demos).

Set `block`, `nonces_a`, `nonces_b`, `positions`, `symbols` and `quote_symbols` directly.
`positions` may hold quotes of any status: the open-position reads keep the open ones (as the
web3 reader does), `quotes` returns them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from devnet.oracle.chain import OPEN_STATUSES, BlockInfo, OpenPosition


@dataclass
class InMemoryChain:
    chain: int = 31337
    block: BlockInfo = field(default_factory=lambda: BlockInfo(1, 1_700_000_000))
    nonces_a: dict[str, int] = field(default_factory=dict)
    nonces_b: dict[tuple[str, str], int] = field(default_factory=dict)  # (partyB, partyA)
    positions: list[OpenPosition] = field(default_factory=list)
    symbols: dict[int, str] = field(default_factory=lambda: {1: "BTCUSDT", 2: "ETHUSDT"})
    quote_symbols: dict[int, int] = field(default_factory=dict)
    reads: list[tuple[str, int]] = field(default_factory=list)  # (what, block) of every read

    def chain_id(self) -> int:
        return self.chain

    def latest_block(self) -> BlockInfo:
        return self.block

    def nonce_of_party_a(self, party_a: str, block: int) -> int:
        self.reads.append(("nonceA", block))
        return self.nonces_a.get(party_a, 0)

    def nonce_of_party_b(self, party_b: str, party_a: str, block: int) -> int:
        self.reads.append(("nonceB", block))
        return self.nonces_b.get((party_b, party_a), 0)

    def party_a_open_positions(self, party_a: str, block: int) -> list[OpenPosition]:
        self.reads.append(("positionsA", block))
        return [p for p in self.positions if p.party_a == party_a and p.status in OPEN_STATUSES]

    def party_b_open_positions(self, party_b: str, party_a: str, block: int) -> list[OpenPosition]:
        self.reads.append(("positionsB", block))
        return [
            p
            for p in self.positions
            if p.party_a == party_a and p.party_b == party_b and p.status in OPEN_STATUSES
        ]

    def quote_symbol_ids(self, quote_ids: Sequence[int], block: int) -> list[int]:
        known = {p.quote_id: p.symbol_id for p in self.positions} | self.quote_symbols
        missing = [q for q in quote_ids if q not in known]
        if missing:
            raise LookupError(f"quote {missing[0]} does not exist")
        return [known[q] for q in quote_ids]

    def quotes(self, quote_ids: Sequence[int], block: int) -> list[OpenPosition]:
        self.reads.append(("quotes", block))
        known = {p.quote_id: p for p in self.positions}
        missing = [q for q in quote_ids if q not in known]
        if missing:
            raise LookupError(f"quote {missing[0]} does not exist")
        return [known[q] for q in quote_ids]

    def symbol_name(self, symbol_id: int, block: int) -> str:
        if symbol_id not in self.symbols:
            raise LookupError(f"symbol {symbol_id} does not exist")
        return self.symbols[symbol_id]
