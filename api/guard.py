"""Limits and checks applied to every request before any work is done on it (issue #10).

`RequestGuard` is an ASGI middleware in front of the routers. In order, it:

1. refuses a path or query string that is not UTF-8, holds a NUL, has more parameters than
   `api_max_list_items` or a value longer than `api_max_string_chars` (422);
2. checks the admin bearer token of `/admin/*` requests before reading their body (401 / 403);
3. refuses a body above `api_max_body_bytes` by its Content-Length, or while it streams in,
   without holding more than that in memory (413); a body that is not JSON (415);
4. checks a JSON body before FastAPI parses it: nesting depth (counted without parsing, so a
   deeply nested body never reaches the recursive parser), finite numbers, integers within
   int64, no NUL or lone surrogate in any string, bounded list and string lengths (422).

Bodies and websocket messages go through the same `loads_checked`. Every 422 has the
`HTTPValidationError` shape: `{"detail": [{"type", "loc", "msg"}, ...]}`.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.settings import Settings

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
ADMIN_PREFIX = "/admin"

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
# A JSON string (closing quote optional, possessive: linear time whatever the input) or a bracket.
_STRUCTURE = re.compile(r'"(?:[^"\\]++|\\.)*+"?|[\[\]{}]', re.DOTALL)

Loc = tuple[str | int, ...]


def is_address(value: str) -> bool:
    """A 0x-prefixed 20-byte hex address, exactly (no trailing newline, unlike `re.match` + `$`)."""
    return _ADDRESS.fullmatch(value) is not None


def bad_char(value: str) -> str | None:
    """What makes a string unstorable in Postgres text (NUL) or unencodable (lone surrogate)."""
    found = _BAD_CHAR.search(value)
    if found is None:
        return None
    return "a NUL character" if found.group() == "\x00" else "a lone surrogate"


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 256 * 1024
    max_json_depth: int = 32
    max_list_items: int = 1000
    max_string_chars: int = 4096
    max_reason_chars: int = 2000
    ws_max_message_bytes: int = 64 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_body_bytes=settings.api_max_body_bytes,
            max_json_depth=settings.api_max_json_depth,
            max_list_items=settings.api_max_list_items,
            max_string_chars=settings.api_max_string_chars,
            max_reason_chars=settings.api_max_reason_chars,
            ws_max_message_bytes=settings.api_ws_max_message_bytes,
        )


class InputError(ValueError):
    """Bad input at `loc` (FastAPI's location convention: ("body", "symbols", 0), ("query", "x"))."""

    def __init__(self, loc: Loc, msg: str, type_: str = "value_error") -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg
        self.type = type_

    def detail(self) -> list[dict[str, Any]]:
        return [{"type": self.type, "loc": list(self.loc), "msg": self.msg}]

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.loc)
        return f"{where}: {self.msg}" if where else self.msg


# --- JSON ----------------------------------------------------------------------------------


def check_depth(text: str, limit: int, loc: Loc) -> None:
    """Refuse JSON nested deeper than `limit` arrays/objects, counted without parsing."""
    if text.count("[") + text.count("{") <= limit:
        return
    depth = 0
    for m in _STRUCTURE.finditer(text):
        if m.end() - m.start() != 1:
            continue  # a string
        c = text[m.start()]
        if c == "[" or c == "{":
            depth += 1
            if depth > limit:
                raise InputError(loc, f"JSON nested deeper than {limit} levels", "json_too_deep")
        elif c == "]" or c == "}":
            depth -= 1


def loads_checked(text: str, limits: Limits, loc: Loc = ("body",)) -> Any:
    """`json.loads` for untrusted input: depth checked first, then finite numbers, int64
    integers, strings without NUL or lone surrogates, bounded lists and strings."""

    def reject_constant(name: str) -> Any:
        raise InputError(loc, f"{name} is not a number", "finite_number")

    def finite(s: str) -> float:
        value = float(s)
        if not math.isfinite(value):
            raise InputError(loc, f"number {s[:40]} is out of range", "finite_number")
        return value

    def int64(s: str) -> int:
        value = int(s) if len(s) <= 20 else INT64_MAX + 1
        if not INT64_MIN <= value <= INT64_MAX:
            raise InputError(loc, "integer out of range (must fit in 64 bits)", "int_range")
        return value

    check_depth(text, limits.max_json_depth, loc)
    try:
        value = json.loads(
            text, parse_constant=reject_constant, parse_float=finite, parse_int=int64
        )
    except json.JSONDecodeError as exc:
        raise InputError(
            loc, f"invalid JSON: {exc.msg} at position {exc.pos}", "json_invalid"
        ) from None
    except RecursionError:  # not reachable with the depth check; kept as a last line
        raise InputError(loc, "JSON nested too deeply", "json_too_deep") from None
    check_value(value, limits, loc)
    return value


def check_string(value: str, limits: Limits, loc: Loc) -> None:
    if len(value) > limits.max_string_chars:
        raise InputError(
            loc, f"string longer than {limits.max_string_chars} characters", "string_too_long"
        )
    problem = bad_char(value)
    if problem is not None:
        raise InputError(loc, f"string contains {problem}", "string_bad_char")


def check_value(value: Any, limits: Limits, loc: Loc) -> None:
    """Walk a parsed JSON value (depth already bounded) checking strings and list lengths."""
    if isinstance(value, str):
        check_string(value, limits, loc)
    elif isinstance(value, list):
        if len(value) > limits.max_list_items:
            raise InputError(
                loc, f"list longer than {limits.max_list_items} items", "too_many_items"
            )
        for i, item in enumerate(value):
            check_value(item, limits, (*loc, i))
    elif isinstance(value, dict):
        if len(value) > limits.max_list_items:
            raise InputError(
                loc, f"object with more than {limits.max_list_items} keys", "too_many_items"
            )
        for key, item in value.items():
            check_string(key, limits, loc)
            check_value(item, limits, (*loc, key))


