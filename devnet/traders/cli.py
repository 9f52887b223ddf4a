"""`hedger devnet traders`: run seeded PartyA traders against the devnet diamond."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from devnet.contracts.keys import ANVIL_TRADER_KEYS


def traders_command(
    symmio: Annotated[str, typer.Option(help="Diamond address.")],
    rpc_url: Annotated[str, typer.Option(help="HTTP JSON-RPC URL.")] = "http://127.0.0.1:8545",
    muon_url: Annotated[
        list[str], typer.Option("--muon-url", help="Muon gateway URL (repeatable).")
    ] = ["http://127.0.0.1:8546/v1/"],  # noqa: B006
    traders: Annotated[int, typer.Option(help="Number of traders (anvil dev accounts 5..9).")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the traders' decisions.")] = 1,
    interval: Annotated[float, typer.Option(help="Seconds between steps.")] = 2.0,
    steps: Annotated[
        int | None, typer.Option(help="Stop after this many steps (default: run forever).")
    ] = None,
    fund: Annotated[
        int,
        typer.Option(
            help="Collateral (whole tokens) to mint and allocate per trader at start; 0 skips."
        ),
    ] = 10_000,
    whitelist: Annotated[
        list[str],
        typer.Option("--whitelist", help="PartyB allowed to take the intents (repeatable)."),
    ] = [],  # noqa: B006
) -> None:
    """Post MARKET/LIMIT LONG/SHORT intents, cancel some, request closes — seeded."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if not 1 <= traders <= len(ANVIL_TRADER_KEYS):
        raise typer.BadParameter(f"--traders must be 1..{len(ANVIL_TRADER_KEYS)}")
    from devnet.traders.sim import TradersConfig, TradersSim

    config = TradersConfig(
        rpc_url=rpc_url,
        symmio=symmio,
        muon_urls=muon_url,
        private_keys=ANVIL_TRADER_KEYS[:traders],
        seed=seed,
        interval=interval,
        fund_amount=fund * 10**18,
        whitelist=whitelist,
    )
    sim = TradersSim(config)
    try:
        asyncio.run(sim.run(steps))
    except KeyboardInterrupt:
        pass
    for t in sim.traders:
        typer.echo(f"{t.chain.address}: {t.stats}")


def main() -> None:  # `python -m devnet.traders.cli`
    typer.run(traders_command)


if __name__ == "__main__":
    main()
