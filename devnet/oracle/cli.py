"""`hedger devnet oracle`: run the Muon-compatible oracle (symmio app) for the local chain."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer

from devnet.oracle.defaults import DEFAULT_HOST, DEFAULT_PORT


def _fixed_prices(values: list[str]) -> dict[str, Decimal]:
    from devnet.oracle.app import OracleConfig

    config = OracleConfig()
    prices = dict(config.fixed_prices)
    for item in values:
        symbol, sep, price = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected SYMBOL=PRICE, got {item!r}")
        prices[symbol.strip().upper()] = Decimal(price)
    return prices


def oracle_command(
    symmio: Annotated[
        str | None,
        typer.Option(help="Diamond address to serve (others are refused); any when unset."),
    ] = None,
    rpc_url: Annotated[
        str, typer.Option(help="HTTP JSON-RPC URL of the chain.")
    ] = "http://127.0.0.1:8545",
    price_url: Annotated[
        str | None,
        typer.Option(
            help="Binance-USD-M-compatible REST base URL for mark prices (e.g. the devnet exchange); fixed prices when unset."
        ),
    ] = None,
    price: Annotated[
        list[str],
        typer.Option(
            "--price", help="Fixed price SYMBOL=PRICE (repeatable; used without --price-url)."
        ),
    ] = [],  # noqa: B006
    host: Annotated[
        str, typer.Option(help="Bind address (loopback only by default).")
    ] = DEFAULT_HOST,
    port: Annotated[
        int, typer.Option(help="HTTP port; the gateway URL is http://HOST:PORT/v1/.")
    ] = DEFAULT_PORT,
    schnorr_secret: Annotated[
        str | None,
        typer.Option(
            envvar="DEVNET_MUON_SCHNORR_SECRET",
            help="Schnorr secret (hex); public devnet test key when unset.",
        ),
    ] = None,
    gateway_key: Annotated[
        str | None,
        typer.Option(
            envvar="DEVNET_MUON_GATEWAY_KEY",
            help="Gateway ECDSA private key (hex); public devnet test key when unset.",
        ),
    ] = None,
) -> None:
    """Run the devnet Muon oracle: GET /v1/?app=symmio&method=...&params[...]=..."""
    from devnet.oracle.app import OracleConfig
    from devnet.oracle.server import run_oracle

    config = OracleConfig(
        rpc_url=rpc_url,
        symmio=symmio,
        price_url=price_url,
        fixed_prices=_fixed_prices(price),
        schnorr_secret=int(schnorr_secret, 16) if schnorr_secret else None,
        gateway_private_key=gateway_key,
    )
    signer = config.signer()
    pk = signer.public_key
    typer.echo(
        f"devnet Muon oracle on http://{host}:{port}/v1/ (app symmio, appId {config.muon_app_id})"
    )
    typer.echo(
        f"  schnorr public key x={hex(pk.x)} parity={pk.parity}; gateway {signer.gateway_address}"
    )
    typer.echo(f"  chain {rpc_url}, symmio {symmio or '(any)'}, prices {price_url or 'fixed'}")
    run_oracle(config, host, port)


def main() -> None:  # `python -m devnet.oracle.cli`
    typer.run(oracle_command)


if __name__ == "__main__":
    main()
