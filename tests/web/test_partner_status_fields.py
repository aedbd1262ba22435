"""The admin edits a partner's status_url and status_token in the browser: the token
is never shown, a blank field keeps it, a bad value is refused and changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from nttd.models import Hotline
from tests.web.conftest import web_world

TOKEN = "nttd_token-issued-by-the-partner-0123456789"


async def nl(world) -> Hotline:  # type: ignore[no-untyped-def]
    async with world.svc.sessions() as session:
        found = await session.scalar(select(Hotline).where(Hotline.code == "nl-partner"))
        assert found is not None
        return found


async def test_the_admin_sets_the_status_fields_and_the_token_stays_hidden(
    database_url: str, tmp_path: Path
) -> None:
    async with web_world(database_url, tmp_path) as ww:
        world = ww.world
        admin = await ww.browser("admin")
        before = await nl(world)
        form = {"name": "Partner Hotline NL", "countries": "NL", "language": "nl",
                "webhook_url": before.webhook_url or "", "webhook_secret": "",
                "status_url": "http://127.0.0.1:8081/", "status_token": TOKEN}
        page = await admin.post("/admin/partners/nl-partner", form)
        assert page.status == 200 and "Partner nl-partner saved." in page.text, page.text[:500]
        saved = await nl(world)
        assert (saved.status_url, saved.status_token) == ("http://127.0.0.1:8081", TOKEN)
        assert saved.webhook_secret == before.webhook_secret
        listing = (await admin.get("/admin/partners")).text
        assert TOKEN not in listing and "token set" in listing

        # A blank token keeps the stored one.
        page = await admin.post("/admin/partners/nl-partner", form | {"status_token": ""})
        assert page.status == 200
        assert (await nl(world)).status_token == TOKEN
        # A bad status URL is refused and changes nothing.
        page = await admin.post("/admin/partners/nl-partner",
                                form | {"status_url": "ftp://nttd.example"})
        assert page.status == 400 and "status_url" in page.text
        assert (await nl(world)).status_url == "http://127.0.0.1:8081"
        # Emptying the status URL removes both.
        page = await admin.post("/admin/partners/nl-partner", form | {"status_url": ""})
        assert page.status == 200
        cleared = await nl(world)
        assert cleared.status_url is None and cleared.status_token is None
