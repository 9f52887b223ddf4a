"""SYMMIO's subgraph `events` module as data, and the exact way back from an entity to its log.

Facts (SYMM-IO/subgraphs ``events/schema.graphql``; SYMMIO.md §7): one ``@entity(immutable:
true)`` per contract event, named like the event; ``id`` is ``"<txHash>-<logIndex>"``; the
fields are the event's parameters under their Solidity names, plus ``counterId`` (a global
counter over every stored event, so it orders events of all types), ``blockNumber``,
``blockTimestamp``, ``transactionHash``, ``transactionLogIndex``, ``logIndex`` and
``blockHash``. Scalars: integers are ``BigInt`` (decimal strings) except ``uint8`` (enums,
``parity``), which are ``Int``; ``address`` and ``bytes`` are ``Bytes`` (``0x`` hex); ``bool``
is ``Boolean``; arrays are lists. An event that SYMMIO emits twice (the current form and a
legacy overload, SYMMIO.md §2.3) has one entity, with the fields of the current form.

`log_from_entity` ABI-encodes an entity back into the raw log the contract emitted (topic0 of
the entity's form, the parameters as ``data``, indexed ones as topics): ABI encoding is
canonical, so the log is byte-for-byte the one on chain, and the subgraph fetcher needs no
RPC call to hand the delivery path what every listener hands it. `entity_from_log` is the
inverse (the local indexer stores what a subgraph would). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode

from domain.events import EVENTS_BY_TOPIC0, EventSpec, Param

META_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "ID!"),
    ("counterId", "BigInt!"),
    ("blockNumber", "BigInt!"),
    ("blockTimestamp", "BigInt!"),
    ("transactionHash", "Bytes!"),
    ("transactionLogIndex", "BigInt!"),
    ("logIndex", "BigInt!"),
    ("blockHash", "Bytes!"),
)


class EntityError(ValueError):
    """An entity that cannot be turned back into its log (missing or malformed field)."""


def _specs_by_entity() -> dict[str, EventSpec]:
    """Entity name → the event form it stores (the current form when there are two)."""
    out: dict[str, EventSpec] = {}
    for spec in EVENTS_BY_TOPIC0.values():
        if spec.name not in out or (out[spec.name].legacy and not spec.legacy):
            out[spec.name] = spec
    return out


ENTITY_SPECS: dict[str, EventSpec] = _specs_by_entity()


def entity_spec(name: str) -> EventSpec:
    try:
        return ENTITY_SPECS[name]
    except KeyError:
        raise EntityError(f"no subgraph entity {name!r}") from None


def stored_form(topic0: str) -> bool:
    """Whether a log with this topic0 gets an entity (False for a legacy twin)."""
    spec = EVENTS_BY_TOPIC0.get(topic0.lower())
    return spec is not None and ENTITY_SPECS.get(spec.name) is spec


def collection_field(name: str) -> str:
    """graph-node's query field of an entity's collection: ``SendQuote`` → ``sendQuotes``."""
    return name[0].lower() + name[1:] + "s"


def graphql_type(abi_type: str) -> str:
    if abi_type.endswith("[]"):
        return f"[{graphql_type(abi_type[:-2])[:-1]}!]"
    if abi_type == "uint8":
        return "Int!"
    if re.fullmatch(r"u?int\d*", abi_type):
        return "BigInt!"
    if abi_type in ("address", "bytes") or re.fullmatch(r"bytes\d+", abi_type):
        return "Bytes!"
    if abi_type == "bool":
        return "Boolean!"
    if abi_type == "string":
        return "String!"
    if abi_type.startswith("("):
        return "QuoteSettlementData!"
    raise EntityError(f"no GraphQL type for {abi_type}")


def entity_fields(name: str) -> list[tuple[str, str]]:
    """(field, GraphQL type) of an entity: its parameters, then the fields every entity has."""
    spec = entity_spec(name)
    params = [(p.name, graphql_type(p.abi_type)) for p in spec.params]
    return [META_FIELDS[0], META_FIELDS[1], *params, *META_FIELDS[2:]]


# --- entity → log ----------------------------------------------------------------------------


def _bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise EntityError(f"{what}: expected 0x-hex Bytes, got {value!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise EntityError(f"{what}: not hex: {value!r}") from None


def _abi_value(param: Param, abi_type: str, value: Any) -> Any:
    what = param.name
    if abi_type.endswith("[]"):
        if value is None:
            return []
        if not isinstance(value, list):
            raise EntityError(f"{what}: expected a list, got {value!r}")
        return [_abi_value(param, abi_type[:-2], v) for v in value]
    if value is None:
        raise EntityError(f"{what}: missing")
    if abi_type == "bool":
        if not isinstance(value, bool):
            raise EntityError(f"{what}: expected a Boolean, got {value!r}")
        return value
    if re.fullmatch(r"u?int\d*", abi_type):
        if isinstance(value, bool):
            raise EntityError(f"{what}: expected an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise EntityError(f"{what}: expected an integer, got {value!r}") from None
    if abi_type == "address":
        raw = _bytes(value, what)
        if len(raw) != 20:
            raise EntityError(f"{what}: an address has 20 bytes, got {len(raw)}")
        return raw
    if abi_type == "bytes" or re.fullmatch(r"bytes\d+", abi_type):
        return _bytes(value, what)
    if abi_type == "string":
        return str(value)
    raise EntityError(f"{what}: {abi_type} cannot be rebuilt from an entity")


def _int_field(entity: Mapping[str, Any], name: str) -> int:
    try:
        return int(entity[name])
    except (KeyError, TypeError, ValueError):
        raise EntityError(f"entity field {name} missing or not an integer") from None


def log_from_entity(name: str, entity: Mapping[str, Any], address: str) -> dict[str, Any]:
    """The raw log (JSON-RPC shape) the contract emitted for this entity."""
    spec = entity_spec(name)
    values = {p.name: _abi_value(p, p.abi_type, entity.get(p.name)) for p in spec.params}
    try:
        data = abi_encode(list(spec.data_types), [values[p.name] for p in spec.data])
        topics = [spec.topic0] + [
            "0x" + abi_encode([p.abi_type], [values[p.name]]).hex() for p in spec.indexed
        ]
    except Exception as exc:  # eth_abi: value out of range for its type, …
        raise EntityError(f"{name} {entity.get('id')}: cannot encode ({exc})") from exc
    tx_hash = str(entity.get("transactionHash", "")).lower()
    block_hash = entity.get("blockHash")
    if len(_bytes(tx_hash, "transactionHash")) != 32:
        raise EntityError("transactionHash must be 32 bytes")
    return {
        "address": address,
        "topics": topics,
        "data": "0x" + data.hex(),
        "blockNumber": _int_field(entity, "blockNumber"),
        "blockHash": str(block_hash).lower() if block_hash else None,
        "blockTimestamp": _int_field(entity, "blockTimestamp"),
        "transactionHash": tx_hash,
        "logIndex": _int_field(entity, "logIndex"),
        "removed": False,
    }


# --- log → entity ----------------------------------------------------------------------------


def _entity_value(abi_type: str, value: Any) -> Any:
    if abi_type.endswith("[]"):
        return [_entity_value(abi_type[:-2], v) for v in value]
    if abi_type == "uint8":
        return int(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if abi_type == "address":
        return str(value).lower()
    if isinstance(value, tuple):
        return [_entity_value("uint256", v) for v in value]
    return value


def entity_from_log(
    raw: Mapping[str, Any], counter_id: int, block_timestamp: int
) -> tuple[str, dict[str, Any]] | None:
    """(entity name, entity) for a raw log, or None when the log gets no entity (unknown
    topic0, a legacy twin). Raises `EntityError` for a log that does not decode."""
    topics = [str(t).lower() for t in raw.get("topics") or []]
    if not topics or not stored_form(topics[0]):
        return None
    spec = EVENTS_BY_TOPIC0[topics[0]]
    data = bytes.fromhex(str(raw.get("data", "0x"))[2:])
    try:
        data_values = abi_decode(list(spec.data_types), data) if spec.data else ()
        indexed_values = [
            abi_decode([p.abi_type], bytes.fromhex(t[2:]))[0]
            for p, t in zip(spec.indexed, topics[1:], strict=True)
        ]
    except Exception as exc:  # truncated data, wrong topic count
        raise EntityError(f"{spec.signature}: cannot decode ({exc})") from exc
    values: dict[str, Any] = {}
    for p, v in zip(spec.indexed, indexed_values, strict=True):
        values[p.name] = _entity_value(p.abi_type, v)
    for p, v in zip(spec.data, data_values, strict=True):
        values[p.name] = _entity_value(p.abi_type, v)
    tx_hash = str(raw["transactionHash"]).lower()
    log_index = _hexint(raw["logIndex"])
    entity = {
        "id": f"{tx_hash}-{log_index}",
        "counterId": str(counter_id),
        **{p.name: values[p.name] for p in spec.params},
        "blockNumber": str(_hexint(raw["blockNumber"])),
        "blockTimestamp": str(block_timestamp),
        "transactionHash": tx_hash,
        "transactionLogIndex": str(_hexint(raw.get("transactionLogIndex", log_index))),
        "logIndex": str(log_index),
        "blockHash": str(raw.get("blockHash", "")).lower(),
    }
    return spec.name, entity


def _hexint(value: Any) -> int:
    if isinstance(value, str):
        return int(value, 16) if value[:2].lower() == "0x" else int(value)
    return int(value)


def entity_selection(name: str) -> Sequence[str]:
    """The fields a fetcher asks for (every scalar field of the entity)."""
    return [f for f, t in entity_fields(name) if "QuoteSettlementData" not in t]
