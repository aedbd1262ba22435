"""The chase-step breakdown (issue 12, point 3): group_by=step, the last letter of the
chase sent while the case was online (Case.chase_step; for a removed case, the one in
force at its removal), in the statistics, the API and its OpenAPI, the CSV, the
command line and the dashboard (a table and a bar chart of the share of the removals
per step), on SQLite and PostgreSQL. The cases' chase_step is set directly."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from nttd.api.openapi import OPENAPI
from nttd.db import make_sessionmaker
from nttd.models import Case, Hotline
from nttd.stats import StatsQuery, stats_csv, stats_for, stats_table, wilson
from tests.cli import nttd
from tests.integration.world import running_world
from tests.stats.cases import NOW, new_case, reference_summary, store
from tests.web.conftest import web_world

# step: (cases, of which removed); removal after i hours for the i-th removed case.
PLAN = {None: (6, 0), "notice": (14, 9), "reminder-1": (12, 6), "reminder-2": (11, 3),
        "reminder-10": (2, 1), "escalation-host": (10, 4)}
ORDER = ["(none)", "notice", "reminder-1", "reminder-2", "reminder-10", "escalation-host"]


def chase_cases(now: Any = NOW) -> list[Case]:
    cases, i = [], 0
    start = now - timedelta(days=10)
    for step, (count, removed) in PLAN.items():
        for k in range(count):
            i += 1
            values: dict[str, Any] = {"chase_step": step,
                                      "first_notice_at": start + timedelta(minutes=5)}
            if k < removed:
                values.update(status="removed", removed_at=start + timedelta(hours=k + 1))
            cases.append(new_case(i, "NL" if i % 2 else "DE", start, **values))
    return cases


async def test_group_by_step(engine: AsyncEngine) -> None:
    cases = chase_cases()
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, cases)
    async with make_sessionmaker(engine)() as session:
        result = await stats_for(session, StatsQuery(group_by="step"), now=NOW, min_group=10)
        dutch = await stats_for(session, StatsQuery(group_by="step", country="NL"), now=NOW,
                                min_group=1)
    groups = result["groups"]
    assert [g["group"] for g in groups] == ORDER  # in the order the letters go out
    for group in groups:
        step = None if group["group"] == "(none)" else group["group"]
        assert (group["cases"], group["removed"]) == PLAN[step], step
        mine = [c for c in cases if c.chase_step == step]
        for metric in ("time_to_removal", "notice_to_removal"):
            assert group[metric] == reference_summary(mine, metric, 10), (step, metric)
    assert next(g for g in groups if g["group"] == "notice")["time_to_removal"]["median"]
    assert next(g for g in groups if g["group"] == "reminder-10")["too_few"] is True
    assert sum(g["cases"] for g in dutch["groups"]) == sum(1 for c in cases
                                                             if c.country == "NL")
    rows = list(csv.DictReader(io.StringIO(stats_csv(result))))
    assert [(r["group"], int(r["removed"])) for r in rows] == [
        (s, PLAN[None if s == "(none)" else s][1]) for s in ORDER]
    table = stats_table(result).splitlines()
    assert table[0].split()[0] == "step" and table[2].startswith("notice")


async def test_the_api_the_openapi_and_the_command_line(database_url: str,
                                                        tmp_path: Path) -> None:
    parameters = OPENAPI["paths"]["/api/v1/stats"]["get"]["parameters"]
    group_by = next(p for p in parameters if p["name"] == "group_by")
    assert "step" in group_by["schema"]["enum"]
    async with running_world(database_url, tmp_path, NTTD_STATS_MIN_GROUP="10") as world:
        async with world.svc.sessions() as session, session.begin():
            session.add_all(chase_cases(world.svc.clock()))
        status, body = await world.api("GET", "/api/v1/stats?group_by=step",
                                       user="coordinator")
        assert status == 200, body
        assert [(g["group"], g["cases"], g["removed"]) for g in body["groups"]] == [
            (s, *PLAN[None if s == "(none)" else s]) for s in ORDER]
        async with world.http.get(
                f"{world.base_url}/api/v1/stats?group_by=step&format=csv",
                headers={"Authorization": f"Bearer {world.tokens['coordinator']}"}) as resp:
            assert resp.status == 200
            text = await resp.text()
        assert [r["group"] for r in csv.DictReader(io.StringIO(text))] == ORDER
    if not database_url.startswith("sqlite"):
        return
    env = {"NTTD_DATABASE_URL": database_url, "NTTD_STATS_MIN_GROUP": "10"}
    code, out, err = await nttd("stats", "--group-by", "step", "--json", env=env,
                                cwd=tmp_path)
    assert code == 0, err
    assert [g["group"] for g in json.loads(out)["groups"]] == ORDER


async def test_the_dashboard_shows_the_share_of_removals_per_step(
        database_url: str, tmp_path: Path) -> None:
    async with web_world(database_url, tmp_path) as ww:
        world = ww.world
        async with world.svc.sessions() as session, session.begin():
            assert await session.scalar(select(Hotline.id).where(Hotline.code == "nl-partner"))
            session.add_all(chase_cases(world.svc.clock()))
        coordinator = await ww.browser("coordinator")
        for query in ("", "?group_by=step"):
            page = await coordinator.get("/stats" + query)
            assert page.status == 200, page.text[:2000]
            section = page.text.split('id="steps"')[1].split("</section>")[0]
            assert section.count("<svg ") == 1 and "style=" not in section
            rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td>(\d+)</td><td>(\d+)</td>'
                              r'<td>(\d+)</td><td>([^<]*)</td>', section)
            assert [r[0] for r in rows] == ORDER
            removed = sum(PLAN[k][1] for k in PLAN)
            for label, cases, gone, still, share in rows:
                step = None if label == "(none)" else label
                assert (int(cases), int(gone), int(still)) == (
                    PLAN[step][0], PLAN[step][1], PLAN[step][0] - PLAN[step][1])
                expected = wilson(PLAN[step][1], removed)
                assert unescape(share).startswith(f"{100 * expected['estimate']:.1f}%")
            # One bar per step with its share in the tooltip.
            assert f"notice: {100 * 9 / removed:.1f}% (95% CI" in unescape(section)
            assert f"9 of {removed} removals" in unescape(section)
