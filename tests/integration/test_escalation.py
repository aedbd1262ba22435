"""The whole chase over simulated days, on the injected clock (SQLite and PostgreSQL):
first notice -> each reminder -> registrar -> upstream (the AS abuse contact) -> CDN
(skipped: nobody for these cases) -> coordinator flag, with a weekend shifting a step
(NTTD_QUIET_DAYS), a case removed half way dropping out of later letters, a held case
getting nothing, the events on each case in order, and chase_step following the letters.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from nttd.models import Case, Notice
from tests.integration.world import (
    SITES,
    World,
    mails_to,
    running_world,
    submit_url,
    text_part,
    transit_abuse,
)

SECOND = "/img/2.jpg"
THIRD = "/img/3.jpg"
REGISTRAR = "abuse@registrar.example"
CHASE_EVENTS = ("notice_sent", "reminder_queued", "reminder_sent", "escalation_queued",
                "escalation_sent", "coordinator_flagged")


async def _chase(world: World, case_id: int) -> list[tuple[str, Any]]:
    case = await world.case(case_id)
    out = []
    for e in case["timeline"]:
        if e["kind"] in CHASE_EVENTS:
            data = e.get("data") or {}
            out.append((e["kind"], data.get("number") or data.get("party")
                        or data.get("reason")))
    return out


async def _chase_step(world: World, case_id: int) -> str | None:
    async with world.svc.sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case.chase_step


def _next_wednesday_10(now: datetime) -> datetime:
    days = (2 - now.weekday()) % 7 or 7
    return (now + timedelta(days=days)).replace(hour=10, minute=0, second=0, microsecond=0)


async def test_the_whole_ladder_over_simulated_days(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h",
                             NTTD_REMOVAL_CONFIRM_SPACING="1m",
                             NTTD_REAPPEARANCE_SCHEDULE="12h",
                             NTTD_REMINDER_SCHEDULE="1d,2d", NTTD_NOTICE_BATCH_WINDOW="10m",
                             NTTD_QUIET_DAYS="sat,sun") as world:
        assert world.clock is not None
        for path in (SECOND, THIRD):
            world.hosts["us"].route(path, status=200, headers={"Content-Type": "image/jpeg"})
        wednesday = _next_wednesday_10(world.clock())
        world.clock.set(wednesday)
        host, upstream = SITES["us"].abuse, transit_abuse(SITES["us"])
        a = await submit_url(world, world.url("us"))              # stays online to the end
        b = await submit_url(world, world.url("us", SECOND))      # removed on Thursday
        held = await submit_url(world, world.url("us", THIRD))    # held after the notice
        cdn = await submit_url(world, world.url("cdn"))           # first notice to the CDN
        await world.advance(timedelta(minutes=15))  # the gathering window: one letter
        (notice,) = mails_to(world, host)
        assert all(f"NTTD-{c}" in text_part(notice) for c in (a, b, held))
        assert await _chase_step(world, a) == "notice"
        assert await _chase_step(world, cdn) == "notice"
        status, _ = await world.api("POST", f"/api/v1/cases/{held}/hold",
                                    json={"note": "police"})
        assert status == 200

        # Thursday 10:10 (the first notice went at 10:10): the first reminder, to the
        # host, lists A and B (not the held one).
        await world.advance(wednesday + timedelta(days=1, minutes=15) - world.clock())
        reminder = mails_to(world, host)[1]
        assert reminder["Subject"].startswith("Reminder: ")
        assert f"NTTD-{a}" in text_part(reminder) and f"NTTD-{b}" in text_part(reminder)
        assert f"NTTD-{held}" not in text_part(reminder)
        assert await _chase_step(world, a) == "reminder-1"
        world.hosts["us"].route(SECOND, status=404)  # B comes down
        await world.advance(timedelta(hours=12))
        assert (await world.case(b))["status"] == "removed"

        # Friday 10:10: the last reminder lists A only.
        await world.advance(wednesday + timedelta(days=2, minutes=15) - world.clock())
        last = mails_to(world, host)[2]
        assert f"NTTD-{a}" in text_part(last) and f"NTTD-{b}" not in text_part(last)
        assert await _chase_step(world, a) == "reminder-2"

        # The registrar's turn falls on Saturday 10:10: quiet, so it waits for Monday 00:00
        # (and is sent when its gathering window ends, at 00:10).
        monday = (wednesday + timedelta(days=5)).replace(hour=0)
        await world.advance(monday - timedelta(minutes=1) - world.clock())
        assert mails_to(world, REGISTRAR) == []
        await world.advance(timedelta(minutes=16))
        (to_registrar,) = mails_to(world, REGISTRAR)
        body = text_part(to_registrar)
        assert to_registrar["Subject"].startswith("Escalation: ")
        assert "registrar" in body and "escalate" in body
        # One letter for the registrar of both chases (the US host's and the CDN's),
        # listing only what is still online.
        assert f"NTTD-{a}" in body and f"NTTD-{cdn}" in body
        assert f"NTTD-{b}" not in body and f"NTTD-{held}" not in body
        assert await _chase_step(world, a) == "escalation-registrar"
        assert await _chase_step(world, cdn) == "escalation-registrar"

        # Tuesday 00:00: the upstream (the AS abuse contact) for A. The CDN case has no
        # upstream (its address is the CDN's) and was notified at the CDN already: its
        # ladder runs out, so it is flagged for the coordinator.
        await world.advance(monday + timedelta(days=1, minutes=15) - world.clock())
        (to_upstream,) = mails_to(world, upstream)
        assert to_upstream["Subject"].startswith("Escalation: Removal request")
        assert f"NTTD-{a}" in text_part(to_upstream) and f"NTTD-{cdn}" not in text_part(to_upstream)
        assert "autonomous system" in text_part(to_upstream)
        assert await _chase_step(world, a) == "escalation-upstream"
        cdn_case = await world.case(cdn, user="coordinator")
        assert cdn_case["flagged"] is True
        assert cdn_case["flag_reason"] == "escalation ladder exhausted"
        assert (await world.case(a))["flagged"] is False

        # Wednesday 00:00: no CDN for A (that rung is skipped), so the coordinator.
        await world.advance(monday + timedelta(days=2, minutes=15) - world.clock())
        case_a = await world.case(a, user="coordinator")
        assert case_a["flagged"] is True
        assert case_a["flag_reason"] == "escalation ladder exhausted"

        # The coordinator's list is what the ladder flagged.
        status, listed = await world.api("GET", "/api/v1/cases", user="coordinator")
        assert status == 200 and {c["id"] for c in listed["cases"]} == {a, cdn}

        # Nothing more, ever: no mail to anyone a week later.
        count = len(world.smtp.messages)
        await world.advance(timedelta(days=7))
        assert len(world.smtp.messages) == count
        assert len(mails_to(world, host)) == 3 and len(mails_to(world, REGISTRAR)) == 1

        assert await _chase(world, a) == [
            ("notice_sent", None),
            ("reminder_queued", 1), ("reminder_sent", None),
            ("reminder_queued", 2), ("reminder_sent", None),
            ("escalation_queued", "registrar"), ("escalation_sent", None),
            ("escalation_queued", "upstream"), ("escalation_sent", None),
            ("coordinator_flagged", "escalation ladder exhausted"),
        ]
        assert await _chase(world, b) == [
            ("notice_sent", None), ("reminder_queued", 1), ("reminder_sent", None)]
        assert await _chase(world, held) == [("notice_sent", None)]
        assert (await world.case(held))["flagged"] is False
        assert await _chase(world, cdn) == [
            ("notice_sent", None),
            ("reminder_queued", 1), ("reminder_sent", None),
            ("reminder_queued", 2), ("reminder_sent", None),
            ("escalation_queued", "registrar"), ("escalation_sent", None),
            ("coordinator_flagged", "escalation ladder exhausted"),
        ]
        async with world.svc.sessions() as session:
            escalations = list(await session.scalars(
                select(Notice).where(Notice.step == "escalation").order_by(Notice.id)))
        assert [(n.recipient_kind, n.address, n.chase_step, n.status) for n in escalations] == [
            ("registrar", REGISTRAR, "escalation-registrar", "sent"),
            ("host", upstream, "escalation-upstream", "sent"),
        ]


async def test_a_removal_or_a_hold_stops_the_ladder(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h",
                             NTTD_REMOVAL_CONFIRM_SPACING="1m",
                             NTTD_REAPPEARANCE_SCHEDULE="12h",
                             NTTD_REMINDER_SCHEDULE="1d",
                             NTTD_ESCALATION_LADDER="upstream,registrar,coordinator") as world:
        assert world.clock is not None
        us = await submit_url(world, world.url("us"))
        gb = await submit_url(world, world.url("gb"))
        # 1d: reminder; 2d: upstream (first on this ladder) for both.
        await world.advance(timedelta(days=2, minutes=5))
        assert len(mails_to(world, transit_abuse(SITES["us"]))) == 1
        assert len(mails_to(world, transit_abuse(SITES["gb"]))) == 1
        world.hosts["us"].route("/img/1.jpg", status=404)  # US removes
        status, _ = await world.api("POST", f"/api/v1/cases/{gb}/hold", json={"note": "LE"})
        assert status == 200  # GB is held
        await world.advance(timedelta(days=5))
        assert mails_to(world, REGISTRAR) == []
        for case_id in (us, gb):
            chase = await _chase(world, case_id)
            assert chase[-1] == ("escalation_sent", None), chase
            assert not (await world.case(case_id))["flagged"]
