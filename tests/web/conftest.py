"""The web UI over HTTP: a world (tests/integration/world.py) with an admin added,
and `Browser`, a cookie-keeping client that reads CSRF tokens out of the pages
the way a browser's form would send them back."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import pytest
from argon2 import PasswordHasher, profiles

from nttd import auth
from nttd.auth import add_user
from tests.integration.world import World, running_world

PASSWORD = "correct horse battery"
USERS = {"analyst": "analyst", "nl": "partner", "de": "partner",
         "coordinator": "coordinator", "admin": "admin"}


class Forms(HTMLParser):
    """Every form of a page: its method, action and hidden/other input values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"method": (a.get("method") or "get").lower(),
                               "action": a.get("action"), "inputs": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["inputs"][a["name"]] = a.get("value") or ""


def forms_of(html: str) -> list[dict[str, Any]]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token on the page"
    return match.group(1)


@dataclass
class Page:
    status: int
    text: str
    headers: Any
    url: str

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")


@dataclass
class Browser:
    world: World
    http: aiohttp.ClientSession
    csrf: str = ""
    visited: list[Page] = field(default_factory=list)

    async def get(self, path: str) -> Page:
        async with self.http.get(self.world.base_url + path, allow_redirects=False) as resp:
            page = Page(resp.status, await resp.text(), resp.headers, path)
        self.visited.append(page)
        if 'name="csrf_token"' in page.text:
            self.csrf = csrf_of(page.text)
        return page

    async def post(self, path: str, data: dict[str, Any] | aiohttp.FormData | None = None,
                   *, csrf: str | None = None, headers: dict[str, str] | None = None) -> Page:
        if isinstance(data, aiohttp.FormData):
            body: Any = data
        else:
            body = dict(data or {})
            token = self.csrf if csrf is None else csrf
            if token:
                body.setdefault("csrf_token", token)
        async with self.http.post(self.world.base_url + path, data=body,
                                  allow_redirects=False, headers=headers) as resp:
            page = Page(resp.status, await resp.text(), resp.headers, path)
        self.visited.append(page)
        if 'name="csrf_token"' in page.text:
            self.csrf = csrf_of(page.text)
        return page

    async def login(self, name: str, password: str = PASSWORD) -> Page:
        form = await self.get("/")
        assert form.status == 200, form.text
        page = await self.post("/login", {"username": name, "password": password},
                               csrf=csrf_of(form.text))
        if page.status == 303:
            await self.get("/")  # the home page: picks up the session's CSRF token
        return page

    def cookie(self, name: str) -> str | None:
        for cookie in self.http.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return None


@dataclass
class WebWorld:
    world: World
    stack: contextlib.AsyncExitStack

    async def browser(self, user: str | None = None) -> Browser:
        http = await self.stack.enter_async_context(aiohttp.ClientSession(
            trust_env=False, cookie_jar=aiohttp.CookieJar(unsafe=True)))
        browser = Browser(self.world, http)
        if user is not None:
            page = await browser.login(user)
            assert page.status == 303, (user, page.status, page.text[:500])
        return browser


# argon2id at the production cost takes ~0.4 s a hash here and every world signs in
# many times: these worlds hash at the cheapest cost (test_passwords.py holds the
# production parameters to account).
CHEAP_HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)


@contextlib.asynccontextmanager
async def web_world(database_url: str, tmp_path: Path, **overrides: Any
                    ) -> AsyncIterator[WebWorld]:
    with mock.patch.object(auth, "_ARGON2", CHEAP_HASHER):
        async with _web_world(database_url, tmp_path, **overrides) as world:
            yield world


@contextlib.asynccontextmanager
async def _web_world(database_url: str, tmp_path: Path, **overrides: Any
                     ) -> AsyncIterator[WebWorld]:
    async with running_world(database_url, tmp_path, **overrides) as world, \
            contextlib.AsyncExitStack() as stack:
        async with world.svc.sessions() as session, session.begin():
            await add_user(session, "admin", "admin", password=PASSWORD, hotline_code=None,
                           now=world.svc.clock())
        yield WebWorld(world, stack)


@pytest.fixture
async def ww(database_url: str, tmp_path: Path) -> AsyncIterator[WebWorld]:
    async with web_world(database_url, tmp_path) as w:
        yield w
