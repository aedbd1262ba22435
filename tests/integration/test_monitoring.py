"""Re-checks through the running service, over HTTP, on SQLite and PostgreSQL: a flaky
host is never removed, removal then reappearance reopens the case and the
statistics count it, a vanished name is dns_gone, and history is pruned to the
checks that mattered after closure."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from nttd.checks import prune_check_history
from nttd.models import Case, Check
from tests.integration.world import PATH, SITES, World, running_world


async def submit(world: World, *sites: str) -> dict[str, int]:
    status, body = await world.api("POST", "/api/v1/cases", json={
        "urls": [world.url(s) for s in sites], "reference": "REF-M"})
    assert status == 201, body
    return {s: c["id"] for s, c in zip(sites, body["cases"], strict=True)}


async def checks_of(world: World, case_id: int) -> list[dict[str, Any]]:
    return list((await world.case(case_id))["checks"])


async def test_flaky_host_is_not_removed(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path) as world:
        # Never two gone verdicts in a row: 404s between 200s, 503s and timeouts.
        world.hosts["us"].route(PATH, cycle=(404, 200, 404, 503, 404, 200))
        ids = await submit(world, "us")

        async def enough() -> bool:
            return len(await checks_of(world, ids["us"])) >= 9

        await world.wait_for("nine checks", enough, timeout=30)
        case = await world.case(ids["us"])
        assert case["status"] == "monitoring"
        assert case["clocks"]["removed_at"] is None
        seen = {(c["verdict"], c["status_code"]) for c in case["checks"]}
        assert {("gone", 404), ("online", 200), ("server_error", 503)} <= seen
        for c in case["checks"]:
            assert c["peer_ip"] == SITES["us"].ip and c["method"] == "HEAD"
            assert isinstance(c["latency_ms"], int)


async def test_removal_then_reappearance_reopens_and_is_counted(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path) as world:
        ids = await submit(world, "gb", "de")
        await world.wait_status(ids["gb"], "monitoring")
        world.hosts["gb"].route(PATH, status=410)
        await world.wait_status(ids["gb"], "removed")
        removed = await world.case(ids["gb"])
        world.hosts["gb"].route(PATH, status=200)  # back online
        await world.wait_status(ids["gb"], "reappeared")
        case = await world.case(ids["gb"])
        assert case["clocks"]["removed_at"] is None
        kinds = [e["kind"] for e in case["timeline"]]
        assert "reappeared" in kinds
        event = next(e for e in case["timeline"] if e["kind"] == "reappeared")
        assert event["data"]["removed_at"] == removed["clocks"]["removed_at"]
        status, stats = await world.api("GET", "/api/v1/stats?group_by=country",
                                        user="coordinator")
        assert status == 200
        groups = {g["group"]: g for g in stats["groups"]}
        assert groups["GB"]["reappeared"] == 1
        # Taken down again: removed again, with a new removed_at.
        world.hosts["gb"].route(PATH, status=404)
        await world.wait_status(ids["gb"], "removed")
        again = await world.case(ids["gb"])
        assert again["clocks"]["removed_at"] > removed["clocks"]["removed_at"]

        # The DE name disappears from DNS: dns_gone confirms removal too.
        world.zone.remove(SITES["de"].hostname)
        await world.wait_status(ids["de"], "removed")
        verdicts = [c["verdict"] for c in await checks_of(world, ids["de"])]
        assert verdicts[-2:] == ["dns_gone", "dns_gone"]


async def test_history_after_closure_keeps_the_checks_that_mattered(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_REAPPEARANCE_WINDOW="1s",
                             NTTD_CHECK_RETENTION="1d") as world:
        ids = await submit(world, "nl")
        await world.wait_status(ids["nl"], "monitoring")

        async def checked_twice() -> bool:
            return len(await checks_of(world, ids["nl"])) >= 2

        await world.wait_for("two online checks", checked_twice)
        world.hosts["nl"].route(PATH, status=404)
        await world.wait_status(ids["nl"], "closed")
        before = await checks_of(world, ids["nl"])
        svc = world.svc
        # Too early: everything is kept.
        assert await prune_check_history(svc) == 0
        async with svc.sessions() as session, session.begin():
            await session.execute(update(Case).where(Case.id == ids["nl"])
                                  .values(updated_at=svc.clock() - timedelta(days=2)))
        pruned = await prune_check_history(svc)
        async with svc.sessions() as session:
            kept = list(await session.execute(
                select(Check.verdict, Check.mark).where(Check.case_id == ids["nl"])
                .order_by(Check.checked_at)))
        assert pruned == len(before) - len(kept) > 0
        assert kept[0] == ("online", "first_online")
        assert [m for _, m in kept[1:]] == ["removal"] * (len(kept) - 1)
        assert len(kept) >= 1 + world.settings.removal_confirmations


async def test_check_timeout_setting_bounds_a_hanging_host(
    database_url: str, tmp_path: Path
) -> None:
    # With the default 15 s timeout this check would not be recorded within 10 s.
    async with running_world(database_url, tmp_path, NTTD_CHECK_TIMEOUT="300ms") as world:
        world.hosts["gb"].route(PATH, hang=True)
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("gb")]})
        case_id = body["cases"][0]["id"]

        async def checked() -> bool:
            return bool((await world.case(case_id))["checks"])

        await world.wait_for("a check of the hanging host", checked, timeout=10)
        check = (await world.case(case_id))["checks"][0]
        assert (check["verdict"], check["error"]) == ("unreachable", "timeout")
