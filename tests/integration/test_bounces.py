"""Bounces in: a DSN (RFC 3464) fed to `nttd bounce` (in-process, on the test's
database) or POSTed to /api/v1/bounces marks the contact bad and sends the cases to
the next contact; the notice is found by its VERP envelope sender or by the
Message-ID of the returned headers; a forged VERP tag and a message that is not a
DSN are refused and change nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from nttd.auth import add_user, create_token
from nttd.models import BadContact, Event, Notice
from nttd.outbox import NoticeStatus
from tests.cli import nttd
from tests.integration.world import SITES, World, running_world, transit_abuse

HOST = SITES["us"].abuse
UPSTREAM = transit_abuse(SITES["us"])  # the next contact after the host: its AS (RDAP autnum)
BOUNCE_BASE = "hotline@home-hotline.example"


def dsn(*, to: str, message_id: str | None, action: str = "failed", status: str = "5.1.1",
        recipient: str = HOST, returned: str = "text/rfc822-headers") -> str:
    """A delivery status notification as Postfix writes one."""
    headers = (f"From: {BOUNCE_BASE}\nTo: {recipient}\nSubject: Notice\n"
               + (f"Message-ID: {message_id}\n" if message_id else ""))
    if returned == "message/rfc822":
        headers += "Content-Type: text/plain\n\n(body cut)\n"
    return f"""Return-Path: <>
Delivered-To: {to}
From: MAILER-DAEMON@mx.us-host.example (Mail Delivery System)
To: {to}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
 boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.us-host.example
Arrival-Date: Wed,  2 Dec 2026 12:00:00 +0000 (UTC)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected

--BOUNDARY
Content-Type: {returned}

