"""Reminders over simulated days (NTTD_REMINDER_SCHEDULE, default 24h,48h,72h): the same
host is chased while its cases stay online, each reminder lists only the cases still
online and uses the reminder wording, each is an event on each case, and the chase
ends when the content is removed or held. Manual clock; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from nttd.models import Notice
from tests.integration.world import SITES, World, mails_to, running_world, submit_url, text_part

SECOND = "/img/2.jpg"


async def _kinds(world: World, case_id: int) -> list[tuple[str, Any]]:
    case = await world.case(case_id)
    return [(e["kind"], (e.get("data") or {}).get("number")) for e in case["timeline"]
            if e["kind"].startswith("reminder_")]


async def test_a_host_is_chased_until_its_cases_are_gone(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_NOTICE_BATCH_WINDOW="10m",
                             NTTD_RECHECK_SCHEDULE="1h", NTTD_REMOVAL_CONFIRM_SPACING="1m",
                             NTTD_REAPPEARANCE_SCHEDULE="12h") as world:
        assert world.clock is not None
        world.hosts["us"].route(SECOND, status=200, headers={"Content-Type": "image/jpeg"})
        start = world.clock()
        a = await submit_url(world, world.url("us"))
        b = await submit_url(world, world.url("us", SECOND))
        await world.advance(timedelta(minutes=15))
        address = SITES["us"].abuse
        (first,) = mails_to(world, address)
        assert f"NTTD-{a}" in text_part(first) and f"NTTD-{b}" in text_part(first)

        # B comes down within the day; A stays.
        world.hosts["us"].route(SECOND, status=404)
        await world.advance(timedelta(hours=3))
        assert (await world.case(b))["status"] == "removed"
        await world.advance(start + timedelta(hours=23) - world.clock())
        assert len(mails_to(world, address)) == 1  # not yet

        await world.advance(timedelta(hours=2))  # past 24h after the first notice
        mails = mails_to(world, address)
        assert len(mails) == 2
        reminder = mails[1]
        assert reminder["Subject"].startswith("Reminder: ")
        body = text_part(reminder)
        assert "This is a reminder" in body
        assert f"NTTD-{a}" in body and f"NTTD-{b}" not in body  # only what is online
        assert reminder["Message-ID"] != first["Message-ID"]
        assert await _kinds(world, a) == [("reminder_queued", 1), ("reminder_sent", None)]
        assert await _kinds(world, b) == []

        await world.advance(start + timedelta(hours=49) - world.clock())
        assert len(mails_to(world, address)) == 3
        assert [k for k in await _kinds(world, a) if k[0] == "reminder_queued"] == [
            ("reminder_queued", 1), ("reminder_queued", 2)]

        # A comes down before the third reminder: the chase ends.
        world.hosts["us"].route("/img/1.jpg", status=404)
        await world.advance(timedelta(hours=3))
        assert (await world.case(a))["status"] == "removed"
        await world.advance(timedelta(days=3))
        assert len(mails_to(world, address)) == 3
        async with world.svc.sessions() as session:
            notices = list(await session.scalars(select(Notice).order_by(Notice.id)))
        assert [(n.step, n.status) for n in notices] == [
            ("notice", "sent"), ("reminder", "sent"), ("reminder", "sent")]
        assert notices[0].next_reminder_at is None
        assert {n.reminder_of for n in notices[1:]} == {notices[0].id}


async def test_the_schedule_ends_and_a_hold_stops_reminders(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h",
                             NTTD_REAPPEARANCE_SCHEDULE="12h",
                             NTTD_REMINDER_SCHEDULE="1d,2d") as world:
        us = await submit_url(world, world.url("us"))
        gb = await submit_url(world, world.url("gb"))
        status, _ = await world.api("POST", f"/api/v1/cases/{gb}/hold",
                                    json={"note": "police"})
        assert status == 200
        await world.advance(timedelta(days=5))
        # Two reminders to the US host (the schedule has two), none to the held case's host.
        assert len(mails_to(world, SITES["us"].abuse)) == 3
        assert len(mails_to(world, SITES["gb"].abuse)) == 1
        assert await _kinds(world, gb) == []
        assert [k for k in await _kinds(world, us) if k[0] == "reminder_sent"] == [
            ("reminder_sent", None), ("reminder_sent", None)]
