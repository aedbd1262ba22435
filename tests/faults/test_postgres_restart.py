"""PostgreSQL restarted mid-run (a private cluster: `pg_ctl stop -m fast`, then
`start`): `/healthz` says so while it is down, and `nttd serve` and `nttd worker`
carry on by themselves once it is back — every case done, every notice sent once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, union

from nttd.models import Case, CheckSchedule, Notice
from tests.faults.private_pg import private_postgres
from tests.faults.support import (
    DONE,
    Db,
    duplicates,
    healthz,
    loopback_net,
    prepare_database,
    start_nttd,
    submit_urls,
    wait_for_progress,
    wait_until,
)

pytestmark = pytest.mark.faults

CASES = 200


async def test_the_service_rides_out_a_postgres_restart(tmp_path: Path) -> None:
    async with private_postgres() as pg, loopback_net(tmp_path, names_per_site=8) as net:
        token = await prepare_database(pg.url, net)
        # A first check 1 s after routing: the check pipeline runs across the outage too.
        env = net.env(pg.url, NTTD_RECHECK_SCHEDULE="1s,1h", NTTD_LEASE_DURATION="10s")
        db = Db(pg.url)
        started = time.monotonic()
        serve = await start_nttd("serve", env, tmp_path, "serve")
        worker = await start_nttd("worker", env, tmp_path, "worker")
        try:
            assert await healthz(serve.base_url) == (200, {"ok": True, "database": "ok"})
            urls = net.urls(2 * CASES)
            await submit_urls(serve.base_url, token, urls[:CASES])

            owners: set[str] = set()

            async def under_way() -> bool:  # both processes at work, some cases done
                async with db.sessions() as session:
                    owners.update(await session.scalars(
                        union(select(Case.lease_owner).where(Case.lease_owner.is_not(None)),
                              select(CheckSchedule.lease_owner)
                              .where(CheckSchedule.lease_owner.is_not(None)),
                              select(Notice.lease_owner)
                              .where(Notice.lease_owner.is_not(None)))))
                return len(owners) >= 2 and await db.cases_done() >= 20

            await wait_until("both processes at work", under_way, cap=300, every=0.1)
            await db.close()  # our own connections would only go stale
            await pg.stop()
            down_at = time.monotonic()
            seen: list[tuple[int, Any]] = []

            async def reports_outage() -> bool:
                answer = await healthz(serve.base_url)
                if answer is not None:
                    seen.append(answer)
                return answer is not None and answer[0] == 503

            await wait_until("/healthz to report the outage", reports_outage, cap=60)
            body = seen[-1][1]
            assert body["ok"] is False and body["database"].startswith("unreachable"), body
            # Let the workers meet the outage for a while (several rounds of failing steps).
            async def met() -> bool:  # several retries, backing off
                return "(7 in a row" in worker.log() and "(7 in a row" in serve.log()

            await wait_until("the workers to meet the outage", met, cap=60)
            await pg.start()
            outage = time.monotonic() - down_at

            async def healthy() -> bool:
                answer = await healthz(serve.base_url)
                return answer == (200, {"ok": True, "database": "ok"})

            recovered_in = await wait_until("/healthz to recover", healthy, cap=60)
            assert serve.proc.returncode is None and worker.proc.returncode is None
            db = Db(pg.url)
            await submit_urls(serve.base_url, token, urls[CASES:])  # the API works again
            await wait_for_progress("cases done + notices sent", db.all_done)
            elapsed = time.monotonic() - started
            assert serve.proc.returncode is None and worker.proc.returncode is None
        finally:
            logs = {p.name: await p.stop() for p in (serve, worker)}
        cases = await db.case_statuses()
        notices = await db.notice_statuses()
        stored_mail = await db.message_ids("email")
        await db.close()
        mail_ids = [m.message["Message-ID"] for m in net.smtp.messages]
        report = (f"{elapsed:.0f} s; database down {outage:.1f} s, healthy again "
                  f"{recovered_in:.1f} s after its start; /healthz said {seen[-1]}; cases "
                  f"{dict(cases)}; notices {dict(notices)}; {len(mail_ids)} mails, twice: "
                  f"{duplicates(mail_ids)}")
        tracebacks = {name: text.count("Traceback") for name, text in logs.items()}
        report += f"; tracebacks logged: {tracebacks}"
        print(report)
        # Each failing step says so once with its traceback, then a line per retry.
        assert all(n < 200 for n in tracebacks.values()), report
        assert all(p in (0, None) for p in (serve.proc.returncode, worker.proc.returncode)), logs
        assert sum(cases.values()) == 2 * CASES and set(cases) <= DONE, report
        assert cases["monitoring"] > 0, report  # checks ran, before and after
        assert set(notices) == {"sent"}, report
        assert set(mail_ids) == stored_mail, report
        # A notice whose "sent" could not be recorded while the database was down may
        # go out again (with its Message-ID): at most one per process.
        assert sum(n - 1 for n in duplicates(mail_ids).values()) <= 2, report
