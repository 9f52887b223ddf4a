"""The JSON converter's type-hint cache (`adapters.temporal.install_type_hint_cache`, #16):
conversions are unchanged, and a dataclass's field types are resolved once per class."""

from __future__ import annotations

import temporalio.converter._payload_converter as payload_converter
from temporalio.converter import DataConverter

from adapters.temporal import _class_type_hints, cached_type_hints, install_type_hint_cache
from interfaces.chain import LockRequest, QuoteRef, UpnlSigWire


def _request() -> LockRequest:
    sig = UpnlSigWire("0x01", 7, "-3", "0x02", "123", "0xowner", "0xnonce")
    return LockRequest(42, "100", "0xa", sig)


async def test_conversions_are_unchanged_and_each_class_is_resolved_once() -> None:
    install_type_hint_cache()
    install_type_hint_cache()  # idempotent
    assert payload_converter.get_type_hints is cached_type_hints
    converter = DataConverter.default.payload_converter
    facts = _request()
    [payload] = converter.to_payloads([facts])
    assert converter.from_payloads([payload], [LockRequest]) == [facts]
    misses = _class_type_hints.cache_info().misses
    for _ in range(3):
        assert converter.from_payloads([payload], [LockRequest]) == [facts]
    assert _class_type_hints.cache_info().misses == misses  # nothing resolved again
    assert cached_type_hints(QuoteRef) == {"quote_id": int}


def test_what_is_not_a_class_is_resolved_as_before() -> None:
    def f(x: int) -> str:
        return str(x)

    assert cached_type_hints(f) == {"x": int, "return": str}
