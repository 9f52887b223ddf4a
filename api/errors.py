"""One error shape for the whole API, and an OpenAPI document that says what is returned.

* 422: always `{"detail": [{"type", "loc", "msg"}, ...]}` (FastAPI's `HTTPValidationError`),
  whether FastAPI, the request guard or a handler found the problem. The input is never echoed
  back (it may be huge, not finite, or not encodable).
* Every other 4xx / 503: `{"detail": "<message>"}` (`ErrorMessage`), except the whitelist
  endpoint SYMMIO front-ends read as `{"successful": false, "message": ...}`.
* 429 (per-client rate limit, `api.throttle`): `ErrorMessage` with `Retry-After`.
* The database or Temporal unreachable, or timing out: 503 with `Retry-After`, never a 500, and
  never the driver's message (a connection error can name the DSN).

Responses are encoded with `ensure_ascii`, so a string the API repeats can never fail to encode.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from temporalio.service import RPCError, RPCStatusCode

from api.guard import InputError

log = logging.getLogger(__name__)


class SafeJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped (a lone surrogate cannot break encoding)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode("ascii")


class ErrorMessage(BaseModel):
    detail: str


def unprocessable(loc: Sequence[str | int], msg: str, type_: str = "value_error") -> Exception:
    """A 422 in the `HTTPValidationError` shape, raised from a handler."""
    return RequestValidationError([{"type": type_, "loc": tuple(loc), "msg": msg}])


def _validation_detail(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        loc = [p if isinstance(p, int | str) else str(p) for p in e.get("loc", ())]
        out.append(
            {"type": str(e.get("type", "value_error")), "loc": loc, "msg": str(e.get("msg"))}
        )
    return out


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return SafeJSONResponse({"detail": _validation_detail(exc.errors())}, status_code=422)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = getattr(exc, "headers", None)
    if exc.status_code in (204, 304) or exc.status_code < 200:
        return Response(status_code=exc.status_code, headers=headers)
    detail: Any = exc.detail
    if exc.status_code == 422 and not isinstance(detail, list):
        detail = [{"type": "value_error", "loc": [], "msg": str(detail)}]
    return SafeJSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


async def _on_input_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    return SafeJSONResponse({"detail": exc.detail()}, status_code=422)


def _unavailable(what: str) -> Response:
    return SafeJSONResponse(
        {"detail": f"{what} unavailable, try again shortly"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "2"},
    )


_DB_DOWN = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    sa_exc.ResourceClosedError,
)


def is_database_down(exc: BaseException) -> bool:
    """A failure to reach or keep talking to Postgres (not a bad query)."""
    if isinstance(exc, _DB_DOWN):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        cause = exc.orig.__cause__ or exc.orig
        name = type(cause).__name__
        return isinstance(cause, OSError) or name in {
            "CannotConnectNowError",
            "ConnectionDoesNotExistError",
            "ConnectionFailureError",
            "AdminShutdownError",
            "CrashShutdownError",
            "TooManyConnectionsError",
        }
    return isinstance(exc, OSError)


async def _on_database_error(request: Request, exc: Exception) -> Response:
    if not is_database_down(exc):
        raise exc
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    return _unavailable("database")


def _raised_in(exc: BaseException, packages: tuple[str, ...]) -> bool:
    """Whether a frame of `exc`'s traceback runs code of one of `packages`."""
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in packages:
            return True
        tb = tb.tb_next
    return False


async def _on_os_error(request: Request, exc: Exception) -> Response:
    """A refused or reset connection. The database driver raises a refused connect as a bare
    `OSError` (not a SQLAlchemy error): its frames in the traceback name the database."""
    log.warning("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    if _raised_in(exc, ("asyncpg", "sqlalchemy")):
        return _unavailable("database")
    return _unavailable("a backing service (database or Temporal)")


_TEMPORAL_DOWN = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.ABORTED,
}


async def _on_rpc_error(request: Request, exc: Exception) -> Response:
    """Temporal down or slow: 503. Temporal refusing a call the API made (a namespace without
    the hedger's search attributes, a missing permission) is the deployment's fault, not the
    caller's and not a crash: also 503, logged as an error for the operator."""
    assert isinstance(exc, RPCError)
    if exc.status in _TEMPORAL_DOWN:
        log.warning("%s %s: temporal: %s", request.method, request.url.path, exc)
    else:
        log.error(
            "%s %s: temporal refused the call (%s): %s",
            request.method, request.url.path, exc.status.name, exc,
        )  # fmt: skip
    return _unavailable("temporal")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(InputError, _on_input_error)
    app.add_exception_handler(sa_exc.SQLAlchemyError, _on_database_error)
    app.add_exception_handler(OSError, _on_os_error)  # TimeoutError included
    app.add_exception_handler(RPCError, _on_rpc_error)


# --- OpenAPI -------------------------------------------------------------------------------

_ERROR_REF = {"$ref": "#/components/schemas/ErrorMessage"}
_VALIDATION_REF = {"$ref": "#/components/schemas/HTTPValidationError"}
_NO_BACKEND = {"/error_codes", "/error_codes/{code}", "/metrics"}


def _error(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or _ERROR_REF}},
    }


def install_openapi(app: FastAPI) -> None:
    """Add what every operation can answer (the guard's 413/415/422, 503, admin's 401/403)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorMessage"] = ErrorMessage.model_json_schema()
        schemas.setdefault(
            "ValidationError",
            {
                "title": "ValidationError",
                "type": "object",
                "properties": {
                    "loc": {
                        "title": "Location",
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"title": "Message", "type": "string"},
                    "type": {"title": "Error Type", "type": "string"},
                },
                "required": ["loc", "msg", "type"],
            },
        )
        schemas.setdefault(
            "HTTPValidationError",
            {
                "title": "HTTPValidationError",
                "type": "object",
                "properties": {
                    "detail": {
                        "title": "Detail",
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/ValidationError"},
                    }
                },
                "required": ["detail"],
            },
        )
        for path, item in doc.get("paths", {}).items():
            for op in item.values():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                responses: dict[str, Any] = op["responses"]
                responses.setdefault(
                    "422", _error("Invalid path, query, header or body", _VALIDATION_REF)
                )
                if "requestBody" in op:
                    responses.setdefault("413", _error("Request body too large"))
                    responses.setdefault("415", _error("Request body is not JSON"))
                responses.setdefault(
                    "429", _error("Too many requests from this client (see Retry-After)")
                )
                if path not in _NO_BACKEND:
                    responses.setdefault("503", _error("Database or Temporal unavailable"))
                if path.startswith("/admin/"):
                    responses.setdefault("401", _error("No bearer token"))
                    responses.setdefault("403", _error("Wrong bearer token"))
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
