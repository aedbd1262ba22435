"""GET /api/v1/stats and `nttd stats` over stored cases: JSON with definitions, CSV by
parameter or Accept header, every breakdown, filters, league table, clear 400s."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from nttd.models import Hotline
from nttd.stats import GROUPS
from tests.cli import nttd
from tests.integration.world import World, running_world
from tests.stats.cases import random_cases

COUNTS = {"NL": 30, "DE": 12, "FR": 3}


async def with_cases(world: World) -> None:
    async with world.svc.sessions() as session, session.begin():
        partner = (await session.scalars(
            select(Hotline.id).where(Hotline.code == "nl-partner"))).one()
        cases = random_cases(17, COUNTS)
        for case in cases:
            if case.route_kind == "partner":
                case.route_hotline_id = partner
        session.add_all(cases)


async def get(world: World, query: str, *, user: str = "coordinator",
              accept: str | None = None) -> tuple[int, str, str]:
    headers = {"Authorization": f"Bearer {world.tokens[user]}"}
    if accept is not None:
        headers["Accept"] = accept
    async with world.http.get(f"{world.base_url}/api/v1/stats{query}",
                              headers=headers) as resp:
        return resp.status, resp.content_type, await resp.text()


async def test_stats_api(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path) as world:
        await with_cases(world)
        status, kind, text = await get(world, "?group_by=country")
        assert (status, kind) == (200, "application/json"), text
        body = json.loads(text)
        assert set(body["definitions"]) >= {"time_to_removal", "notice_to_removal",
                                            "time_to_acknowledgement", "hold", "reappearance"}
        groups = {g["group"]: g for g in body["groups"]}
        assert {k: g["cases"] for k, g in groups.items()} == COUNTS
        assert groups["FR"]["too_few"] is True and groups["NL"]["too_few"] is False
        median = groups["NL"]["time_to_removal"]["median"]
        assert median["lower"] <= median["estimate"] <= (median["upper"] or float("inf"))

        for group_by in GROUPS:
            status, _, text = await get(world, f"?group_by={group_by}")
            assert status == 200, (group_by, text)
            assert sum(g["cases"] for g in json.loads(text)["groups"]) == 45

        # Filters and a window.
        status, _, text = await get(world, "?country=de&route=direct&since=2026-05-01T00:00:00Z")
        assert status == 200 and json.loads(text)["filters"] == {"country": "DE",
                                                                 "route": "direct"}
        status, _, text = await get(world, "?partner=nl-partner&group_by=partner")
        assert [g["group"] for g in json.loads(text)["groups"]] == ["nl-partner"]
        status, _, text = await get(world, "?league=true&metrics=time_to_removal")
        league = json.loads(text)["league"]
        assert set(league) == {"asn", "registrar"} and league["asn"]["slowest"]

        # CSV by parameter and by Accept header; JSON when asked for it explicitly.
        for query, accept in [("?format=csv", None), ("", "text/csv"),
                              ("", "text/csv, application/json;q=0.5")]:
            status, kind, text = await get(world, query, accept=accept)
            assert (status, kind) == (200, "text/csv"), (query, accept)
            rows = list(csv.DictReader(io.StringIO(text)))
            assert [r["group"] for r in rows] == ["DE", "FR", "NL"]
            assert rows[1]["too_few"] == "true" and rows[1]["time_to_removal_median_seconds"] == ""
        status, kind, _ = await get(world, "?format=json", accept="text/csv")
        assert kind == "application/json"

        # Bad input: a clear JSON 400 naming what is allowed.
        for query, words in [("?group_by=host", "group_by must be one of"),
                             ("?grop_by=asn", "unknown parameter(s): grop_by"),
                             ("?since=yesterday", "'since'"),
                             ("?since=2026-02-01&until=2026-01-01", "before 'until'"),
                             ("?country=NLD", "two-letter"),
                             ("?route=sideways", "'route' must be one of"),
                             ("?format=xml", "'format' must be json or csv"),
                             ("?league=maybe", "'league'"),
                             ("?metrics=speed", "'metrics'"),
                             ("?country=NL&country=DE", "give each parameter once")]:
            status, kind, text = await get(world, query)
            assert (status, kind) == (400, "application/json"), query
            assert words in json.loads(text)["error"], (query, text)
        assert (await get(world, "", user="nl"))[0] == 403


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_stats_command(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path) as world:
        await with_cases(world)
    env = {"NTTD_DATABASE_URL": database_url, "NTTD_STATS_MIN_GROUP": "5"}
    code, out, err = await nttd("stats", env=env, cwd=tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["country", "cases", "removed", "open"]
    assert lines[2].startswith("FR") and "too few cases" in lines[2]
    assert lines[3].startswith("NL") and "[" in lines[3]
    assert lines[4].startswith("(all)")
    code, out, err = await nttd("stats", "--group-by", "asn", "--country", "NL", "--csv",
                                env=env, cwd=tmp_path)
    rows: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [(r["group"], r["name"]) for r in rows] == [("AS64501", "NL-HOSTING")]
    code, out, err = await nttd("stats", "--json", "--route", "partner", "--league",
                                env=env, cwd=tmp_path)
    assert code == 0 and json.loads(out)["filters"] == {"route": "partner"}
    code, out, err = await nttd("stats", "--since", "soon", env=env, cwd=tmp_path)
    assert code == 2 and "'since'" in err
