"""Retention: closed cases are anonymised after NTTD_RETENTION, and the statistics
are the same before and after; the audit trail still verifies."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from nttd.cases import verify_audit_trail
from nttd.cases.retention import anonymous_host
from nttd.models import Case, Check, CheckSchedule, Event, Notice
from tests.integration.world import PATH, World, running_world

GROUPS = ["country", "asn", "partner", "registrar", "tld", "route", "classification", "week"]


async def all_stats(world: World) -> dict[str, Any]:
    figures = {}
    for group in GROUPS:
        status, body = await world.api("GET", f"/api/v1/stats?group_by={group}",
                                       user="coordinator")
        assert status == 200, body
        body.pop("generated_at")
        figures[group] = body
    status, body = await world.api("GET", "/api/v1/stats?group_by=asn&league=true",
                                   user="coordinator")
    body.pop("generated_at")
    figures["league"] = body
    return figures


async def test_closed_cases_are_anonymised_and_the_statistics_do_not_change(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(
        database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h", NTTD_REAPPEARANCE_SCHEDULE="1h",
        NTTD_REMOVAL_CONFIRM_SPACING="10m", NTTD_REAPPEARANCE_WINDOW="2h",
        NTTD_RETENTION="3d", NTTD_STATS_MIN_GROUP="1",
    ) as world:
        status, body = await world.api("POST", "/api/v1/cases", json={
            "urls": [world.url("us", PATH + "?id=secret-query"), world.url("gb"),
                     world.url("nl"), world.url("de")],
            "classification": "baseline", "reference": "REF-RETAIN"})
        assert status == 201, body
        ids = [c["id"] for c in body["cases"]]
        await world.run_until_idle()
        await world.advance(timedelta(hours=5))
        for site in ("us", "gb", "nl"):
            world.hosts[site].route(PATH, status=410)
        await world.advance(timedelta(hours=5))
        # The DE case never comes down; an analyst closes it (censored at closure).
        async with world.svc.sessions() as session, session.begin():
            await session.execute(update(Case).where(Case.id == ids[3]).values(
                status="closed", updated_at=world.svc.clock()))
            await session.execute(update(CheckSchedule).where(CheckSchedule.case_id == ids[3])
                                  .values(next_check_at=None))
        await world.run_until_idle()
        statuses = {c: (await world.case(c))["status"] for c in ids}
        assert set(statuses.values()) == {"closed"}, statuses

        before = await all_stats(world)
        async with world.svc.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Check)) > 0
        await world.advance(timedelta(days=2))
        later = await all_stats(world)
        assert later == before
        cases = {c: await world.case(c) for c in ids}
        assert "secret-query" in cases[ids[0]]["url"]  # not yet: retention is 3 days

        await world.advance(timedelta(days=2))  # past the retention
        after = await all_stats(world)
        assert after == before

        for case_id in ids:
            case = await world.case(case_id)
            text = json_text(case)
            assert "secret-query" not in text and PATH not in text and "REF-RETAIN" not in text
            assert case["url"] == "http://example.com/" and case["status"] == "closed"
            assert [e["kind"] for e in case["timeline"]][-1] == "anonymised"
            assert set(e["kind"] for e in case["timeline"]) == {"pruned", "anonymised"}
            assert case["checks"] == []
        async with world.svc.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Check)) == 0
            bodies = list(await session.scalars(select(Notice.body)))
            assert bodies and all(b is None for b in bodies)
            pruned = await session.scalar(select(func.count()).select_from(Event)
                                          .where(Event.kind == "pruned"))
            report = await verify_audit_trail(session)
        assert report.ok, report.problem
        assert report.pruned == pruned and pruned > 10


def json_text(value: Any) -> str:
    return json.dumps(value)


def test_what_is_kept_of_a_host() -> None:
    assert anonymous_host("files.cdn.example.co.uk") == "example.co.uk"
    assert anonymous_host("WWW.Example.COM.") == "example.com"
    assert anonymous_host("192.0.2.77") == "192.0.2.0"
    assert anonymous_host("[2001:db8:1:2::7]") == "2001:db8:1::"
