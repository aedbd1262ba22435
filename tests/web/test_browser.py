"""The web UI in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright;
never `playwright install`): an analyst submits URLs by the form and by a CSV file,
watches a case go from received to monitoring (the workers run in-process on the
test world's clock), holds and releases it; the partner hotline acknowledges its
case. On every page: no anchor, image, frame or form points at a reported host or
anywhere but the service, no request leaves the service's origin, and the console
shows no CSP violation. Screenshots go to $NTTD_SCREENSHOTS (default: a temp dir).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.world import SITES, World
from tests.web.conftest import PASSWORD, web_world

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE = bool(os.environ.get("CI") or os.environ.get("NTTD_REQUIRE_BROWSER"))
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
REPORTED_HOSTS = [site.hostname for site in SITES.values()]
LINK_ATTRIBUTES = """() => [...document.querySelectorAll(
    'a, img, iframe, frame, form, link, script, source, object, embed, area')
    ].map(e => ({tag: e.tagName,
    values: ['href', 'src', 'action', 'srcset', 'data', 'formaction', 'poster']
        .map(a => e.getAttribute(a)).filter(v => v !== null)}))"""


def screenshots_dir() -> Path:
    folder = Path(os.environ.get("NTTD_SCREENSHOTS") or
                  Path(tempfile.gettempdir()) / "nttd-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if REQUIRE:
            pytest.fail(message + " — required in CI", pytrace=False)
        pytest.skip(message)
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class Watch:
    """Everything a page did that it must not: requests elsewhere, CSP reports."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.foreign: list[str] = []
        self.console: list[str] = []
        self.pages = 0

    def attach(self, page: Any) -> None:
        page.on("request", self._request)
        page.on("console", lambda msg: self.console.append(msg.text))
        page.on("pageerror", lambda exc: self.console.append(str(exc)))

    def _request(self, request: Any) -> None:
        if not request.url.startswith(self.origin + "/"):
            self.foreign.append(request.url)

    async def check(self, page: Any, name: str | None = None) -> None:
        """The rules, on the page as it is now."""
        self.pages += 1
        assert page.url.startswith(self.origin + "/"), page.url
        for element in await page.evaluate(LINK_ATTRIBUTES):
            for value in element["values"]:
                lowered = value.lower()
                assert not any(h in lowered for h in REPORTED_HOSTS), (page.url, element)
                assert "[.]" not in lowered, (page.url, element)
                assert (value.startswith("/") and not value.startswith("//")) or \
                    value.startswith(self.origin + "/"), (page.url, element)
        html = await page.content()
        assert not any(h in html for h in REPORTED_HOSTS), page.url  # defanged everywhere
        assert self.foreign == [], self.foreign
        violations = [m for m in self.console
                      if "content security policy" in m.lower() or "refused to" in m.lower()]
        assert violations == [], violations
        if name:
            await page.screenshot(path=str(screenshots_dir() / f"{name}.png"), full_page=True)


async def sign_in(page: Any, world: World, name: str) -> None:
    await page.goto(world.base_url + "/")
    await page.fill("input[name=username]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")


async def status_of(world: World, case_id: int) -> str:
    return str((await world.case(case_id))["status"])


