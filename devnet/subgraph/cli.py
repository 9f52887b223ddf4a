"""`hedger devnet subgraph`: index the diamond's logs from the local chain and serve SYMMIO's
`events` subgraph schema over GraphQL (what `hedger listener subgraph` polls).

Defaults come from the usual settings: the first of HEDGER_RPC_HTTP_URLS, HEDGER_SYMMIO_ADDRESS,
HEDGER_LISTENER_START_BLOCK, and the host, port and path of HEDGER_SUBGRAPH_URL (default
http://127.0.0.1:8548/subgraphs/name/symmio-events), so the indexer serves where the listener
looks.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Annotated
from urllib.parse import urlsplit

import typer

DEFAULT_URL = "http://127.0.0.1:8548/subgraphs/name/symmio-events"


def subgraph_command(
    rpc_url: Annotated[str | None, typer.Option(help="HTTP JSON-RPC URL of the chain.")] = None,
    address: Annotated[str | None, typer.Option(help="The diamond whose logs are indexed.")] = None,
    start_block: Annotated[
        int | None, typer.Option(help="First block indexed (default: the deployment block).")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Where to serve (host, port and path are taken from it).")
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between indexing rounds.")] = 0.5,
) -> None:
    """Run the local SYMMIO events subgraph (indexer + GraphQL endpoint on 127.0.0.1)."""
    from config.settings import ConfigError, load_settings
    from devnet.subgraph.indexer import Indexer, IndexerConfig
    from devnet.subgraph.server import serve

    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    target = address or settings.symmio_address
    if not target:
        typer.echo("no diamond address: pass --address or set HEDGER_SYMMIO_ADDRESS", err=True)
        raise typer.Exit(2)
    if start_block is None:
        start_block = int(os.environ.get("HEDGER_LISTENER_START_BLOCK", "0") or 0)
    where = urlsplit(url or next(iter(settings.subgraph_urls()), DEFAULT_URL))
    host, port = where.hostname or "127.0.0.1", where.port or 8548
    indexer = Indexer(
        IndexerConfig(
            rpc_urls=[rpc_url] if rpc_url else list(settings.rpc_http_urls),
            address=target,
            start_block=start_block,
            interval=interval,
        )
    )
    asyncio.run(serve(indexer, host=host, port=port, path=where.path or "/"))
