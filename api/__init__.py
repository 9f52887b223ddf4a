"""The hedger web server (DESIGN §2 "Hedger Web-Server", §6).

* `api.app.create_app(settings, db_engine=…, temporal_client=…)` → FastAPI app; `api.app.serve`
  runs it (what `hedger api` calls).
* routers: `frontend` (SYMMIO front-end REST, SYMMIO.md §5.1), `ws` (§5.2 websockets),
  `admin` (bearer-token operator API), `health` (`/healthz`, `/metrics`).
* `api.operator`: retry / unwind / abandon signals and the STUCK listing (shared by the admin API
  and `hedger ops`).
"""
