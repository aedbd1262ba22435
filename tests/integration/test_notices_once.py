"""Notices go out once: `sending` is committed before a notice is handed over, so a
worker that dies leaves at most that notice to be sent again, with the same
Message-ID (webhook: Idempotency-Key); a correction that keeps the recipients
sends nothing; one notice that cannot be handled never holds up the others."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from nttd.db import claim, is_sqlite
from nttd.demo.standins.dns_server import add_cymru
from nttd.demo.standins.hosting import HostingServer
from nttd.demo.standins.smtp_sink import SmtpSink
from nttd.migrate import upgrade
from nttd.models import Case, Notice, NoticeCase
from nttd.outbox import NoticeStatus
from nttd.outbox.delivery import _prepare
from nttd.services import Services
from nttd.settings import Settings
from tests.integration.world import PATH, SITES, World, running_world


async def notices(world: World) -> list[Notice]:
    async with world.svc.sessions() as session:
        return list(await session.scalars(select(Notice).order_by(Notice.id)))


async def test_a_notice_a_dead_worker_was_sending_goes_out_once_with_its_message_id(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_NOTICE_BATCH_WINDOW="1h",
                             NTTD_RECHECK_SCHEDULE="1h") as world:
        assert world.clock is not None
        for site in ("us", "nl"):  # an e-mail to the host, a webhook to the partner
            await world.api("POST", "/api/v1/cases", json={"urls": [world.url(site)]})
        await world.run_until_idle()
        await world.end_gathering()
        # A worker claims both notices and commits them as `sending`, then dies.
        svc = world.svc
        now = svc.clock()
        async with svc.sessions() as session, session.begin():
            ids = await claim(session, Notice, where=[Notice.status == "queued"],
                              order_by=Notice.id, limit=10, owner=svc.worker_id, now=now,
                              lease_until=now + svc.settings.lease_duration)
        assert len(ids) == 2
        for notice_id in ids:
            assert await _prepare(svc, notice_id) is not None
        before = {n.id: n.message_id for n in await notices(world)}
        assert all(n.status == NoticeStatus.SENDING for n in await notices(world))
        svc.worker_id = "another-worker"
        await world.run_until_idle()
        assert not world.smtp.messages and not world.webhook.requests  # leases still held
        world.clock.advance(svc.settings.lease_duration + timedelta(seconds=1))
        await world.run_until_idle()
        after = await notices(world)
        assert [n.status for n in after] == [NoticeStatus.SENT, NoticeStatus.SENT]
        assert {n.id: n.message_id for n in after} == before  # the same Message-IDs
        assert len(world.smtp.messages) == 1 and len(world.webhook.requests) == 1
        mail_id = world.smtp.messages[0].message["Message-ID"]
        hook_key = world.webhook.requests[0].headers["Idempotency-Key"]
        assert {mail_id, hook_key} == set(before.values())
        await world.advance(timedelta(hours=2))
        assert len(world.smtp.messages) == 1 and len(world.webhook.requests) == 1


async def test_a_correction_that_keeps_the_recipients_sends_nothing(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h") as world:
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("nl")]})
        case_id = body["cases"][0]["id"]
        await world.run_until_idle()
        assert len(world.webhook.requests) == 1
        for name in ("Other Hosting", "Third Hosting"):
            status, answer = await world.api("PATCH", f"/api/v1/cases/{case_id}/facts",
                                             json={"hosting": {"as_name": name}})
            assert status == 200, answer
        await world.advance(timedelta(hours=1))
        assert len(world.webhook.requests) == 1  # the partner is not notified again
        assert len(await notices(world)) == 1
        kinds = [e["kind"] for e in (await world.case(case_id))["timeline"]]
        assert kinds.count("route_kept") == 2 and "rerouted" not in kinds


async def test_a_move_that_keeps_the_recipients_sends_nothing(
    database_url: str, tmp_path: Path
) -> None:
    # The other instance of the class: the content moves to another network in the
    # same country, so the same partner stays responsible and hears nothing new.
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h",
                             NTTD_RERESOLVE_INTERVAL="10m") as world:
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("nl")]})
        case_id = body["cases"][0]["id"]
        await world.run_until_idle()
        assert len(world.webhook.requests) == 1
        async with HostingServer("127.0.6.1", port=world.hosts["nl"].port) as other:
            other.route(PATH, status=200, headers={"Content-Type": "image/jpeg"},
                        body_size=1000)
            world.rdap.add_ip_network("127.0.6.0/24", "NL", "abuse@other-nl.example",
                                      "OTHER-NL")
            add_cymru(world.zone, "127.0.6.1", 64506, "127.0.6.0/24", "NL", "OTHER-NL")
            world.zone.replace(SITES["nl"].hostname, "A", "127.0.6.1")
            await world.advance(timedelta(minutes=30))
            case = await world.case(case_id)
        moves = [e for e in case["timeline"] if e["kind"] == "moved"]
        assert len(moves) == 1 and moves[0]["data"]["rerouted"] is False
        assert moves[0]["data"]["new"]["ips"] == ["127.0.6.1"]
        assert case["route"] == {"kind": "partner", "hotline": "nl-partner"}
        assert len(world.webhook.requests) == 1 and not world.smtp.messages
        assert len(await notices(world)) == 1


async def test_one_notice_that_fails_oddly_does_not_hold_up_the_others(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_NOTICE_BATCH_WINDOW="1h") as world:
        for site in ("us", "gb", "de"):
            await world.api("POST", "/api/v1/cases", json={"urls": [world.url(site)]})
        await world.run_until_idle()
        first = (await notices(world))[0]
        async with world.svc.sessions() as session, session.begin():
            # A notice whose row cannot be rendered by any template kind.
            await session.execute(update(Notice).where(Notice.id == first.id)
                                  .values(recipient_kind="no such kind!"))
        await world.end_gathering()
        await world.run_until_idle()
        by_id = {n.id: n for n in await notices(world)}
        assert by_id.pop(first.id).status == NoticeStatus.FAILED
        assert all(n.status == NoticeStatus.SENT for n in by_id.values())
        assert len(world.smtp.messages) == 2


# -- real worker processes on PostgreSQL ------------------------------------------------


async def start_worker(database_url: str, tmp_path: Path, sink: SmtpSink
                       ) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTTD_")}
    env.update({"NTTD_DATABASE_URL": database_url, "NTTD_SMTP_URL": sink.url,
                "NTTD_NOTICE_FROM": "hotline@home-hotline.example",
                "NTTD_LEASE_DURATION": "3s", "NTTD_WORKER_POLL_INTERVAL": "50ms"})
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nttd.cli", "worker", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


async def test_kill_9_during_delivery_sends_every_notice_and_at_most_one_twice(
    database_url: str, tmp_path: Path
) -> None:
    if is_sqlite(database_url):
        pytest.skip("several workers share the outbox only on PostgreSQL")
    svc = await Services.start(Settings.load({"NTTD_DATABASE_URL": database_url}))
    try:
        await upgrade(svc.engine)
        now = datetime.now(UTC)
        async with svc.sessions() as session, session.begin():
            for n in range(1000):
                url = f"http://host{n}.example.com/img/{n}.jpg"
                case = Case(url=url, canonical_url=url, host=f"host{n}.example.com",
                            status="notified", confirmed_at=now, created_at=now,
                            updated_at=now, hold_seconds=0.0, resolve_attempts=0,
                            check_count=0, gone_streak=0, reappeared_count=0)
                notice = Notice(recipient_kind="host", channel="email",
                                address=f"abuse{n}@host{n}.example", recipient_name="Host",
                                language="en", status="queued", attempts=0,
                                next_attempt_at=now, created_at=now)
                session.add_all([case, notice])
                await session.flush()
                session.add(NoticeCase(notice_id=notice.id, case_id=case.id))

        async def sent() -> int:
            async with svc.sessions() as session:
                return int(await session.scalar(select(func.count()).select_from(Notice)
                                                 .where(Notice.status == "sent")) or 0)

        async with SmtpSink() as sink:
            first = await start_worker(database_url, tmp_path, sink)
            deadline = time.monotonic() + 180
            while len(sink.messages) < 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            first.send_signal(signal.SIGKILL)
            await first.wait()
            assert 200 <= len(sink.messages) < 1000
            second = await start_worker(database_url, tmp_path, sink)
            try:
                # As long as the worker makes progress (a loaded machine is slow).
                progress, count = time.monotonic(), await sent()
                while count < 1000 and time.monotonic() - progress < 60:
                    await asyncio.sleep(0.2)
                    now_sent = await sent()
                    if now_sent > count:
                        progress, count = time.monotonic(), now_sent
            finally:
                second.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(second.communicate(), timeout=30)
            assert "Traceback" not in err.decode(), err.decode()
            assert await sent() == 1000
            ids = [m.message["Message-ID"] for m in sink.messages]
        async with svc.sessions() as session:
            stored = set(await session.scalars(select(Notice.message_id)))
        assert set(ids) == stored and len(stored) == 1000  # every notice delivered
        assert len(ids) - len(set(ids)) <= 1  # only the one in flight at the kill, twice
    finally:
        await svc.close()
