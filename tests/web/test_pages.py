"""The analysts' list filters (query layer and page), intake per line (paste and CSV),
and the partner's bulk report."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import update

from nttd.auth import Principal, Role
from nttd.cases import CaseFilter, QueryError, list_cases
from nttd.models import Case
from tests.web.conftest import WebWorld
from tests.web.test_safety import make_case

ANALYST = Principal(1, "analyst", Role.ANALYST, None)


async def test_list_filters(ww: WebWorld) -> None:
    world = ww.world
    ids = {site: await make_case(world, world.url(site)) for site in ("nl", "de", "us", "gb")}
    odd = await make_case(world, "http://a_b.example.org/x.jpg")
    await world.run_until_idle()
    async with world.svc.sessions() as session, session.begin():
        await session.execute(update(Case).where(Case.id == ids["us"])
                              .values(classification="1A"))

    async def listed(**where: object) -> list[int]:
        async with world.svc.read_sessions() as session:
            page = await list_cases(session, ANALYST, CaseFilter(**where))  # type: ignore[arg-type]
        return sorted(c["id"] for c in page["cases"])

    assert await listed(country="NL") == [ids["nl"]]
    assert await listed(country="nl") == [ids["nl"]]
    assert await listed(partner="de-partner") == [ids["de"]]
    assert await listed(partner="nl-partner") == [ids["nl"]]
    assert await listed(route="partner") == sorted([ids["nl"], ids["de"]])
    assert await listed(route="direct") == sorted([ids["us"], ids["gb"]])
    assert await listed(route="none") == [odd]
    assert await listed(classification="1A") == [ids["us"]]
    assert await listed(host="GB-FILES") == [ids["gb"]]
    assert await listed(host="_") == [odd]          # a wildcard matches only itself
    assert await listed(host="%") == []
    assert await listed(host="files", country="DE") == [ids["de"]]
    assert await listed(limit=2) == sorted([odd, ids["gb"]])  # newest first
    for bad in ({"country": "NLD"}, {"route": "elsewhere"}, {"host": "x" * 300}):
        with pytest.raises(QueryError):
            CaseFilter(**bad)  # type: ignore[arg-type]

    browser = await ww.browser("analyst")
    page = await browser.get("/cases?route=partner&country=DE")
    assert page.status == 200
    assert f'href="/cases/{ids["de"]}"' in page.text
    assert f'href="/cases/{ids["nl"]}"' not in page.text
    page = await browser.get("/cases?route=nowhere")
    assert page.status == 400 and "route must be one of" in page.text


async def test_paging(ww: WebWorld) -> None:
    world = ww.world
    urls = [f"http://files.example.org/{n}.jpg" for n in range(60)]
    status, _ = await world.api("POST", "/api/v1/cases", json={"urls": urls})
    assert status == 201
    browser = await ww.browser("analyst")
    first = await browser.get("/cases")
    assert "Page 1 of 2" in first.text and 'href="/cases?page=2"' in first.text
    second = await browser.get("/cases?page=2")
    assert "Page 2 of 2" in second.text and second.text.count('<a href="/cases/') == 10


async def test_intake_result_per_line(ww: WebWorld) -> None:
    world = ww.world
    existing = await make_case(world, world.url("us"))
    browser = await ww.browser("analyst")
    await browser.get("/intake")
    page = await browser.post("/intake", {
        "urls": f"{world.url('gb')}\n\nftp://files.example.com/a.jpg\n{world.url('us')}\n"
                f"{world.url('gb')}",
        "classification": "1B", "reference": "BATCH-7"})
    assert page.status == 200
    rows = page.text.split('<tr class="')[1:]
    outcomes = [(r.split('"')[0], r.split("<td>")[1].split("<")[0]) for r in rows]
    assert outcomes == [("created", "1"), ("invalid", "3"), ("duplicate", "4"),
                        ("duplicate", "5")]
    assert f"#{existing}" in rows[2] and "ftp" in rows[1]
    created = await world.case(existing + 1)
    assert created["classification"] == "1B" and created["reference"] == "BATCH-7"
    # One URL by the single form.
    page = await browser.post("/intake", {"url": world.url("de")})
    assert '<tr class="created">' in page.text
    # Nothing given; a field too long (refuses the lines, stores nothing).
    assert (await browser.post("/intake", {"urls": "  \n"})).status == 400
    page = await browser.post("/intake", {"urls": world.url("nl"), "reference": "r" * 300})
    assert '<tr class="invalid">' in page.text and "reference" in page.text


async def test_intake_csv(ww: WebWorld) -> None:
    world = ww.world
    browser = await ww.browser("analyst")
    await browser.get("/intake")

    def upload(text: str, **columns: str) -> aiohttp.FormData:
        form = aiohttp.FormData()
        form.add_field("csrf_token", browser.csrf)
        for name, value in columns.items():
            form.add_field(name, value)
        form.add_field("file", text.encode(), filename="batch.csv", content_type="text/csv")
        return form

    text = ("Ref;Link;Class;Kind\n"
            f"A-1;{world.url('nl')};1A;image\n"
            "A-2;no url here;1A;image\n"
            f"A-3;{world.url('de')};2B;video\n")
    page = await browser.post("/intake/csv", upload(
        text, url_column="link", classification_column="3", content_type_column="Kind",
        reference_column="ref"))
    assert page.status == 200, page.text
    assert page.text.count('<tr class="created">') == 2
    assert page.text.count('<tr class="invalid">') == 1
    status, body = await world.api("GET", "/api/v1/cases")
    assert status == 200
    by_ref = {c["reference"]: c for c in body["cases"]}
    assert by_ref["A-1"]["classification"] == "1A" and by_ref["A-3"]["content_type"] == "video"
    # A column the file lacks is named, with the columns it has.
    page = await browser.post("/intake/csv", upload(text, url_column="address"))
    assert page.status == 400 and "Link" in page.text and "address" in page.text
    # A CSRF-less upload is refused.
    form = aiohttp.FormData()
    form.add_field("file", text.encode(), filename="b.csv", content_type="text/csv")
    assert (await browser.post("/intake/csv", form)).status == 403


async def test_partner_bulk_report(ww: WebWorld) -> None:
    world = ww.world
    nl_cases = [await make_case(world, world.url("nl", f"/img/{n}.jpg")) for n in range(3)]
    de_case = await make_case(world, world.url("de"))
    await world.advance(timedelta(seconds=1))
    browser = await ww.browser("nl")
    inbox = await browser.get("/inbox")
    assert inbox.text.count('<span class="badge">new</span>') == 3
    assert f'href="/cases/{de_case}"' not in inbox.text
    form = aiohttp.FormData()
    form.add_field("csrf_token", browser.csrf)
    for case_id in [*nl_cases[:2], de_case]:
        form.add_field("case_id", str(case_id))
    form.add_field("status", "notice_sent")
    form.add_field("note", "sent to the host")
    page = await browser.post("/inbox/report", form)
    assert page.status == 200
    assert page.text.count("recorded: notice sent") == 2
    assert f"Case #{de_case}: no such case" in page.text
    assert page.text.count('<span class="badge">new</span>') == 1
    for case_id in nl_cases[:2]:
        kinds = [e["kind"] for e in (await world.case(case_id))["timeline"]]
        assert "reported_notice_sent" in kinds
    kinds = [e["kind"] for e in (await world.case(de_case))["timeline"]]
    assert not any(k.startswith("reported_") for k in kinds)
    # Another hotline's case, alone: no such case.
    page = await browser.post("/inbox/report", {"case_id": str(de_case), "status": "removed"})
    assert page.status == 404
    assert (await browser.get(f"/cases/{de_case}")).status == 404
