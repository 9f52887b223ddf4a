"""The hedger web server and the operator tools (DESIGN §2 "Hedger Web-Server", §6).

* `api.app.create_app(settings, db_engine=…, temporal_client=…)` → FastAPI app;
  `api.app.api_command` is the typer command mounted as `hedger api`.
* routers: `frontend` (SYMMIO front-end REST, SYMMIO.md §5.1), `ws` (§5.2 websockets),
  `admin` (bearer-token operator API), `health` (`/healthz`, `/metrics`).
* `api.operator`: retry / unwind / abandon signals and the STUCK listing (shared by API and CLI).
* `api.ops_cli.ops_app`: typer app mounted as `hedger ops`.

Mounting in `hedger/cli.py`::

    from api.app import api_command
    from api.ops_cli import ops_app
    app.command("api")(api_command)
    app.add_typer(ops_app, name="ops")
"""
