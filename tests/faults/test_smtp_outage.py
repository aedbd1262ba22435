"""The SMTP server down for a stretch (refusing connections, then answering 451
"try later"), then back on the same port: every notice is delivered afterwards,
each exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from nttd.models import Notice
from tests.faults.support import (
    DONE,
    Db,
    duplicates,
    loopback_net,
    prepare_database,
    start_nttd,
    submit_urls,
    wait_for_progress,
    wait_until,
)

pytestmark = pytest.mark.faults

CASES = 300


async def failed_attempts(db: Db) -> int:
    """E-mail notices that have failed at least once and wait for their retry."""
    async with db.sessions() as session:
        return int(await session.scalar(
            select(func.count()).select_from(Notice).where(
                Notice.channel == "email", Notice.attempts > 0,
                Notice.status == "queued")) or 0)


async def test_every_notice_is_delivered_once_after_an_smtp_outage(
    pg_url: str, tmp_path: Path
) -> None:
    async with loopback_net(tmp_path, names_per_site=10) as net:
        token = await prepare_database(pg_url, net)
        env = net.env(pg_url, NTTD_NOTICE_RETRY_SCHEDULE="300ms,600ms,1s",
                      NTTD_LEASE_DURATION="20s")
        db = Db(pg_url)
        started = time.monotonic()
        serve = await start_nttd("serve", env, tmp_path, "serve")
        worker = await start_nttd("worker", env, tmp_path, "worker")
        try:
            await submit_urls(serve.base_url, token, net.urls(CASES))

            async def some_mail() -> bool:
                return len(net.smtp.messages) >= 10

            await wait_until("the first mails", some_mail, cap=300)
            # Down: connections refused, while notices keep coming due.
            await net.smtp.stop()
            before = len(net.smtp.messages)

            async def refused_some() -> bool:
                return await failed_attempts(db) >= 20

            refused_for = await wait_until("notices to fail against a closed port",
                                           refused_some, cap=300)
            # Up again on the same port, but answering "451 try later" to every RCPT.
            net.smtp.rcpt_reply = "451 4.3.0 mailbox busy, try again later"
            await net.smtp.start()
            failed = await failed_attempts(db)

            async def deferred_more() -> bool:
                return await failed_attempts(db) >= failed + 10

            deferred_for = await wait_until("notices to be deferred with 451",
                                            deferred_more, cap=300)
            assert len(net.smtp.messages) == before  # nothing got through meanwhile
            net.smtp.rcpt_reply = None  # back to normal
            await wait_for_progress("cases done + notices sent", db.all_done)
            elapsed = time.monotonic() - started
        finally:
            logs = {p.name: await p.stop() for p in (serve, worker)}
        cases = await db.case_statuses()
        notices = await db.notice_statuses()
        stored = await db.message_ids("email")
        async with db.sessions() as session:
            retried = int(await session.scalar(select(func.count()).select_from(Notice).where(
                Notice.channel == "email", Notice.attempts > 1)) or 0)
        await db.close()
        ids = [m.message["Message-ID"] for m in net.smtp.messages]
        report = (f"{elapsed:.0f} s (refused for {refused_for:.1f} s, 451 for "
                  f"{deferred_for:.1f} s); cases {dict(cases)}; notices {dict(notices)}; "
                  f"{len(ids)} mails for {len(stored)} e-mail notices, {retried} delivered "
                  f"after a retry; twice: {duplicates(ids)}")
        print(report)
        for name, text in logs.items():
            assert "Traceback" not in text, (name, text[-5000:])
        assert sum(cases.values()) == CASES and set(cases) <= DONE, report
        assert set(notices) == {"sent"}, report
        assert len(ids) == len(set(ids)) == len(stored), report  # each exactly once
        assert set(ids) == stored, report
        assert retried >= 20, report  # the outage was felt, and waited out
