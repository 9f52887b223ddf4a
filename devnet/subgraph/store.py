"""The local indexer's entity store: what graph-node keeps for the `events` module, in memory.

Entities are appended in chain order with a global ``counterId`` (1, 2, …). A reorg reverts
every entity of the replaced blocks *and the counter* (graph-node reverts the counter entity
too), so the next entities reuse those counterIds — exactly what a fetcher must survive.
Queries filter, order and page the way graph-node does for the operators the fetcher uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.subgraph_entities import entity_fields

MAX_FIRST = 1000


class QueryError(ValueError):
    pass


def _typed(gql: str, value: Any) -> Any:
    base = gql.strip("[]!")
    if value is None:
        return None
    if base in ("BigInt", "Int"):
        return int(value)
    if base == "Boolean":
        return bool(value)
    if base in ("Bytes",):
        return str(value).lower()
    return str(value)


@dataclass
class Head:
    number: int = -1
    hash: str | None = None
    timestamp: int | None = None


@dataclass
class EventStore:
    entities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_id: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    counter: int = 0
    head: Head = field(default_factory=Head)
    reverts: int = 0

    def add(self, name: str, entity: dict[str, Any]) -> None:
        self.entities.setdefault(name, []).append(entity)
        self.by_id[entity["id"]] = (name, entity)

    def next_counter(self) -> int:
        self.counter += 1
        return self.counter

    def revert_above(self, block: int) -> int:
        """Drop every entity of blocks > `block`; the counter goes back with them."""
        dropped = 0
        for name, rows in self.entities.items():
            kept = [e for e in rows if int(e["blockNumber"]) <= block]
            dropped += len(rows) - len(kept)
            self.entities[name] = kept
        self.by_id = {e["id"]: (name, e) for name, rows in self.entities.items() for e in rows}
        self.counter = max(
            (int(e["counterId"]) for rows in self.entities.values() for e in rows), default=0
        )
        self.reverts += 1
        return dropped

    # --- queries ---------------------------------------------------------------------------

    def collection(
        self,
        name: str,
        *,
        first: int = 100,
        skip: int = 0,
        order_by: str | None = None,
        order_direction: str | None = None,
        where: Mapping[str, Any] | None = None,
        block: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        if first < 0 or first > MAX_FIRST:
            raise QueryError(f"The `first` argument must be between 0 and {MAX_FIRST}")
        types = dict(entity_fields(name))
        rows = self._at_block(self.entities.get(name, []), block)
        for key, wanted in (where or {}).items():
            rows = [r for r in rows if _matches(types, r, key, wanted)]
        field_name = order_by or "id"
        rows = sorted(
            rows,
            key=lambda r: _typed(types[field_name], r.get(field_name)),
            reverse=order_direction == "desc",
        )
        return rows[skip : skip + first]

    def single(
        self, name: str, entity_id: str, block: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        found = self.by_id.get(str(entity_id).lower())
        if found is None or found[0] != name:
            return None
        return found[1] if self._at_block([found[1]], block) else None

    def _at_block(
        self, rows: list[dict[str, Any]], block: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Immutable entities: the store as of block N is every entity up to N."""
        if not block or block.get("number") is None:
            return rows
        number = int(block["number"])
        if number > self.head.number:
            raise QueryError(
                f"Failed to decode `block.number` value: subgraph has only indexed up to block "
                f"number {self.head.number}"
            )
        return [r for r in rows if int(r["blockNumber"]) <= number]


def _matches(types: Mapping[str, str], row: Mapping[str, Any], key: str, wanted: Any) -> bool:
    for op in ("_not_in", "_in", "_not", "_gte", "_lte", "_gt", "_lt", "_contains"):
        if key.endswith(op) and key[: -len(op)] in types:
            field_name = key[: -len(op)]
            break
    else:
        field_name, op = key, ""
    if field_name not in types:
        raise QueryError(f"Type does not have a field `{field_name}`")
    gql = types[field_name]
    value = row.get(field_name)
    if op == "_contains":
        have = {_typed(gql, v) for v in value or []}
        return all(_typed(gql, w) in have for w in wanted or [])
    have = _typed(gql, value)
    if op in ("_in", "_not_in"):
        inside = have in {_typed(gql, w) for w in wanted or []}
        return inside if op == "_in" else not inside
    want = _typed(gql, wanted)
    if op == "":
        return bool(have == want)
    if op == "_not":
        return bool(have != want)
    if have is None or want is None:
        return False
    if op == "_gt":
        return bool(have > want)
    if op == "_lt":
        return bool(have < want)
    if op == "_gte":
        return bool(have >= want)
    return bool(have <= want)
