"""A worker's batch of notices can outlast the lease it claimed them with (a slow
SMTP server, a loaded machine): a notice it starts sending late renews its lease
then, so another worker does not take it over mid-send and send it a second time;
and a notice claimed by another meanwhile is left to that one.

Found by the kill -9 test on a loaded machine: a second worker re-sent a notice
still being sent, and the first then failed marking it sent twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from nttd.db import claim
from nttd.models import Notice
from nttd.outbox import NoticeStatus, deliver_due_notices
from nttd.outbox.delivery import _deliver_one, _prepare
from tests.integration.world import running_world

pytestmark = pytest.mark.faults


async def test_a_notice_sent_late_in_a_batch_is_not_taken_over(
    pg_url: str, tmp_path: Path
) -> None:
    async with running_world(pg_url, tmp_path, NTTD_NOTICE_BATCH_WINDOW="1h",
                             NTTD_RECHECK_SCHEDULE="1h", NTTD_LEASE_DURATION="10s") as world:
        assert world.clock is not None
        for site in ("us", "gb"):  # two e-mail notices
            await world.api("POST", "/api/v1/cases", json={"urls": [world.url(site)]})
        await world.run_until_idle()
        await world.end_gathering()
        svc = world.svc
        now = svc.clock()
        async with svc.sessions() as session, session.begin():
            first, second = await claim(
                session, Notice, where=[Notice.status == "queued"], order_by=Notice.id,
                limit=10, owner=svc.worker_id, now=now,
                lease_until=now + svc.settings.lease_duration)
        # Worker A gets to the first notice late in its batch, and its send is slow.
        world.clock.advance(timedelta(seconds=8))
        assert await _prepare(svc, first) is not None
        world.clock.advance(timedelta(seconds=3))  # past the lease of the claim
        mine, svc.worker_id = svc.worker_id, "worker-b"
        assert await deliver_due_notices(svc) == 1  # B takes the second one only
        assert len(world.smtp.messages) == 1
        svc.worker_id = mine
        await _deliver_one(svc, second)  # A's claim on it is gone: it leaves it
        await _deliver_one(svc, first)  # A's send completes
        async with svc.sessions() as session:
            notices = list(await session.scalars(select(Notice).order_by(Notice.id)))
        assert [n.status for n in notices] == [NoticeStatus.SENT, NoticeStatus.SENT]
        ids = [m.message["Message-ID"] for m in world.smtp.messages]
        assert sorted(ids) == sorted(str(n.message_id) for n in notices)  # each once
