"""`hedger devnet deploy` / `hedger devnet compile` (plain functions; the lead mounts them)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from devnet.contracts.keys import DEFAULT_ADMIN_KEY, DEFAULT_HEDGER_KEY, DEFAULT_OUT_PATH


def compile_command(
    force: bool = typer.Option(
        False, "--force", help="recompile even if the source hash is unchanged"
    ),
) -> None:
    """Compile devnet/contracts/src with solc-js; write build/artifacts.json and the hedger ABI."""
    from devnet.contracts.compile import compile_all

    arts = compile_all(force=force)
    for name, c in sorted(arts["contracts"].items()):
        if c["runtime_size"]:
            typer.echo(f"{name}: {c['runtime_size']} bytes")
    typer.echo(f"source hash {arts['source_hash']}")


def deploy_command(
    rpc_url: str = typer.Option(
        "http://127.0.0.1:8545", "--rpc-url", help="JSON-RPC endpoint (anvil)"
    ),
    out: Path = typer.Option(DEFAULT_OUT_PATH, "--out", help="where to write the deployment JSON"),
    admin_key: str = typer.Option(
        DEFAULT_ADMIN_KEY, "--admin-key", envvar="HEDGER_DEVNET_ADMIN_KEY"
    ),
    hedger_key: str = typer.Option(
        DEFAULT_HEDGER_KEY, "--hedger-key", envvar="HEDGER_DEVNET_HEDGER_KEY"
    ),
) -> None:
    """Deploy and initialise the SYMMIO-compatible diamond with the devnet Muon signer's keys."""
    from devnet.contracts.deploy import deploy_and_initialise
    from devnet.oracle.signer import DEVNET_MUON_APP_ID, default_devnet_signer

    signer = default_devnet_signer()
    pk = signer.public_key
    dep = deploy_and_initialise(
        rpc_url,
        admin_key=admin_key,
        hedger_key=hedger_key,
        muon_public_key=(pk.x, pk.parity),
        muon_gateway=signer.gateway_address,
        muon_app_id=DEVNET_MUON_APP_ID,
        out_path=out,
    )
    typer.echo(json.dumps(dep.to_json(), indent=1))
