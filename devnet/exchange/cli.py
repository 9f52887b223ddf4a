"""`hedger devnet exchange`: run the Binance-USD-M-compatible exchange simulator."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from devnet.exchange.config import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_HOST,
    DEFAULT_PORT,
    ExchangeConfig,
)


def exchange_command(
    host: Annotated[
        str, typer.Option(help="Bind address (loopback only by default).")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="HTTP + websocket port.")] = DEFAULT_PORT,
    seed: Annotated[int, typer.Option(help="Seed of the random-walk price paths.")] = 1,
    tick: Annotated[
        float, typer.Option(help="Seconds between price steps (0 freezes prices).")
    ] = 0.25,
    balance: Annotated[str, typer.Option(help="Initial USDT wallet balance.")] = "100000",
    partial_fill_notional: Annotated[
        str,
        typer.Option(help="Largest notional a resting LIMIT fills per price step (partial fills)."),
    ] = "500000",
    funding_interval: Annotated[
        float, typer.Option(help="Seconds between funding events (Binance: 8 h).")
    ] = 8 * 3600.0,
    funding_rate: Annotated[
        str, typer.Option(help="Every symbol's funding rate until an admin sets one.")
    ] = "0.0001",
    duplicate_client_id_code: Annotated[
        int, typer.Option(help="Code for a client order id that is open already (-4116 or -4015).")
    ] = -4116,
    client_ids_unique_forever: Annotated[
        bool,
        typer.Option(help="Refuse every client order id ever seen (Binance: only open ones)."),
    ] = False,
    prices_csv: Annotated[
        Path | None, typer.Option(help="Replay prices from this CSV instead of a random walk.")
    ] = None,
    api_key: Annotated[
        str, typer.Option(help="API key (public devnet default).")
    ] = DEFAULT_API_KEY,
    api_secret: Annotated[
        str, typer.Option(help="API secret (public devnet default).")
    ] = DEFAULT_API_SECRET,
) -> None:
    """Run the exchange simulator: Binance USD-M REST under /fapi, user stream at /private/ws."""
    from devnet.exchange.server import run_exchange, with_csv  # the server only when run

    config = with_csv(
        ExchangeConfig(
            api_key=api_key,
            api_secret=api_secret,
            seed=seed,
            tick_interval=tick,
            initial_balance=Decimal(balance),
            partial_fill_notional=Decimal(partial_fill_notional),
            funding_interval=funding_interval,
            funding_rate=Decimal(funding_rate),
            duplicate_client_id_code=duplicate_client_id_code,
            client_ids_unique_forever=client_ids_unique_forever,
        ),
        prices_csv,
    )
    typer.echo(
        f"devnet exchange on http://{host}:{port} (ws ws://{host}:{port}/ws), api key {api_key}"
    )
    run_exchange(host, port, config)


def main() -> None:  # `python -m devnet.exchange.cli`
    typer.run(exchange_command)


if __name__ == "__main__":
    main()
