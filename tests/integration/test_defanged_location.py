"""A check's Location header, shown to people: defanged, whatever scheme it names, and
cut to 500 characters with a marker; the API keeps the header as recorded for machines."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from linkify_it import LinkifyIt
from linkify_it.tlds import TLDS

from tests.integration.world import PATH, running_world

LINKIFY = LinkifyIt(options={"fuzzy_link": True, "fuzzy_email": True, "fuzzy_ip": True})
LINKIFY.tlds(TLDS)
LINKIFY.add("javascript:", {"validate": re.compile(r"^\S+")})


async def test_location_headers_are_defanged_and_cut(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h") as world:
        world.hosts["us"].route(PATH, status=302,
                                headers={"Location": "javascript:alert(1)//" + "A" * 8000})
        world.hosts["gb"].route(PATH, status=301, headers={
            "Location": "http://evil.example.com/x?u=//evil.example.org/y.jpg"})
        ids = {}
        for site in ("us", "gb"):
            _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url(site)]})
            ids[site] = body["cases"][0]["id"]
        await world.advance(timedelta(hours=1))

        long = (await world.case(ids["us"]))["checks"][0]
        assert long["location"].startswith("javascript:alert(1)//AAAA")  # as recorded
        assert len(long["location"]) > 2000
        shown = long["location_defanged"]
        assert len(shown) <= 500
        assert shown.startswith("javascript[:]alert(1)/[/]AAAA")
        assert re.search(r"…\[\+\d+ chars\]$", shown)
        assert not LINKIFY.test(shown)

        away = (await world.case(ids["gb"]))["checks"][0]
        assert away["location_defanged"] == (
            "hxxp://evil[.]example[.]com/x?u=/[/]evil[.]example[.]org/y.jpg")
        assert not LINKIFY.test(away["location_defanged"])
