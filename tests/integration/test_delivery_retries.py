"""Delivery you can trust: temporary failures retried with exponential backoff (on the
injected clock), every notice delivered once when the SMTP server or a partner's
webhook comes back, a refusing address marked bad and its cases sent to the next
contact on the ladder, give-up after NTTD_NOTICE_GIVE_UP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from nttd.models import BadContact, Case, Notice
from nttd.outbox import NoticeStatus
from tests.integration.world import SITES, World, running_world, transit_abuse

UPSTREAM = transit_abuse(SITES["us"])  # the AS abuse contact (RDAP autnum)
REGISTRAR = "abuse@registrar.example"


async def notices(world: World) -> list[Notice]:
    async with world.svc.sessions() as session:
        return list(await session.scalars(select(Notice).order_by(Notice.id)))


async def bad_contacts(world: World) -> dict[str, BadContact]:
    async with world.svc.sessions() as session:
        return {b.address: b for b in await session.scalars(select(BadContact))}


def events(case: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in case["timeline"] if e["kind"] == kind]


async def test_smtp_down_for_hours_backs_off_exponentially_then_every_notice_goes_once(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_NOTICE_RETRY_SCHEDULE="",
                             NTTD_RECHECK_SCHEDULE="6h") as world:
        assert world.clock is not None
        await world.smtp.stop()  # connection refused from the first attempt on
        for site in ("us", "gb", "cdn", "de"):  # host, host, CDN, e-mail partner
            await world.api("POST", "/api/v1/cases", json={"urls": [world.url(site)]})
        await world.run_until_idle()
        first = await notices(world)
        assert len(first) == 4 and all(n.attempts == 1 for n in first)
        start = world.clock()
        for n in first:
            assert n.status == NoticeStatus.QUEUED and "connect" in (n.last_error or "").lower()
            wait = n.next_attempt_at - start
            assert timedelta(minutes=1) <= wait <= timedelta(minutes=1.2), wait
            assert n.first_failure_at is None  # our relay's outage is not the recipient's

        await world.advance(timedelta(hours=6))
        # 1m, 2m, 4m ... 128m (each up to 20% longer): 8 retries fit in 6 hours (255 to
        # 306 minutes), the next wait is capped at 4h (4h to 4.8h): 9 attempts each.
        for n in await notices(world):
            assert n.status == NoticeStatus.QUEUED and n.attempts == 9, n.attempts
            after = n.next_attempt_at - start
            assert timedelta(minutes=255 + 240) <= after <= timedelta(minutes=1.2 * 495)
        assert not world.smtp.messages

        await world.smtp.start()  # back, on the same port
        await world.advance(timedelta(hours=5))
        sent = await notices(world)
        assert [n.status for n in sent] == [NoticeStatus.SENT] * 4
        ids = [m.message["Message-ID"] for m in world.smtp.messages]
        assert len(ids) == 4 and set(ids) == {n.message_id for n in sent}  # once each
        await world.advance(timedelta(hours=12))
        assert len(world.smtp.messages) == 4
        assert not await bad_contacts(world)


async def test_a_partner_webhook_down_for_hours_then_up_gets_the_notice_once(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_NOTICE_RETRY_SCHEDULE="",
                             NTTD_RECHECK_SCHEDULE="6h") as world:
        world.webhook.status = 503
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("nl")]})
        case_id = body["cases"][0]["id"]
        await world.run_until_idle()
        await world.advance(timedelta(hours=6))
        (notice,) = await notices(world)
        assert notice.status == NoticeStatus.QUEUED and notice.attempts == 9
        assert notice.first_failure_at is not None  # the partner's own failure: give-up runs
        failed = len(world.webhook.requests)
        assert failed == 9
        world.webhook.status = 200
        await world.advance(timedelta(hours=5))
        await world.advance(timedelta(hours=24))
        assert len(world.webhook.requests) == failed + 1  # delivered once
        keys = {r.headers["Idempotency-Key"] for r in world.webhook.requests}
        assert keys == {notice.message_id}
        (notice,) = await notices(world)
        assert notice.status == NoticeStatus.SENT
        shown = (await world.case(case_id))["notices"][0]
        assert shown["status"] == "sent" and shown["attempts"] == 10
        assert shown["next_attempt_at"] is None and shown["last_error"] is None


async def test_550_at_submission_marks_the_contact_bad_and_walks_the_ladder(
    database_url: str, tmp_path: Path
) -> None:
    host = SITES["us"].abuse
    async with running_world(database_url, tmp_path, NTTD_NOTICE_BATCH_WINDOW="1h",
                             NTTD_RECHECK_SCHEDULE="6h") as world:
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
        case_id = body["cases"][0]["id"]
        await world.run_until_idle()
        world.smtp.rcpt_replies[host] = "550 5.1.1 <abuse@us-host.example>: no such mailbox"
        world.smtp.rcpt_replies[UPSTREAM] = "550 5.7.1 relaying denied"
        await world.end_gathering()
        await world.run_until_idle()
        await world.advance(timedelta(hours=1))   # the upstream's notice gathers, fails
        await world.advance(timedelta(hours=1))   # the registrar's gathers, goes out
        by_address = {n.address: n for n in await notices(world)}
        assert list(by_address) == [host, UPSTREAM, REGISTRAR]
        assert by_address[host].status == NoticeStatus.FAILED
        assert by_address[UPSTREAM].status == NoticeStatus.FAILED
        assert by_address[REGISTRAR].status == NoticeStatus.SENT
        assert [m.rcpt_tos for m in world.smtp.messages] == [[REGISTRAR]]
        bad = await bad_contacts(world)
        assert set(bad) == {host, UPSTREAM} and {b.source for b in bad.values()} == {"smtp"}
        assert bad[host].bad_until - bad[host].marked_at == timedelta(days=30)
        assert "550" in bad[host].reason

        case = await world.case(case_id)
        marked = events(case, "contact_marked_bad")
        assert [m["address"] for m in marked] == [host, UPSTREAM]
        fallbacks = events(case, "notice_fallback")
        assert [(f["failed"], f["to"], f["to_kind"]) for f in fallbacks] == [
            (host, [UPSTREAM], "host"), (UPSTREAM, [REGISTRAR], "registrar")]
        assert not events(case, "coordinator_flagged")  # the registrar took it

        # Routing now skips the bad host and upstream addresses: a new case on that
        # network goes straight to what is left, the registrar.
        _, body = await world.api("POST", "/api/v1/cases",
                                  json={"urls": [world.url("us", "/img/2.jpg")]})
        await world.run_until_idle()
        newest = (await notices(world))[-1]
        assert newest.address == REGISTRAR and body["cases"][0]["id"] != case_id
        assert host not in {n.address for n in (await notices(world))[3:]}


async def test_no_contact_left_flags_the_case_for_the_coordinator(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h") as world:
        world.smtp.rcpt_reply = "550 5.1.1 nobody here"
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("gb")]})
        case_id = body["cases"][0]["id"]
        await world.advance(timedelta(minutes=5))
        tried = await notices(world)  # the host, its upstream (AS), the registrar
        assert [n.address for n in tried] == [
            SITES["gb"].abuse, transit_abuse(SITES["gb"]), REGISTRAR]
        assert [n.status for n in tried] == [NoticeStatus.FAILED] * 3
        async with world.svc.sessions() as session:
            case = await session.get(Case, case_id)
            assert case is not None
            assert case.flag_reason == "no working abuse contact" and case.flagged_at
        timeline = await world.case(case_id)
        assert len(events(timeline, "coordinator_flagged")) == 1
        assert not world.smtp.messages


async def test_a_recipient_failing_temporarily_for_the_give_up_time_counts_as_refused(
    database_url: str, tmp_path: Path
) -> None:
    host = SITES["us"].abuse
    async with running_world(database_url, tmp_path, NTTD_NOTICE_RETRY_SCHEDULE="",
                             NTTD_NOTICE_GIVE_UP="2h", NTTD_RECHECK_SCHEDULE="6h") as world:
        assert world.clock is not None
        world.smtp.rcpt_replies[host] = "452 4.2.2 mailbox full"
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
        case_id = body["cases"][0]["id"]
        await world.run_until_idle()
        (notice,) = await notices(world)
        assert notice.first_failure_at is not None
        give_up_at = notice.first_failure_at + timedelta(hours=2)
        await world.advance(timedelta(minutes=119))
        (notice,) = await notices(world)
        assert notice.status == NoticeStatus.QUEUED and notice.next_attempt_at == give_up_at
        await world.advance(timedelta(minutes=2))
        first, fallback = await notices(world)
        assert first.status == NoticeStatus.FAILED and "gave up" in (first.last_error or "")
        assert fallback.address == UPSTREAM and fallback.status == NoticeStatus.SENT
        assert (await bad_contacts(world))[host].source == "give_up"
        case = await world.case(case_id)
        assert events(case, "contact_marked_bad")[0]["source"] == "give_up"
        assert events(case, "notice_fallback")[0]["to"] == [UPSTREAM]


async def test_a_partner_webhook_down_past_the_give_up_time_flags_its_cases(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_NOTICE_RETRY_SCHEDULE="",
                             NTTD_NOTICE_GIVE_UP="3h", NTTD_RECHECK_SCHEDULE="6h") as world:
        world.webhook.status = 502
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("nl")]})
        case_id = body["cases"][0]["id"]
        await world.advance(timedelta(hours=4))
        (notice,) = await notices(world)
        assert notice.status == NoticeStatus.FAILED and "gave up" in (notice.last_error or "")
        case = await world.case(case_id)
        assert [f["reason"] for f in events(case, "coordinator_flagged")] == [
            "partner hotline unreachable"]
        assert not await bad_contacts(world)  # a partner is never skipped