# --- URL -----------------------------------------------------------------------------------


def check_url(scope: Scope, limits: Limits) -> None:
    """Path and query string: UTF-8, no NUL, bounded values and number of parameters."""
    raw_path: bytes | None = scope.get("raw_path")
    try:
        path = (
            unquote_to_bytes(raw_path).decode("utf-8")
            if raw_path is not None
            else str(scope.get("path", ""))
        )
    except UnicodeDecodeError:
        raise InputError(("path",), "path is not UTF-8", "string_bad_char") from None
    problem = bad_char(path)
    if problem is not None:
        raise InputError(("path",), f"path contains {problem}", "string_bad_char")
    if len(path) > limits.max_string_chars:
        raise InputError(
            ("path",), f"path longer than {limits.max_string_chars} characters", "string_too_long"
        )
    query: bytes = scope.get("query_string") or b""
    if not query:
        return
    try:
        pairs = parse_qsl(
            query.decode("latin-1"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=limits.max_list_items,
        )
    except UnicodeDecodeError:
        raise InputError(("query",), "query string is not UTF-8", "string_bad_char") from None
    except ValueError:  # max_num_fields
        raise InputError(
            ("query",), f"more than {limits.max_list_items} query parameters", "too_many_items"
        ) from None
    for key, value in pairs:
        loc: Loc = ("query", key if bad_char(key) is None else "?")
        check_string(key, limits, loc)
        check_string(value, limits, loc)


# --- admin ---------------------------------------------------------------------------------


def admin_refusal(authorization: str | None, settings: Settings) -> tuple[int, str] | None:
    """(status, message) refusing an admin request by its Authorization header, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return 401, "admin API needs 'Authorization: Bearer <HEDGER_ADMIN_TOKEN>'"
    expected = settings.admin_token.get_secret_value().encode()
    if not hmac.compare_digest(token.encode("utf-8", "surrogateescape"), expected):
        return 403, "invalid admin token"
    return None


# --- the middleware ------------------------------------------------------------------------


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False  # FastAPI (strict_content_type) does not parse it either
    media = content_type.split(";", 1)[0].strip().lower()
    main, _, sub = media.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


async def send_json(
    send: Send, status: int, body: Any, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    payload = json.dumps(body, ensure_ascii=True, allow_nan=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class _Refused(Exception):
    def __init__(self, status: int, body: Any, headers: Sequence[tuple[bytes, bytes]] = ()):
        self.status = status
        self.body = body
        self.headers = headers


class _ClientGone(Exception):
    pass


# A refused request's unread body is read and dropped, up to this many bytes, before the refusal
# is sent: a server that closes a socket with unread data makes the kernel reset the connection,
# and the client then never sees the 4xx. Bodies beyond it (or of unknown length, refused before
# a byte was read) are not drained: the connection is closed and may be reset.
DRAIN_MAX_BYTES = 16 * 1024 * 1024


@dataclass
class _BodyProgress:
    declared: int | None = None  # Content-Length, when the client sent one
    read: int = 0
    complete: bool = False
    reading: bool = False  # the guard began reading the body

    def worth_draining(self) -> bool:
        if self.complete:
            return False
        if self.declared is not None:
            return self.declared <= DRAIN_MAX_BYTES
        return self.reading


async def _drain(receive: Receive, progress: _BodyProgress) -> None:
    """Read and drop the rest of a refused body, never holding more than one chunk."""
    while progress.read <= DRAIN_MAX_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        progress.read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.limits = Limits.from_settings(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            try:
                check_url(scope, self.limits)
            except InputError as exc:
                await send({"type": "websocket.close", "code": 1008, "reason": str(exc)[:120]})
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        progress = _BodyProgress()
        try:
            body = await self._admit(scope, receive, progress)
        except _Refused as refused:
            if progress.worth_draining():
                await _drain(receive, progress)
            await send_json(send, refused.status, refused.body, refused.headers)
            return
        except _ClientGone:
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _admit(self, scope: Scope, receive: Receive, progress: _BodyProgress) -> bytes:
        try:
            check_url(scope, self.limits)
        except InputError as exc:
            raise _Refused(422, {"detail": exc.detail()}) from None
        path = str(scope.get("path", ""))
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            refusal = admin_refusal(_header(scope, b"authorization"), self.settings)
            if refusal is not None:
                code, text = refusal
                www = [(b"www-authenticate", b"Bearer")] if code == 401 else []
                raise _Refused(code, {"detail": text}, www)
        limit = self.limits.max_body_bytes
        too_large = _Refused(
            413,
            {"detail": f"request body larger than {limit} bytes"},
            [(b"connection", b"close")],
        )
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                progress.declared = int(length)
            except ValueError:
                raise _Refused(400, {"detail": "invalid Content-Length"}) from None
            if progress.declared > limit:
                raise too_large
        chunks: list[bytes] = []
        progress.reading = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            progress.read += len(chunk)
            more = bool(message.get("more_body", False))
            progress.complete = not more
            if progress.read > limit:
                raise too_large
            chunks.append(chunk)
            if not more:
                break
        body = b"".join(chunks)
        if body:
            self._check_body(scope, body)
        return body

    def _check_body(self, scope: Scope, body: bytes) -> None:
        if not _is_json(_header(scope, b"content-type")):
            raise _Refused(415, {"detail": "request body must be JSON (application/json)"})
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            error = InputError(("body",), "body is not UTF-8", "json_invalid")
            raise _Refused(422, {"detail": error.detail()}) from None
        try:
            loads_checked(text, self.limits)
        except InputError as exc:
            raise _Refused(422, {"detail": exc.detail()}) from None
