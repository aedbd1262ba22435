"""HTTP plumbing of the API: JSON errors everywhere under /api/, bounded JSON
bodies, strict numbers in paths and queries, and the headers every answer
carries.

Every error under /api/ is a JSON object `{"error": "..."}` with the right status,
whether a handler refused the request or aiohttp did (404 no route, 405, 413 a
body over the limit); an unexpected exception is logged and answered with a
JSON 500 that says nothing about the inside.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_DEPTH = 32           # nesting of JSON arrays and objects in a body
MAX_NUMBER_DIGITS = 20   # digits of one JSON number
MAX_ID = 2**31 - 1       # ids are 32-bit on PostgreSQL
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII digits only: not "1_0", " 1", Arabic-Indic


class ApiError(web.HTTPException):
    """An error answered as JSON: `raise ApiError(404, "no such case")`."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        self.status_code = status
        super().__init__(text=json.dumps({"error": message, **extra}),
                         content_type="application/json")


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def _json_error(exc: web.HTTPException) -> web.StreamResponse:
    if exc.content_type == "application/json" and exc.text:
        return web.Response(text=exc.text, status=exc.status, content_type="application/json")
    message = exc.reason if exc.status >= 400 else "error"
    if exc.status == 404:
        message = "no such resource"
    elif exc.status == 413:
        message = "the request body is too large"
    response = error(exc.status, message)
    for name in ("Allow", "WWW-Authenticate", "Retry-After"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _json_error(exc)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error(500, "internal error; it has been logged")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No version banner anywhere; API answers are never cached or sniffed."""
    response.headers["Server"] = "nttd"
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ValueError(f"a number with more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS + 10:
        raise ValueError("a number written with too many digits")
    return float(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    depth, level = 0, [(value, 1)]
    while level:
        item, d = level.pop()
        if isinstance(item, dict | list):
            depth = max(depth, d)
            if depth > MAX_DEPTH:
                return depth
            children = item.values() if isinstance(item, dict) else item
            level.extend((child, d + 1) for child in children)
    return depth


def parse_json(raw: bytes) -> Any:
    """Parse a JSON body (ApiError 400 when it is not acceptable JSON)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_int=_bounded_int,
                           parse_float=_bounded_float, parse_constant=_no_constant)
    except RecursionError:
        raise ApiError(400, f"the JSON is nested more than {MAX_DEPTH} deep") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    if _depth(value) > MAX_DEPTH:
        raise ApiError(400, f"the JSON is nested more than {MAX_DEPTH} deep")
    return value


async def read_json(request: web.Request, *, required: bool = True) -> Any:
    """The JSON body; 415 unless it is sent as JSON. Without `required`, an empty
    body is None."""
    raw = await request.read()  # 413 past the application's client_max_size
    if not raw and not required:
        return None
    if request.content_type != "application/json" and not request.content_type.endswith(
            "+json"):
        raise ApiError(415, "send the body as JSON (Content-Type: application/json)")
    return parse_json(raw)


def parse_id(text: str, what: str = "case") -> int:
    """A strict id from a path: ASCII digits within the id range (404 otherwise)."""
    if _DIGITS.fullmatch(text) is None or not 0 < int(text) <= MAX_ID:
        raise ApiError(404, f"no such {what}")
    return int(text)


def int_param(query: Any, name: str, default: int, *, low: int, high: int) -> int:
    """A strict integer query parameter within [low, high] (400 otherwise)."""
    text = query.get(name)
    if text is None or text == "":
        return default
    if _DIGITS.fullmatch(text) is None or not low <= int(text) <= high:
        raise ApiError(400, f"'{name}' must be a whole number from {low} to {high}")
    return int(text)
