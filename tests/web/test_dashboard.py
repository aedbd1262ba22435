"""The coordinator's dashboard (/stats, /stats.csv) and the public summary
(/public/stats) over HTTP, on SQLite and PostgreSQL: the filters reach the figures,
the charts are there with a table beside each, the CSV link gives the same query's
CSV, and the public page is a 404 unless switched on, then shows aggregates only:
no URL, no host, no network, no group below the minimum."""

from __future__ import annotations

import csv
import io
import random
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

from sqlalchemy import select

from nttd.models import Case, Hotline
from nttd.stats import StatsQuery, stats_for
from nttd.stats.survival import group_samples, kaplan_meier
from tests.integration.world import World
from tests.stats.cases import new_case, reference_samples
from tests.web.conftest import WebWorld, web_world

COUNTS = {"NL": 30, "DE": 20, "FR": 4}  # FR: below the minimum of 10


async def seed(world: World, seed_: int = 7) -> list[Case]:
    """Cases with known hosts, confirmed over the last 8 weeks; some still online."""
    rng = random.Random(seed_)
    now = world.svc.clock()
    async with world.svc.sessions() as session, session.begin():
        nl_partner = await session.scalar(select(Hotline.id).where(
            Hotline.code == "nl-partner"))
        cases: list[Case] = []
        i = 0
        for country, n in COUNTS.items():
            for _ in range(n):
                i += 1
                confirmed = now - timedelta(days=rng.randint(1, 56),
                                            seconds=rng.randint(0, 86399))
                values: dict[str, Any] = {"classification": "1A" if i % 3 else "2"}
                if rng.random() < 0.75:
                    values.update(status="removed", removed_at=confirmed + timedelta(
                        seconds=rng.randint(60, 5 * 86400)))
                if country == "NL" and i % 2:
                    values.update(route_kind="partner", route_hotline_id=nl_partner)
                cases.append(new_case(i, country, confirmed,
                                      host=f"seeded-{i}.example.com", **values))
        session.add_all(cases)
    return cases


def svgs(html: str) -> list[ET.Element]:
    found = re.findall(r"<svg .*?</svg>", html, flags=re.S)
    return [ET.fromstring(s) for s in found]  # noqa: S314 - our own page


def row_labels(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<th scope="row">([^<]*)</th>', html)]


def summary_count(html: str) -> int:
    match = re.search(r"All cases counted: <strong>(\d+)</strong>", html)
    assert match, html[:2000]
    return int(match.group(1))


async def test_dashboard_draws_every_chart_beside_its_table(ww: WebWorld) -> None:
    await seed(ww.world)
    coordinator = await ww.browser("coordinator")
    page = await coordinator.get("/stats")
    assert page.status == 200, page.text[:2000]
    html = page.text
    assert "style=" not in html and "<script" not in html
    charts = svgs(html)
    assert len(charts) == 4  # curves, medians, weekly trend, chase steps
    for section in ("curves", "medians", "trend", "steps"):
        part = html.split(f'id="{section}"')[1].split("</section>")[0]
        assert "<svg " in part and '<table class="figures">' in part, section
    assert summary_count(html) == sum(COUNTS.values())
    labels = row_labels(html)
    assert {"NL", "DE", "FR"} <= set(labels)
    assert "too few cases for an estimate" in html  # FR
    medians = html.split('id="medians"')[1].split("</svg>")[0]
    assert "NL:" in medians and "FR:" not in medians  # FR is not drawn
    assert "League table" in html and "AS64501 NL-HOSTING" in html
    assert "Definitions" in html and "right-censored" in html
    assert 'href="/stats.csv"' in html


async def test_the_filters_reach_the_figures_and_the_csv(ww: WebWorld) -> None:
    cases = await seed(ww.world)
    coordinator = await ww.browser("coordinator")
    page = await coordinator.get("/stats?group_by=country&country=de&classification=1A")
    assert page.status == 200
    expected = [c for c in cases if c.country == "DE" and c.classification == "1A"]
    assert summary_count(page.text) == len(expected)
    assert "NL" not in row_labels(page.text)
    assert 'value="1A"' in page.text  # the form keeps what was asked
    link = re.search(r'href="(/stats\.csv\?[^"]*)"', page.text)
    assert link
    target = unescape(link.group(1))
    assert "country=de" in target and "classification=1A" in target
    download = await coordinator.get(target)
    assert download.status == 200
    assert download.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["group"], int(r["cases"])) for r in rows] == [("DE", len(expected))]

    page = await coordinator.get("/stats?group_by=asn&route=partner")
    assert summary_count(page.text) == sum(1 for c in cases if c.route_kind == "partner")
    assert "AS64501 NL-HOSTING" in row_labels(page.text)
    assert "AS64502 DE-HOSTING" not in row_labels(page.text)

    page = await coordinator.get("/stats?group_by=week&partner=nl-partner")
    assert summary_count(page.text) == sum(1 for c in cases if c.route_kind == "partner")
    weeks = {(c.confirmed_at - timedelta(days=c.confirmed_at.weekday())).date().isoformat()
             for c in cases if c.route_kind == "partner"}
    assert set(row_labels(page.text)) - {"All", "(unknown)"} >= weeks
    assert "No week has enough cases" in page.text  # 15 cases over 8 weeks: under 10 each

    bad = await coordinator.get("/stats?country=Netherlands")
    assert bad.status == 400 and "two-letter" in bad.text
    assert (await coordinator.get("/stats.csv?group_by=nope")).status == 400
    partner = await ww.browser("nl")
    assert (await partner.get("/stats.csv")).status == 403


