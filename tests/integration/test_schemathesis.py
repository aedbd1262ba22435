"""The API against its own OpenAPI document, and any URL through intake.

The document: schemathesis generates requests for
every operation (valid and invalid data), each sent with every role's token, on
SQLite and PostgreSQL; no answer may be a 5xx, and every answer must conform to
the document (status code, content type, body schema).

The service runs in a thread of its own (schemathesis speaks synchronous HTTP), with
no workers: nothing submitted here is resolved or checked."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from sqlalchemy import select

from nttd.api.openapi import OPENAPI
from nttd.app import make_app
from nttd.auth import add_user, create_token
from nttd.cases import Submission, submit
from nttd.migrate import upgrade
from nttd.models import Case, Hotline
from nttd.partners import load_partners, parse_partner_file
from nttd.services import Services
from nttd.settings import Settings
from tests.conftest import drop_pg_database, make_pg_database

ROLES = ("analyst", "nl", "coordinator", "admin")
PARTNERS = """
[[hotline]]
code = "gb-home"
name = "Home Hotline"
countries = ["GB"]
self = true

[[hotline]]
code = "nl-partner"
name = "Partner Hotline NL"
countries = ["NL"]
email = "reports@partner-nl.example"
"""
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance]

# POST /api/v1/bounces takes a raw mail message, sent the way text/plain is.
schemathesis.serializer.alias("message/rfc822", "text/plain")
schema = schemathesis.openapi.from_dict(OPENAPI)


class ServerThread:
    """nttd's app on a loopback port, in its own thread and event loop."""

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend, self.folder = backend, folder
        self.base_url = ""
        self.tokens: dict[str, str] = {}
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(timeout=60):
            raise TimeoutError("the API server did not start")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # handed to the test's thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        pg_name = None
        if self.backend == "postgresql":
            url, pg_name = await make_pg_database()
        else:
            url = f"sqlite+aiosqlite:///{self.folder / 'api.db'}"
        svc = await Services.start(Settings.load({
            "NTTD_DATABASE_URL": url, "NTTD_HOME_COUNTRY": "GB",
            "NTTD_DNS_SERVERS": "127.0.0.1:9", "NTTD_WHOIS_FALLBACK": "0"}))
        try:
            await self._seed(svc)
            runner = web.AppRunner(make_app(svc, with_workers=False), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()
        finally:
            await svc.close()
            if pg_name is not None:
                await drop_pg_database(pg_name)

    async def _seed(self, svc: Services) -> None:
        await upgrade(svc.engine)
        now = datetime.now(UTC)
        async with svc.sessions() as session, session.begin():
            await load_partners(session, parse_partner_file(PARTNERS))
            for name, role, hotline in [("analyst", "analyst", None),
                                        ("nl", "partner", "nl-partner"),
                                        ("coordinator", "coordinator", None),
                                        ("admin", "admin", None)]:
                await add_user(session, name, role, password="correct horse battery",
                               hotline_code=hotline, now=now)
            results = await submit(session, Submission(urls=tuple(
                f"http://files.example.com/{n}.jpg" for n in range(3))),
                actor="user:analyst", user_id=None, now=now)
            nl = await session.scalar(select(Hotline).where(Hotline.code == "nl-partner"))
            routed = await session.get(Case, results[0].id)
            assert routed is not None and nl is not None
            routed.route_kind, routed.route_hotline_id, routed.status = "partner", nl.id, "routed"
        async with svc.sessions() as session, session.begin():
            for name in ROLES:
                self.tokens[name] = await create_token(session, name, now=now)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(request.param, tmp_path_factory.mktemp("api")) as running:
        yield running


@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_with_every_role(case: Any, server: ServerThread) -> None:
    for role in ROLES:
        case.call_and_validate(base_url=server.base_url, checks=CHECKS,
                               headers={"Authorization": f"Bearer {server.tokens[role]}"})


# Hosts and paths as people paste them: IDN, IPv4/IPv6 literals, ports, percent-escapes.
_host = st.one_of(
    st.sampled_from(["files.example.com", "Bücher.example", "xn--bcher-kva.example",
                     "127.0.0.1", "[::1]", "[2001:db8::1]", "EXAMPLE.org.", "a..example"]),
    st.text(min_size=1, max_size=20),
)
_path = st.lists(st.one_of(st.text(max_size=8), st.sampled_from(
    ["%7E", "%7e", "~", "%41", "%2F", "%2f", ".", "..", "%", "%zz", "\ud800", "é", " "])),
    max_size=6).map("/".join)
_url = st.builds(lambda scheme, host, port, path, query: f"{scheme}://{host}{port}/{path}{query}",
                 st.sampled_from(["http", "https", "HTTP", "ftp", "javascript"]), _host,
                 st.sampled_from(["", ":80", ":443", ":8080", ":0", ":99999", ":x"]), _path,
                 st.sampled_from(["", "?a=1", "?u=//evil.example.com/x.jpg", "#frag"]))


@given(url=_url)
@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_any_url_gives_a_case_or_a_clear_refusal(server: ServerThread, url: str) -> None:
    headers = {"Authorization": f"Bearer {server.tokens['analyst']}",
               "Content-Type": "application/json"}
    body = json.dumps({"urls": [url]})
    answer = requests.post(f"{server.base_url}/api/v1/cases", data=body, headers=headers,
                           timeout=30)
    assert answer.status_code in (201, 422), (url, answer.status_code, answer.text)
    if answer.status_code == 422:
        assert answer.json()["problems"][0]["reason"]
        return
    case = answer.json()["cases"][0]
    detail = requests.get(f"{server.base_url}/api/v1/cases/{case['id']}", headers=headers,
                          timeout=30).json()
    if case["duplicate_of"] is None:
        assert detail["url"] == url.strip()  # the exact URL as submitted is kept
    # The canonical form is a fixed point: submitting it again finds the same case.
    again = requests.post(f"{server.base_url}/api/v1/cases", headers=headers, timeout=30,
                          data=json.dumps({"urls": [detail["canonical_url"]]})).json()
    assert again["cases"][0]["duplicate_of"] == case["id"]
