"""GraphQL over HTTP for the local indexer (graph-node's query endpoint, on 127.0.0.1).

``POST <path>`` with ``{"query", "variables", "operationName"}`` (or ``GET <path>?query=…``)
answers ``{"data": …, "errors": […]}`` with status 200, as graph-node does. Admin endpoints
for tests: ``POST /admin/pause`` / ``/admin/resume`` (stop / restart indexing: a lagging
subgraph), ``GET /admin/state`` (head, counter, entity counts).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import uvicorn
from graphql import graphql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain.subgraph_entities import collection_field

from .indexer import Indexer
from .schema import entity_names, schema
from .store import EventStore

log = logging.getLogger("devnet.subgraph")

DEFAULT_PATH = "/subgraphs/name/symmio-events"
DEPLOYMENT = "QmDevnetSymmioEvents"


def root_value(store: EventStore) -> dict[str, Callable[..., Any]]:
    def meta(_info: Any, block: dict[str, Any] | None = None) -> dict[str, Any]:
        head = store.head
        return {
            "block": {
                "number": max(head.number, 0),
                "hash": head.hash,
                "timestamp": head.timestamp,
            },
            "deployment": DEPLOYMENT,
            "hasIndexingErrors": False,
        }

    root: dict[str, Callable[..., Any]] = {"_meta": meta}
    for name in entity_names():

        def many(_info: Any, name: str = name, **args: Any) -> list[dict[str, Any]]:
            return store.collection(
                name,
                first=int(args.get("first", 100)),
                skip=int(args.get("skip", 0)),
                order_by=args.get("orderBy"),
                order_direction=args.get("orderDirection"),
                where=args.get("where"),
                block=args.get("block"),
            )

        def one(_info: Any, name: str = name, **args: Any) -> dict[str, Any] | None:
            return store.single(name, str(args["id"]), args.get("block"))

        root[collection_field(name)] = many
        root[name[0].lower() + name[1:]] = one
    return root


async def execute(store: EventStore, body: dict[str, Any]) -> dict[str, Any]:
    query = body.get("query")
    if not isinstance(query, str):
        return {"errors": [{"message": "no query"}]}
    result = await graphql(
        schema(),
        query,
        root_value=root_value(store),
        variable_values=body.get("variables") or None,
        operation_name=body.get("operationName"),
    )
    out: dict[str, Any] = {"data": result.data}
    if result.errors:
        out["errors"] = [{"message": e.message} for e in result.errors]
    return out


def make_app(indexer: Indexer, path: str = DEFAULT_PATH) -> Starlette:
    store = indexer.store

    async def query(request: Request) -> JSONResponse:
        if request.method == "GET":
            body: dict[str, Any] = {"query": request.query_params.get("query")}
            variables = request.query_params.get("variables")
            if variables:
                body["variables"] = json.loads(variables)
        else:
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"errors": [{"message": "body is not JSON"}]}, status_code=400)
        return JSONResponse(await execute(store, body))

    async def pause(_request: Request) -> JSONResponse:
        indexer.paused = True
        return JSONResponse({"paused": True})

    async def resume(_request: Request) -> JSONResponse:
        indexer.paused = False
        return JSONResponse({"paused": False})

    async def state(_request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "head": store.head.number,
                "hash": store.head.hash,
                "counter": store.counter,
                "paused": indexer.paused,
                "reverts": store.reverts,
                "entities": {k: len(v) for k, v in store.entities.items() if v},
            }
        )

    return Starlette(
        routes=[
            Route(path, query, methods=["GET", "POST"]),
            Route("/admin/pause", pause, methods=["POST"]),
            Route("/admin/resume", resume, methods=["POST"]),
            Route("/admin/state", state, methods=["GET"]),
        ]
    )


async def serve(indexer: Indexer, *, host: str, port: int, path: str = DEFAULT_PATH) -> None:
    """Index and serve until SIGTERM / SIGINT."""
    stop = asyncio.Event()
    config = uvicorn.Config(
        make_app(indexer, path), host=host, port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(indexer.run(stop))
    log.info("subgraph: serving http://%s:%s%s for %s", host, port, path, indexer.config.address)
    try:
        await server.serve()  # returns on SIGTERM / SIGINT
    finally:
        stop.set()
        await task
        await indexer.close()