async def test_the_curve_is_the_kaplan_meier_of_the_group(ww: WebWorld) -> None:
    world = ww.world
    cases = await seed(world)
    async with world.svc.read_sessions() as session:
        result = await stats_for(session, StatsQuery(group_by="country"),
                                 now=world.svc.clock(), curves=True)
    by_group = {r["group"]: r for r in result["groups"]}
    assert by_group["FR"]["curve"] is None  # below the minimum
    for country in ("NL", "DE"):
        samples = reference_samples([c for c in cases if c.country == country],
                                    "time_to_removal", world.svc.clock())
        km = kaplan_meier(group_samples(samples))
        curve = by_group[country]["curve"]
        assert curve["last_time"] == km.last_time
        assert curve["points"] == [[s.time, s.survival, s.lower, s.upper] for s in km.steps]
    async with world.svc.read_sessions() as session:
        plain = await stats_for(session, StatsQuery(), now=world.svc.clock())
    assert "curve" not in plain["groups"][0]  # the API's answer is unchanged


async def test_the_public_page_is_off_by_default(ww: WebWorld) -> None:
    await seed(ww.world)
    for user in (None, "coordinator"):
        browser = await ww.browser(user)
        page = await browser.get("/public/stats")
        assert page.status == 404
        assert "seeded-" not in page.text


async def test_the_public_page_shows_aggregates_only(database_url: str,
                                                     tmp_path: Path) -> None:
    async with web_world(database_url, tmp_path, NTTD_PUBLIC_STATS="1") as ww:
        world = ww.world
        cases = await seed(world)
        # A case through the whole service too: its host is known to the world.
        await world.api("POST", "/api/v1/cases", json={"urls": [world.url("nl")]})
        await world.run_until_idle()
        anonymous = await ww.browser()
        page = await anonymous.get("/public/stats")
        assert page.status == 200, page.text[:2000]
        html = page.text
        assert "Sign out" not in html and "/cases" not in html
        assert len(svgs(html)) == 3
        assert {"NL", "DE"} <= set(row_labels(html))
        assert "FR" not in row_labels(html)  # below the minimum: left out
        assert "too few" not in html
        lowered = html.lower().replace('xmlns="http://www.w3.org/2000/svg"', "")
        for case in cases:
            assert case.host is not None and case.host.lower() not in lowered
        for text in ("http", "example.com", "example[.]com", "hxxp", "-hosting", "as6450",
                     "registrar, inc", "nl-partner"):
            assert text not in lowered, text
        assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")


async def test_the_public_page_with_too_few_cases_says_so(database_url: str,
                                                          tmp_path: Path) -> None:
    async with web_world(database_url, tmp_path, NTTD_PUBLIC_STATS="1",
                         NTTD_STATS_MIN_GROUP="1000") as ww:
        await seed(ww.world)
        page = await (await ww.browser()).get("/public/stats")
        assert page.status == 200
        assert "Not enough cases yet" in page.text
        assert "<svg" not in page.text and row_labels(page.text) == []