{headers}
--BOUNDARY--
"""


async def sent_host_notice(world: World) -> tuple[int, Notice]:
    _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
    await world.run_until_idle()
    async with world.svc.sessions() as session:
        (notice,) = list(await session.scalars(select(Notice)))
    assert notice.status == NoticeStatus.SENT and notice.envelope_from
    return int(body["cases"][0]["id"]), notice


async def snapshot(world: World) -> tuple[Any, ...]:
    """What a refused bounce must not change."""
    async with world.svc.sessions() as session:
        return (
            int(await session.scalar(select(func.count()).select_from(Event)) or 0),
            [(n.id, n.status, n.last_error) for n in await session.scalars(
                select(Notice).order_by(Notice.id))],
            list(await session.scalars(select(BadContact.address))),
        )


async def admin_token(world: World) -> str:
    now = world.svc.clock()
    async with world.svc.sessions() as session, session.begin():
        await add_user(session, "postmaster", "admin", password="correct horse battery",
                       hotline_code=None, now=now)
    async with world.svc.sessions() as session, session.begin():
        return await create_token(session, "postmaster", now=now)


async def post_bounce(world: World, text: str, token: str,
                      content_type: str = "message/rfc822") -> tuple[int, Any]:
    async with world.http.post(world.base_url + "/api/v1/bounces", data=text.encode(),
                               headers={"Authorization": f"Bearer {token}",
                                        "Content-Type": content_type}) as resp:
        return resp.status, await resp.json()


def online(world: World, path: str) -> None:
    """Another URL on the US host that stays online (so its case is chased)."""
    world.hosts["us"].route(path, status=200, headers={"Content-Type": "image/jpeg"},
                            body_size=1000)


def cli_env(world: World) -> dict[str, str]:
    return {"NTTD_DATABASE_URL": world.settings.database_url,
            "NTTD_NOTICE_FROM": BOUNCE_BASE}


async def assert_fell_back(world: World, case_id: int, notice_id: int, source: str) -> None:
    await world.advance(timedelta(minutes=15))  # the CLI's own batch window: the default
    async with world.svc.sessions() as session:
        bounced = await session.get(Notice, notice_id)
        assert bounced is not None and bounced.status == NoticeStatus.BOUNCED
        assert bounced.next_reminder_at is None  # nobody chases a dead address
        bad = await session.get(BadContact, HOST)
        assert bad is not None and bad.source == source and "5.1.1" in bad.reason
    assert [m.rcpt_tos for m in world.smtp.messages] == [[HOST], [UPSTREAM]]
    case = await world.case(case_id)
    kinds = [e["kind"] for e in case["timeline"]]
    assert {"notice_bounced", "contact_marked_bad", "notice_fallback"} <= set(kinds)
    fallback = next(e["data"] for e in case["timeline"] if e["kind"] == "notice_fallback")
    assert fallback["failed"] == HOST and fallback["to"] == [UPSTREAM]
    shown = {n["address"]: n for n in case["notices"]}
    assert shown[HOST]["status"] == "bounced" and "5.1.1" in shown[HOST]["last_error"]
    assert shown[UPSTREAM]["status"] == "sent"
    assert shown[UPSTREAM]["envelope_from"].startswith("hotline+n")


async def test_a_dsn_piped_to_nttd_bounce_marks_the_contact_bad_and_falls_back(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h") as world:
        case_id, notice = await sent_host_notice(world)
        assert world.smtp.messages[0].mail_from == notice.envelope_from  # VERP MAIL FROM
        text = dsn(to=notice.envelope_from or "", message_id=None)
        code, out, err = await nttd("bounce", env=cli_env(world), cwd=tmp_path, stdin=text)
        assert code == 0, err
        assert f"notice {notice.id}" in out and "verp" in out and "permanent" in out
        await assert_fell_back(world, case_id, notice.id, "bounce")
        # The same bounce again (a mail server retrying) changes nothing more.
        before = await snapshot(world)
        code, out, err = await nttd("bounce", env=cli_env(world), cwd=tmp_path, stdin=text)
        assert code == 0 and "duplicate" in out
        assert await snapshot(world) == before


async def test_a_dsn_posted_to_the_api_found_by_its_message_id_falls_back(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h") as world:
        case_id, notice = await sent_host_notice(world)
        token = await admin_token(world)
        # Returned to the plain address (a relay that rewrote the envelope): no VERP, so
        # the notice is found by the Message-ID in the returned message.
        text = dsn(to=BOUNCE_BASE, message_id=notice.message_id, returned="message/rfc822")
        status, body = await post_bounce(world, text, world.tokens["analyst"])
        assert status == 403  # admins only
        status, body = await post_bounce(world, text, token)
        assert status == 200, body
        assert body["notice_id"] == notice.id and body["found_by"] == "message_id"
        assert body["outcome"] == "permanent"
        await assert_fell_back(world, case_id, notice.id, "bounce")


async def test_a_delayed_dsn_is_recorded_only(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h") as world:
        case_id, notice = await sent_host_notice(world)
        token = await admin_token(world)
        text = dsn(to=notice.envelope_from or "", message_id=notice.message_id,
                   action="delayed", status="4.4.7", returned="message/rfc822")
        status, body = await post_bounce(world, text, token, "text/plain")
        assert status == 200 and body["outcome"] == "delayed", body
        case = await world.case(case_id)
        assert [e["kind"] for e in case["timeline"]].count("notice_delayed") == 1
        async with world.svc.sessions() as session:
            assert (await session.get(Notice, notice.id)).status == NoticeStatus.SENT  # type: ignore[union-attr]
            assert not list(await session.scalars(select(BadContact)))


async def test_forged_verp_and_non_dsn_messages_are_refused_and_change_nothing(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h") as world:
        _, notice = await sent_host_notice(world)
        token = await admin_token(world)
        verp = notice.envelope_from or ""
        tag = verp.split("@")[0].rsplit("-", 1)[1]
        forged_tag = verp.replace(f"-{tag}@", "-00000000@" if tag != "0" * 8 else "-11111111@")
        elsewhere = verp.replace("@home-hotline.example", "@elsewhere.example")
        other_notice = verp.replace(f"+n{notice.id}-", f"+n{notice.id + 1}-")
        before = await snapshot(world)
        not_a_dsn = (f"From: someone@example.org\nTo: {verp}\nSubject: hello\n\n"
                     f"Please remove me. Message-ID was {notice.message_id}\n")
        cases = [
            (dsn(to=forged_tag, message_id=notice.message_id), "forged", 67),
            (dsn(to=other_notice, message_id=None), "forged", 67),
            # A genuine tag at an address that is not our bounce address: not ours.
            (dsn(to=elsewhere, message_id=None), "no_notice", 0),
            (not_a_dsn, "not_dsn", 0),
            (dsn(to=BOUNCE_BASE, message_id="<unknown@elsewhere.example>"), "no_notice", 0),
        ]
        for text, reason, exit_code in cases:
            status, body = await post_bounce(world, text, token)
            assert (status, body.get("reason")) == (422, reason), body
            assert body["error"]
            code, out, err = await nttd("bounce", env=cli_env(world), cwd=tmp_path, stdin=text)
            assert code == exit_code, (reason, err)
            assert ("refused" if reason == "forged" else "ignored") in err and not out
        status, body = await post_bounce(world, "", token)
        assert status == 400
        status, body = await post_bounce(world, "x", token, "application/json")
        assert status == 415
        await world.advance(timedelta(minutes=5))
        assert await snapshot(world) == before
        assert len(world.smtp.messages) == 1


async def test_nttd_bounce_asks_the_mail_server_to_retry_when_the_database_is_away(
    tmp_path: Path
) -> None:
    text = dsn(to="hotline+n1-00000000@home-hotline.example", message_id=None)
    env = {"NTTD_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    code, _, err = await nttd("bounce", env=env, cwd=tmp_path, stdin=text)
    assert code == 75 and "try again later" in err
    # A wrong setting: the mail server keeps the bounce until it is fixed.
    code, _, err = await nttd("bounce", env={"NTTD_DATABASE_URL": "mysql://x/y"},
                              cwd=tmp_path, stdin=text)
    assert code == 75 and "NTTD_DATABASE_URL" in err


async def test_verp_addresses_name_the_notice_and_cannot_be_made_up() -> None:
    from notices.verp import VerpForged, make_verp, parse_verp

    key = b"k" * 32
    address = make_verp(BOUNCE_BASE, 42, key)
    assert address.startswith("hotline+n42-") and address.endswith("@home-hotline.example")
    parsed = parse_verp(f"<{address}>", key)
    assert parsed is not None and parsed.notice_id == 42 and parsed.base == BOUNCE_BASE
    assert parse_verp(BOUNCE_BASE, key) is None
    for forged in (address.replace("+n42-", "+n43-"), make_verp(BOUNCE_BASE, 42, b"x" * 32)):
        try:
            parse_verp(forged, key)
        except VerpForged:
            continue
        raise AssertionError(f"{forged} was accepted")


async def test_a_notice_queued_to_an_address_that_bounced_meanwhile_is_not_sent(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h",
                             NTTD_NOTICE_BATCH_WINDOW="30m") as world:
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
        await world.run_until_idle()
        await world.end_gathering()
        await world.run_until_idle()
        # A second case for the same host gathers in a new notice meanwhile.
        online(world, "/img/2.jpg")
        _, body = await world.api("POST", "/api/v1/cases",
                                  json={"urls": [world.url("us", "/img/2.jpg")]})
        second = int(body["cases"][0]["id"])
        await world.run_until_idle()
        async with world.svc.sessions() as session:
            first, gathering = list(await session.scalars(select(Notice).order_by(Notice.id)))
        assert first.status == NoticeStatus.SENT and gathering.status == NoticeStatus.QUEUED
        text = dsn(to=first.envelope_from or "", message_id=None)
        code, _, err = await nttd("bounce", env=cli_env(world), cwd=tmp_path, stdin=text)
        assert code == 0, err
        await world.advance(timedelta(hours=1))
        async with world.svc.sessions() as session:
            held_back = await session.get(Notice, gathering.id)
            assert held_back is not None and held_back.status == NoticeStatus.FAILED
            assert held_back.attempts == 0 and "marked bad" in (held_back.last_error or "")
        assert [m.rcpt_tos for m in world.smtp.messages].count([HOST]) == 1  # never again
        case = await world.case(second)
        fallback = next(e["data"] for e in case["timeline"] if e["kind"] == "notice_fallback")
        assert fallback["to"] == [UPSTREAM]
        assert {n["address"]: n["status"] for n in case["notices"]} == {
            HOST: "failed", UPSTREAM: "sent"}


async def test_a_bounce_from_a_partner_mailbox_flags_its_cases(
    database_url: str, tmp_path: Path
) -> None:
    partner = "reports@partner-de.example"
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h") as world:
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("de")]})
        case_id = int(body["cases"][0]["id"])
        await world.run_until_idle()
        async with world.svc.sessions() as session:
            (notice,) = list(await session.scalars(select(Notice)))
        assert notice.address == partner and notice.status == NoticeStatus.SENT
        text = dsn(to=notice.envelope_from or "", message_id=None, recipient=partner)
        code, out, err = await nttd("bounce", env=cli_env(world), cwd=tmp_path, stdin=text)
        assert code == 0 and "permanent" in out, err
        case = await world.case(case_id)
        flags = [e["data"] for e in case["timeline"] if e["kind"] == "coordinator_flagged"]
        assert [f["reason"] for f in flags] == ["partner hotline unreachable"]
        async with world.svc.sessions() as session:
            assert not list(await session.scalars(select(BadContact)))  # never skipped


async def test_a_reminder_due_to_an_address_that_bounced_is_not_sent(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h",
                             NTTD_REAPPEARANCE_SCHEDULE="6h",
                             NTTD_REMINDER_SCHEDULE="24h") as world:
        # Two cases for one host in two notices, both sent; the first one bounces.
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
        await world.run_until_idle()
        online(world, "/img/2.jpg")
        _, body = await world.api("POST", "/api/v1/cases",
                                  json={"urls": [world.url("us", "/img/2.jpg")]})
        second = int(body["cases"][0]["id"])
        await world.run_until_idle()
        async with world.svc.sessions() as session:
            first, other = list(await session.scalars(select(Notice).order_by(Notice.id)))
        assert other.status == NoticeStatus.SENT and other.next_reminder_at is not None
        text = dsn(to=first.envelope_from or "", message_id=None)
        code, _, err = await nttd("bounce", env=cli_env(world), cwd=tmp_path, stdin=text)
        assert code == 0, err
        await world.advance(timedelta(hours=25))
        to_host = [m for m in world.smtp.messages if m.rcpt_tos == [HOST]]
        assert len(to_host) == 2  # the two first notices; no reminder to a dead address
        case = await world.case(second)
        shown = {(n["address"], n["status"]) for n in case["notices"]}
        assert (HOST, "failed") in shown and (UPSTREAM, "sent") in shown  # the reminder
        fallback = next(e["data"] for e in case["timeline"] if e["kind"] == "notice_fallback")
        assert fallback["to"] == [UPSTREAM]


async def test_nttd_bounce_address_is_the_base_of_the_envelope_sender(
    database_url: str, tmp_path: Path
) -> None:
    base = "bounces@mail.home-hotline.example"
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h",
                             NTTD_BOUNCE_ADDRESS=base) as world:
        case_id, notice = await sent_host_notice(world)
        (mail,) = world.smtp.messages
        assert mail.mail_from == notice.envelope_from
        assert mail.mail_from.startswith(f"bounces+n{notice.id}-")
        assert mail.mail_from.endswith("@mail.home-hotline.example")
        assert mail.message["From"] == "hotline@home-hotline.example"  # From unchanged
        token = await admin_token(world)
        status, body = await post_bounce(world, dsn(to=mail.mail_from, message_id=None), token)
        assert status == 200 and body["found_by"] == "verp", body
        await world.advance(timedelta(minutes=1))
        case = await world.case(case_id)
        assert {n["address"]: n["status"] for n in case["notices"]} == {
            HOST: "bounced", UPSTREAM: "sent"}
