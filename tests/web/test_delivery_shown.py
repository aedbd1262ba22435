"""The case page shows where each notice stands: status, attempts, last error, the
next attempt and the envelope sender (defanged, like every address on the page)."""

from __future__ import annotations

from pathlib import Path

from notices.defang import defang
from tests.web.conftest import web_world
from tests.web.test_safety import make_case


async def test_the_case_page_shows_delivery_state_next_attempt_and_envelope_sender(
    database_url: str, tmp_path: Path
) -> None:
    async with web_world(database_url, tmp_path, NTTD_NOTICE_RETRY_SCHEDULE="",
                         NTTD_RECHECK_SCHEDULE="6h") as ww:
        world = ww.world
        world.smtp.rcpt_replies["abuse@us-host.example"] = "451 4.7.1 greylisted, try later"
        case_id = await make_case(world, world.url("us"))
        await world.run_until_idle()
        (notice,) = (await world.case(case_id))["notices"]
        assert notice["status"] == "queued" and notice["attempts"] == 1
        assert notice["next_attempt_at"] and notice["first_failure_at"]
        assert "451" in notice["last_error"] and notice["envelope_from"].startswith("hotline+n")
        browser = await ww.browser("admin")
        page = await browser.get(f"/cases/{case_id}")
        assert page.status == 200
        text = page.text
        assert "queued" in text and "attempts 1" in text and "next attempt" in text
        assert "greylisted" in text and "failing since" in text
        assert "Envelope sender" in text
        shown = defang(notice["envelope_from"])
        assert shown in text.replace("&#43;", "+").replace("&#64;", "@")
        assert notice["envelope_from"] not in text  # never a live address
