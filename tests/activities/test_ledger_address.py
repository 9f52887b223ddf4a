"""The ledger's address check matches the whole string (`$` alone accepts a trailing newline)."""

from __future__ import annotations

from ledger.queries import is_address

ADDRESS = "0x" + "ab" * 20


def test_an_address_with_a_trailing_newline_is_not_an_address() -> None:
    assert is_address(ADDRESS)
    assert not is_address(ADDRESS + "\n")
    assert not is_address(ADDRESS[:-1])
