"""CSRF, the headers of every answer, and the no-live-link rule on every page."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

from sqlalchemy import func, select

from nttd.models import Case, Event
from nttd.web.base import CSP
from tests.integration.world import World
from tests.web.conftest import Browser, WebWorld, forms_of

EVIL_URL = "http://evil.example.com/a.jpg"
EVIL_HOSTS = ("evil.example.com", "evil[.]example[.]com")


async def make_case(world: World, url: str) -> int:
    status, body = await world.api("POST", "/api/v1/cases", json={"urls": [url]})
    assert status == 201, body
    return int(body["cases"][0]["id"])


async def case_state(world: World, case_id: int) -> tuple[str, int]:
    async with world.svc.sessions() as session:
        status = await session.scalar(select(Case.status).where(Case.id == case_id))
        events = await session.scalar(select(func.count()).select_from(Event))
    return str(status), int(events or 0)


async def test_csrf_missing_wrong_or_foreign_token_is_refused(ww: WebWorld) -> None:
    world = ww.world
    case_id = await make_case(world, world.url("us"))
    mine = await ww.browser("analyst")
    other = await ww.browser("analyst")
    assert mine.csrf and other.csrf and mine.csrf != other.csrf
    before = await case_state(world, case_id)
    for token in ("", "not-the-token", other.csrf, mine.csrf[:-1]):
        body = {"note": "x"} | ({"csrf_token": token} if token else {})
        page = await mine.post(f"/cases/{case_id}/hold", body, csrf="")
        assert page.status == 403, (token, page.status)
        assert "security token" in page.text
        assert await case_state(world, case_id) == before
    # The same refusals for a header, and for the other forms.
    page = await mine.post(f"/cases/{case_id}/hold", {}, csrf="",
                           headers={"X-CSRF-Token": other.csrf})
    assert page.status == 403
    page = await mine.post("/intake", {"urls": world.url("gb")}, csrf="")
    assert page.status == 403
    page = await mine.post("/logout", {}, csrf=other.csrf)
    assert page.status == 403 and (await mine.get("/cases")).status == 200
    assert await case_state(world, case_id) == before
    # The right token, as a field or as the header, works.
    page = await mine.post(f"/cases/{case_id}/hold", {}, csrf="",
                           headers={"X-CSRF-Token": mine.csrf})
    assert page.status == 303
    assert (await case_state(world, case_id))[0] == "hold"
    page = await mine.post(f"/cases/{case_id}/release", {"note": "done"})
    assert page.status == 303
    assert (await case_state(world, case_id))[0] != "hold"


async def test_login_form_needs_its_token(ww: WebWorld) -> None:
    browser = await ww.browser()
    await browser.get("/")
    page = await browser.post("/login", {"username": "analyst",
                                         "password": "correct horse battery"}, csrf="")
    assert page.status == 403
    page = await browser.post("/login", {"username": "analyst",
                                         "password": "correct horse battery"}, csrf="forged")
    assert page.status == 403
    assert browser.cookie("nttd_session") is None


async def test_get_changes_nothing(ww: WebWorld) -> None:
    world = ww.world
    case_id = await make_case(world, world.url("us"))
    browser = await ww.browser("analyst")
    before = await case_state(world, case_id)
    for path in (f"/cases/{case_id}/hold", f"/cases/{case_id}/release", "/logout",
                 "/inbox/report", "/intake/csv"):
        page = await browser.get(path)
        assert page.status == 405, path
    assert (await browser.get("/login")).status == 303
    assert await case_state(world, case_id) == before
    assert (await browser.get("/cases")).status == 200


WEB_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


async def test_headers_on_every_page(ww: WebWorld) -> None:
    world = ww.world
    case_id = await make_case(world, world.url("nl"))
    await world.run_until_idle()
    pages: list[tuple[Browser, str]] = []
    anonymous = await ww.browser()
    pages += [(anonymous, p) for p in ("/", "/cases", "/no-such-page", "/static/style.css")]
    for user, paths in {
        "analyst": ["/", "/cases", f"/cases/{case_id}", "/intake", "/stats", "/account",
                    "/admin/users", "/cases/999999", "/cases/abc"],
        "nl": ["/", "/inbox", f"/cases/{case_id}"],
        "coordinator": ["/", "/stats"],
        "admin": ["/", "/admin/users", "/admin/settings", "/admin/partners"],
    }.items():
        browser = await ww.browser(user)
        pages += [(browser, p) for p in paths]
    for browser, path in pages:
        page = await browser.get(path)
        for name, value in WEB_HEADERS.items():
            assert page.headers.get(name) == value, (path, name, page.headers.get(name))
        if not path.startswith("/static/"):
            assert page.headers.get("Cache-Control") == "no-store", path
        if page.headers.get("Content-Type", "").startswith("text/html"):
            assert "<script" not in page.text and "style=" not in page.text
            assert "<style" not in page.text
    # POST answers (an intake result, a 403) carry them too.
    analyst = await ww.browser("analyst")
    for page in (await analyst.post("/intake", {"urls": world.url("de")}),
                 await analyst.post("/intake", {"urls": world.url("de")}, csrf="bad")):
        for name, value in WEB_HEADERS.items():
            assert page.headers.get(name) == value
        assert page.headers.get("Cache-Control") == "no-store"


class Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.values.extend((tag, k, v or "") for k, v in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def attributes_holding_the_host(html: str) -> list[tuple[str, str, str]]:
    parser = Attributes()
    parser.feed(html)
    return [(tag, k, v) for tag, k, v in parser.values
            if any(h in v.lower() for h in EVIL_HOSTS)]


async def test_no_reported_host_in_any_attribute(ww: WebWorld) -> None:
    world = ww.world
    # One that resolves (to the US host: notices, checks, facts) and one that never does.
    world.zone.add("evil.example.com", "A", "127.0.3.1")
    port = world.hosts["us"].port
    resolving = await make_case(world, f"http://evil.example.com:{port}/img/1.jpg")
    plain = await make_case(world, EVIL_URL)
    nl_case = await make_case(world, world.url("nl"))
    await world.run_until_idle()
    await world.end_gathering()
    await world.advance(timedelta(seconds=2))  # notices go, checks run
    analyst = await ww.browser("analyst")
    seen = []
    for path in ("/", "/cases", f"/cases/{resolving}", f"/cases/{plain}", "/stats", "/intake",
                 "/cases?host=example", "/account"):
        seen.append(await analyst.get(path))
    seen.append(await analyst.post("/intake", {"urls": EVIL_URL + "\n" + EVIL_URL + "x y"}))
    detail = seen[2].text
    assert "evil[.]example[.]com" in detail            # shown, defanged, as text
    assert "hxxp://evil[.]example[.]com" in detail
    assert "Notice #" in detail and "No notice yet" not in detail
    assert "No check yet" not in detail and "Not resolved yet" not in detail
    admin = await ww.browser("admin")
    for path in ("/", "/admin/users", "/admin/settings", "/admin/partners",
                 f"/cases/{resolving}"):
        seen.append(await admin.get(path))
    nl = await ww.browser("nl")
    seen.append(await nl.get("/inbox"))
    seen.append(await nl.get(f"/cases/{nl_case}"))
    for page in seen:
        assert page.status in (200, 400), (page.url, page.status)
        assert attributes_holding_the_host(page.text) == [], page.url
        assert "evil.example.com" not in page.text, page.url  # not even as text
    # Every POST form carries the CSRF token.
    for page in seen:
        for form in forms_of(page.text):
            if form["method"] == "post":
                assert form["inputs"].get("csrf_token"), (page.url, form)
