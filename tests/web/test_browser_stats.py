"""The statistics pages in headless Chromium (the pattern of test_browser.py): the
coordinator's dashboard, filtered, and the public summary; no CSP violation, no
request leaves the service, no reported host on the page. Screenshots go to
$NTTD_SCREENSHOTS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import web_world
from tests.web.test_browser import Watch, chromium, sign_in
from tests.web.test_dashboard import seed

pytestmark = pytest.mark.browser
__all__ = ["chromium"]  # the fixture


async def test_dashboard_and_public_page_in_a_browser(database_url: str, tmp_path: Path,
                                                      chromium: Any) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the browser runs once, on SQLite; the HTTP tests cover PostgreSQL")
    async with web_world(database_url, tmp_path, NTTD_PUBLIC_STATS="1") as ww:
        world = ww.world
        cases = await seed(world)
        watch = Watch(world.base_url)
        context = await chromium.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        watch.attach(page)

        await sign_in(page, world, "coordinator")
        await page.wait_for_selector("h1:has-text('Time to removal')")
        await watch.check(page, "20-dashboard")
        assert await page.locator("svg.chart").count() == 4  # curves, medians, trend, chase steps
        assert await page.locator("svg.chart polygon.band").count() >= 2
        # The filters, by the form.
        await page.select_option("select[name=group_by]", "asn")
        await page.fill("input[name=country]", "NL")
        await page.click("form.filters button[type=submit]")
        await page.wait_for_url("**/stats?group_by=asn*")
        assert "AS64501" in await page.locator("#medians table").inner_text()
        assert "AS64502" not in await page.locator("#medians table").inner_text()
        await watch.check(page, "21-dashboard-filtered")
        # A chart's tooltip is its <title>; it styles only by class.
        assert await page.locator("svg [style]").count() == 0
        async with page.expect_download() as download:
            await page.click("a.download")
        saved = await (await download.value).path()
        assert "AS64501" in Path(saved).read_text()
        html = await page.content()
        assert not any(c.host in html for c in cases if c.host)

        public = await (await chromium.new_context(viewport={"width": 1280, "height": 900})
                        ).new_page()
        watch.attach(public)
        await public.goto(world.base_url + "/public/stats")
        await public.wait_for_selector("h1:has-text('How fast')")
        assert await public.locator("svg.chart").count() == 3
        await watch.check(public, "22-public-stats")
        html = await public.content()
        assert not any(c.host in html for c in cases if c.host)
        assert watch.pages == 3
