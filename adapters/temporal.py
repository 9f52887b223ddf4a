"""Temporal connection and set-up shared by every process (names live in `interfaces.temporal`).

`setup_temporal` is idempotent and is what both `hedger stack up` (local dev server) and
`hedger temporal setup` (a production cluster) run, so the Temporal UI can filter positions by
`HedgeStatus="STUCK"`, `QuoteId=42`, `Symbol="BTCUSDT"`, `PartyA="0x…"` in every environment.
"""

from __future__ import annotations

import asyncio
import functools
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import temporalio.converter._payload_converter as _payload_converter
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, TLSConfig

from config.settings import Settings

SEARCH_ATTRIBUTE_TYPES: dict[str, IndexedValueType.ValueType] = {
    "QuoteId": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Symbol": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "PartyA": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "PartyB": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "HedgeStatus": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}


@functools.lru_cache(maxsize=4096)
def _class_type_hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def cached_type_hints(
    obj: Any, globalns: Any = None, localns: Any = None, include_extras: bool = False
) -> dict[str, Any]:
    """`typing.get_type_hints`, cached for classes (their annotations do not change at run
    time; the dict returned is shared and only read)."""
    if globalns is None and localns is None and not include_extras and isinstance(obj, type):
        return _class_type_hints(obj)
    return typing.get_type_hints(obj, globalns, localns, include_extras)


def install_type_hint_cache() -> None:
    """Make the SDK's JSON converter resolve a dataclass's field types once per class, not on
    every conversion: with postponed annotations each resolution evaluates every field's
    string annotation again, about a fifth of the workflow worker's CPU per lifecycle
    (`bench/`). Idempotent; a no-op if the SDK no longer converts this way."""
    current: Callable[..., Any] | None = getattr(_payload_converter, "get_type_hints", None)
    if current is typing.get_type_hints:
        _payload_converter.get_type_hints = cached_type_hints  # type: ignore[attr-defined]


async def connect(settings: Settings) -> Client:
    install_type_hint_cache()
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=TLSConfig() if settings.temporal_tls else False,
        api_key=api_key,
    )


@dataclass(frozen=True)
class SetupResult:
    added: list[str]
    present: list[str]


async def ensure_search_attributes(client: Client, namespace: str) -> SetupResult:
    """Register the hedger's search attributes in `namespace` if they are missing."""
    listing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    existing = dict(listing.custom_attributes)
    for name, kind in SEARCH_ATTRIBUTE_TYPES.items():
        if name in existing and existing[name] != kind:
            raise RuntimeError(
                f"search attribute {name} exists in {namespace} with another type ({existing[name]})"
            )
    missing = {name: kind for name, kind in SEARCH_ATTRIBUTE_TYPES.items() if name not in existing}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return SetupResult(
        added=sorted(missing), present=sorted(set(SEARCH_ATTRIBUTE_TYPES) - set(missing))
    )


async def setup_temporal(settings: Settings, *, timeout_seconds: float = 60.0) -> SetupResult:
    """Wait for the frontend to answer, then make sure the search attributes exist."""
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    last_error: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            client = await connect(settings)
            return await ensure_search_attributes(client, settings.temporal_namespace)
        except (RPCError, RuntimeError, ConnectionError) as exc:
            if isinstance(exc, RuntimeError) and "another type" in str(exc):
                raise
            last_error = exc
            await asyncio.sleep(0.5)
    raise RuntimeError(
        f"temporal at {settings.temporal_address} not ready after {timeout_seconds:.0f}s: {last_error}"
    )