async def test_analyst_and_partner_in_a_browser(database_url: str, tmp_path: Path,
                                                chromium: Any) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the browser runs once, on SQLite; the HTTP tests cover PostgreSQL")
    async with web_world(database_url, tmp_path) as ww:
        world = ww.world
        watch = Watch(world.base_url)
        context = await chromium.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        watch.attach(page)

        await page.goto(world.base_url + "/")
        await watch.check(page, "01-sign-in")
        await sign_in(page, world, "analyst")
        await page.wait_for_selector("h1:has-text('Cases')")
        await watch.check(page, "02-cases-empty")

        # One URL by the form.
        await page.click("a[href='/intake']")
        await watch.check(page, "03-intake")
        await page.fill("input[name=url]", world.url("us"))
        await page.fill("form:has(input[name=url]) input[name=reference]", "REF-1")
        await page.click("form:has(input[name=url]) button[type=submit]")
        await page.wait_for_selector("tr.created")
        await watch.check(page, "04-intake-result")
        link = page.locator("tr.created a").first
        case_id = int((await link.inner_text()).split("#")[-1])

        # A CSV file: the URL in the second column, a reference, one invalid line.
        csv_text = ("reference,address,notes\n"
                    f"CSV-1,{world.url('nl')},x\n"
                    "CSV-2,not a url,y\n"
                    f"CSV-3,{world.url('us')},z\n")
        await page.set_input_files("input[name=file]", files=[{
            "name": "batch.csv", "mimeType": "text/csv", "buffer": csv_text.encode()}])
        await page.fill("input[name=url_column]", "address")
        await page.click("form[action='/intake/csv'] button[type=submit]")
        await page.wait_for_selector("section.results")
        assert await page.locator("tr.created").count() == 1
        assert await page.locator("tr.invalid").count() == 1
        assert await page.locator("tr.duplicate").count() == 1
        assert f"#{case_id}" in await page.locator("tr.duplicate").inner_text()
        await watch.check(page, "05-csv-result")
        nl_case = int((await page.locator("tr.created a").first.inner_text()).split("#")[-1])

        # From received to monitoring, the workers driven on the world's clock.
        await page.goto(f"{world.base_url}/cases/{case_id}")
        assert "received" in await page.locator("h1 .status").inner_text()
        await world.wait_status(case_id, "monitoring")
        await world.wait_status(nl_case, "monitoring", "routed")
        await page.reload()
        assert "monitoring" in await page.locator("h1 .status").inner_text()
        await watch.check(page, "06-case-monitoring")

        # Hold, then release.
        await page.fill("form[action$='/hold'] input[name=note]", "police asked")
        await page.click("form[action$='/hold'] button")
        await page.wait_for_selector("h1 .status:has-text('hold')")
        assert await status_of(world, case_id) == "hold"
        await watch.check(page, "07-case-on-hold")
        await page.click("form[action$='/release'] button")
        await page.wait_for_selector("h1 .status:has-text('monitoring')")
        assert await status_of(world, case_id) == "monitoring"
        await watch.check(page)

        await page.goto(world.base_url + "/cases?route=partner")
        await watch.check(page, "08-cases-filtered")
        await page.goto(world.base_url + "/stats")
        await watch.check(page, "09-stats")
        await page.click("button:has-text('Sign out')")
        await page.wait_for_selector("input[name=password]")

        # The partner hotline: its inbox, the case marked new, acknowledged in bulk.
        partner = await (await chromium.new_context()).new_page()
        watch.attach(partner)
        await sign_in(partner, world, "nl")
        await partner.wait_for_selector("h1:has-text('Inbox')")
        row = partner.locator(f"tr:has(a[href='/cases/{nl_case}'])")
        assert "new" in await row.inner_text()
        assert await partner.locator("tbody tr").count() == 1  # nothing of anyone else
        await watch.check(partner, "10-partner-inbox")
        await row.locator("input[type=checkbox]").check()
        await partner.select_option("select[name=status]", "acknowledged")
        await partner.fill("form[action='/inbox/report'] input[name=note]", "on it")
        await partner.click("form[action='/inbox/report'] button[type=submit]")
        await partner.wait_for_selector("ul.outcomes")
        assert "recorded" in await partner.locator("ul.outcomes").inner_text()
        assert "new" not in await partner.locator(
            f"tr:has(a[href='/cases/{nl_case}']) td:nth-child(2)").inner_text()
        await watch.check(partner, "11-partner-acknowledged")
        timeline = (await world.case(nl_case))["timeline"]
        assert any(e["kind"] == "reported_acknowledged" for e in timeline)
        await partner.goto(f"{world.base_url}/cases/{nl_case}")
        await watch.check(partner, "12-partner-case")
        await partner.goto(f"{world.base_url}/cases/{case_id}")  # not routed to nl
        assert "404" in await partner.locator("h1").inner_text()

        # The admin's pages.
        admin = await (await chromium.new_context()).new_page()
        watch.attach(admin)
        await sign_in(admin, world, "admin")
        await admin.wait_for_selector("h1:has-text('Users')")
        await watch.check(admin, "13-admin-users")
        await admin.goto(world.base_url + "/admin/settings")
        await watch.check(admin, "14-admin-settings")
        assert watch.pages >= 15
