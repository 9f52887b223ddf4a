"""The validator's chain reads: our open quotes of every PartyA, paged, several PartyAs at once.

The chain is a stand-in that answers `getPartyBOpenPositions` as SYMMIO's ViewFacet does (a
start past the end reverts), so the page boundaries (0, 99, 100, 101, 250 positions) and a
failing read are exercised without opening hundreds of positions on anvil; the e2e validator
tests read the real contract.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from activities.validator import PAGE_SIZE, PARTY_A_READS, ValidatorActivities
from adapters.chain.client import ChainClient
from adapters.chain.errors import RpcUnavailable
from tests.domain.test_domain_quote import struct_tuple

PARTY_B = "0x" + "b" * 40
COUNTS = [0, 99, 100, 101, 250, 1, 3, 7, 40, 12]  # open positions per PartyA
PARTY_AS = [f"0x{n + 1:040x}" for n in range(len(COUNTS))]


class Symbol:
    name = "BTCUSDT"


class Chain:
    """`getPartyBOpenPositions` over `COUNTS` quotes per PartyA; counts the reads in flight.
    Its paging is `ChainClient`'s own."""

    party_b_open_positions = ChainClient.party_b_open_positions

    def __init__(self, fail_for: str | None = None) -> None:
        self.fail_for = fail_for
        self.calls: list[tuple[str, int]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.cancelled = 0

    async def get_symbol(self, symbol_id: int) -> Symbol:
        return Symbol()

    async def view(self, name: str, party_b: str, party_a: str, start: int, size: int) -> list[Any]:
        assert name == "getPartyBOpenPositions"
        index = [a.lower() for a in PARTY_AS].index(party_a.lower())
        self.calls.append((party_a.lower(), start))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            if party_a.lower() == self.fail_for:
                raise RpcUnavailable("every endpoint failed")
            count = COUNTS[index]
            if start > count:
                raise AssertionError("execution reverted (start past the end)")
            ids = range(start, min(start + size, count))
            return [struct_tuple(id=index * 1000 + i, symbol_id=1, status=4) for i in ids]
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1


def reads(chain: Chain) -> ValidatorActivities:
    activities = ValidatorActivities(None, None, 31337, lambda: chain, lambda: None)  # type: ignore[arg-type, return-value]
    activities._markets["BTCUSDT"] = "BTC/USDT:USDT"  # what the broker's market list would say
    return activities


async def test_every_open_quote_of_every_party_a_is_read_once() -> None:
    chain = Chain()
    rows = await reads(chain)._chain_positions(PARTY_B, PARTY_AS)
    expected = sorted(index * 1000 + i for index, n in enumerate(COUNTS) for i in range(n))
    assert [r.quote_id for r in rows] == expected
    assert {r.symbol for r in rows} == {"BTC/USDT:USDT"}
    # one call per page, and one more only after a full page (no count call)
    pages = {a.lower(): 1 + n // PAGE_SIZE for a, n in zip(PARTY_AS, COUNTS, strict=True)}
    assert sorted(chain.calls) == sorted(
        (a, p * PAGE_SIZE) for a, n in pages.items() for p in range(n)
    )
    assert 1 < chain.most_in_flight <= PARTY_A_READS


async def test_a_failed_read_fails_the_snapshot_and_stops_the_other_reads() -> None:
    chain = Chain(fail_for=PARTY_AS[0].lower())
    with pytest.raises(RpcUnavailable):
        await reads(chain)._chain_positions(PARTY_B, PARTY_AS)
    assert chain.in_flight == 0
    assert chain.cancelled > 0
