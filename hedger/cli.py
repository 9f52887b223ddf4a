"""`hedger`: the one entry point for every process and tool, and the top of the import graph
(no module imports this package).

Production commands are mounted here from their modules; the local stand-ins (`hedger stack …`,
`hedger devnet …`, `hedger demo`) plug in through the `hedger.cli_plugins` entry point, so this
package never imports `devnet`.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

from hedger.api_command import api_command
from hedger.config_commands import config_app, db_app, temporal_app, version
from hedger.listener_commands import listener_app
from hedger.ops_commands import ops_app
from hedger.worker_commands import worker_app

app = typer.Typer(help="symmio-hedger: a SYMMIO PartyB hedger on Temporal.", no_args_is_help=True)
app.command()(version)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(temporal_app, name="temporal")
app.add_typer(worker_app, name="worker")
app.add_typer(listener_app, name="listener")
app.add_typer(ops_app, name="ops")
app.command("api")(api_command)


def _load_plugins() -> None:
    for entry in entry_points(group="hedger.cli_plugins"):
        try:
            register = entry.load()
        except ImportError:
            continue  # a plugin whose package is not installed (e.g. no devnet in production)
        register(app)


_load_plugins()


def main() -> None:
    app()
