"""Page rendering: one jinja2 Environment for HTML (autoescape on, StrictUndefined),
separate from the notice renderer (plain text, autoescape off).

Templates never receive a reported URL to put in an attribute: views hand them
`url_defanged` (text) and ids. `safe_text` is the one filter for anything else
that may carry a reported host (facts, check locations): it defangs it.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import jinja2
from aiohttp import web

from notices.defang import defang
from nttd.resources import templates_dir

PAGE_HEADERS = {"Cache-Control": "no-store"}


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir() / "web"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["duration"] = duration
    env.filters["defang"] = defang_text
    return env


def when(value: str | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def defang_text(value: Any) -> str:
    """Text that may hold a URL or a host name, written so that nothing links it."""
    if value is None:
        return "—"
    text = str(value)
    if "://" in text or ("." in text and not any(c.isspace() for c in text)):
        return defang(text)  # a URL, a host name, an address
    return text


def page(template: str, *, status: int = 200, headers: dict[str, str] | None = None,
         **context: Any) -> web.Response:
    html = environment().get_template(template).render(**context)
    response = web.Response(text=html, status=status, content_type="text/html",
                            charset="utf-8", headers=PAGE_HEADERS)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
