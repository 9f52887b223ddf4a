"""The GraphQL schema the local indexer serves: SYMMIO's subgraph `events` module, as graph-node
exposes it (the entity types of `domain.subgraph_entities`, their collections with ``first``,
``skip``, ``orderBy``, ``orderDirection``, ``where`` filters and ``block`` time travel, and
``_meta``). Built from the event table, so it is the real module's entity set (minus
``SettleUpnl``, whose nested settlement entity the local indexer does not keep).
"""

from __future__ import annotations

from functools import lru_cache

from graphql import GraphQLSchema, build_schema

from domain.subgraph_entities import ENTITY_SPECS, collection_field, entity_fields

COMPARISONS = ("", "_not", "_gt", "_lt", "_gte", "_lte")


def entity_names() -> list[str]:
    return sorted(
        name
        for name, spec in ENTITY_SPECS.items()
        if not any(p.abi_type.startswith("(") for p in spec.params)
    )


def _filter(name: str) -> str:
    lines = [f"input {name}_filter {{"]
    for field, gql in entity_fields(name):
        if gql.startswith("["):
            inner = gql[1:-1]
            lines.append(f"  {field}_contains: [{inner}]")
            continue
        base = gql.rstrip("!")
        for op in COMPARISONS:
            lines.append(f"  {field}{op}: {base}")
        lines.append(f"  {field}_in: [{base}!]")
        lines.append(f"  {field}_not_in: [{base}!]")
    lines.append("}")
    return "\n".join(lines)


def sdl() -> str:
    parts = [
        "scalar BigInt",
        "scalar Bytes",
        "enum OrderDirection { asc desc }",
        "input Block_height { number: Int hash: Bytes }",
        "type _Block_ { number: Int! hash: Bytes timestamp: Int }",
        "type _Meta_ { block: _Block_! deployment: String! hasIndexingErrors: Boolean! }",
    ]
    query = ["type Query {", "  _meta(block: Block_height): _Meta_"]
    for name in entity_names():
        fields = entity_fields(name)
        parts.append(f"type {name} {{\n" + "\n".join(f"  {f}: {t}" for f, t in fields) + "\n}")
        parts.append(f"enum {name}_orderBy {{ {' '.join(f for f, _ in fields)} }}")
        parts.append(_filter(name))
        single = name[0].lower() + name[1:]
        query.append(f"  {single}(id: ID!, block: Block_height): {name}")
        query.append(
            f"  {collection_field(name)}(skip: Int = 0, first: Int = 100, "
            f"orderBy: {name}_orderBy, orderDirection: OrderDirection, "
            f"where: {name}_filter, block: Block_height): [{name}!]!"
        )
    query.append("}")
    return "\n\n".join([*parts, "\n".join(query)])


@lru_cache(maxsize=1)
def schema() -> GraphQLSchema:
    return build_schema(sdl())
