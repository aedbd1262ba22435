"""Check workers at scale: claims with leases (one statement, disjoint between
workers), the per-host limit and host backoff, and real `nttd worker` processes
sharing the work on PostgreSQL — including one killed with SIGKILL mid-batch."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, update

import nttd.checks.scheduler
from nttd.checks import CheckScheduler
from nttd.checks.probe import Checker
from nttd.db import claim, is_sqlite
from nttd.demo.standins.hosting import HostingServer
from nttd.migrate import upgrade
from nttd.models import Case, Check, CheckSchedule
from nttd.services import Services
from nttd.settings import Settings


def settings_for(database_url: str, **env: str) -> Settings:
    values = {"NTTD_DATABASE_URL": database_url, "NTTD_ALLOW_PRIVATE_TARGETS": "1",
              "NTTD_RECHECK_SCHEDULE": "1s", "NTTD_WORKER_POLL_INTERVAL": "50ms",
              "NTTD_CHECK_JITTER": "0"}
    values.update(env)
    return Settings.load(values)


@pytest.fixture
async def svc(database_url: str) -> AsyncIterator[Services]:
    services = await Services.start(settings_for(database_url, NTTD_CHECK_PER_HOST="3",
                                                 NTTD_HOST_BACKOFF_SCHEDULE="1h"))
    await upgrade(services.engine)
    yield services
    await services.close()


async def insert_cases(svc: Services, urls: list[str]) -> list[int]:
    now = datetime.now(UTC)
    async with svc.sessions() as session, session.begin():
        cases = [Case(url=u, canonical_url=u, host=u.split("/")[2].split(":")[0],
                      status="monitoring", confirmed_at=now, created_at=now, updated_at=now,
                      next_check_at=now, hold_seconds=0.0, resolve_attempts=0, check_count=0,
                      gone_streak=0, reappeared_count=0) for u in urls]
        session.add_all(cases)
        await session.flush()
        return [c.id for c in cases]


async def checks_by_case(svc: Services) -> dict[int, list[datetime]]:
    async with svc.sessions() as session:
        rows = (await session.execute(
            select(Check.case_id, Check.checked_at).order_by(Check.checked_at))).all()
    result: dict[int, list[datetime]] = {}
    for case_id, at in rows:
        result.setdefault(case_id, []).append(at)
    return result


async def test_claim_leases_exactly_the_rows_it_returns(svc: Services) -> None:
    ids = await insert_cases(svc, [f"http://127.0.0.2:9/{n}" for n in range(40)])
    now = datetime.now(UTC)
    kwargs = dict(where=[Case.status == "monitoring"], order_by=Case.id, limit=10,
                  now=now, lease_until=now + timedelta(minutes=5))
    async with svc.sessions() as first, first.begin():
        mine = await claim(first, Case, owner="a", **kwargs)  # type: ignore[arg-type]
        if not is_sqlite(svc.settings.database_url):
            # A second worker, while the first transaction is open: disjoint rows.
            async with svc.sessions() as second, second.begin():
                theirs = await claim(second, Case, owner="b", **kwargs)  # type: ignore[arg-type]
            assert len(theirs) == 10 and not set(mine) & set(theirs)
    assert len(mine) == 10 and set(mine) <= set(ids)
    async with svc.sessions() as session:
        leased = dict((await session.execute(
            select(Case.lease_owner, func.count()).where(Case.lease_owner.is_not(None))
            .group_by(Case.lease_owner))).all())
    assert leased == ({"a": 10} if is_sqlite(svc.settings.database_url) else {"a": 10, "b": 10})


async def test_a_round_writes_its_results_and_claims_more_in_one_transaction(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = await Services.start(settings_for(database_url, NTTD_CHECK_CONCURRENCY="3",
                                            NTTD_RECHECK_SCHEDULE="1h"))
    await upgrade(svc.engine)
    transactions: list[object] = []
    event.listen(svc.engine.sync_engine, "begin", transactions.append)
    try:
        async with HostingServer("127.0.0.2") as host:
            host.route("/img/1.jpg", status=200)
            ids = await insert_cases(svc, [host.url(f"/img/1.jpg?n={n}") for n in range(9)])
            scheduler = CheckScheduler(round_seconds=5)  # the round ends when all are in
            assert await scheduler.step(svc) == 3 + 3  # 3 claimed, 3 finished meanwhile
            before = len(transactions)
            assert await scheduler.step(svc) == 3 + 3 + 3  # written, claimed, finished
            assert len(transactions) == before + 1  # one transaction for the round
            assert len(await checks_by_case(svc)) == 3

            # If writing and claiming together fails, the results are written apart
            # (record_outcomes) and the claim is made apart: nothing is lost.
            def broken(*_args: object, **_kwargs: object) -> None:
                raise RuntimeError("cannot write together")

            monkeypatch.setattr(nttd.checks.scheduler, "write_outcomes", broken)
            assert await scheduler.step(svc) == 3 + 3 + 3  # written apart, claimed, finished
            await scheduler.settle(svc)
        checks = await checks_by_case(svc)
        assert sorted(checks) == sorted(ids) and all(len(t) == 1 for t in checks.values())
        async with svc.sessions() as session:
            assert await session.scalar(select(func.count()).where(
                CheckSchedule.lease_owner.is_not(None))) == 0
    finally:
        await svc.close()


async def test_per_host_limit_then_backoff_for_a_host_that_times_out(svc: Services) -> None:
    async with HostingServer("127.0.0.2") as slow, HostingServer("127.0.0.3") as fast:
        slow.route("/img/1.jpg", hang=True)
        fast.route("/img/1.jpg", status=200)
        slow_ids = await insert_cases(svc, [slow.url(f"/img/1.jpg?n={n}") for n in range(10)])
        fast_ids = await insert_cases(svc, [fast.url(f"/img/1.jpg?n={n}") for n in range(3)])
        await svc.checker.close()
        svc.checker = Checker(svc.dns, allow_private=True, timeout=0.5)
        scheduler = CheckScheduler(round_seconds=0.2)
        assert await scheduler.step(svc) == 13 + 3  # all claimed; the fast host's 3 written
        assert len(slow.connections) == 3  # the per-host limit
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not scheduler.backing_off(svc.clock()):
            await scheduler.step(svc)
        await scheduler.drain(svc)
        await slow.settle()
        # Checks already waiting for the host may start while the first timeouts come
        # in; once 3 in a row have timed out nobody asks again.
        asked = len(slow.connections)
        assert 3 <= asked <= 5
        checks = await checks_by_case(svc)
        checked_slow = set(checks) & set(slow_ids)
        assert len(checked_slow) == asked and set(checks) - checked_slow == set(fast_ids)
        async with svc.sessions() as session:
            deferred = list(await session.scalars(
                select(CheckSchedule.next_check_at)
                .where(CheckSchedule.case_id.in_(set(slow_ids) - checked_slow))))
            leases = await session.scalar(
                select(func.count()).where(CheckSchedule.lease_owner.is_not(None)))
        assert leases == 0
        assert len(deferred) == 10 - asked
        assert all(at is not None and at > datetime.now(UTC) + timedelta(minutes=50)
                   for at in deferred)
        # The paused host's cases are not claimed (the fast host's may be due again
        # already when the machine is slow: its schedule is 1 s).
        await scheduler.step(svc)
        async with svc.sessions() as session:
            slow_leased = await session.scalar(select(func.count()).where(
                CheckSchedule.case_id.in_(slow_ids), CheckSchedule.lease_owner.is_not(None)))
        assert slow_leased == 0
        assert len(slow.connections) == asked


# -- real worker processes on PostgreSQL ---------------------------------------------


async def start_worker(database_url: str, tmp_path: Path, **env: str
                       ) -> asyncio.subprocess.Process:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NTTD_")}
    full.update({"NTTD_DATABASE_URL": database_url, "NTTD_ALLOW_PRIVATE_TARGETS": "1",
                 "NTTD_RECHECK_SCHEDULE": "1s", "NTTD_WORKER_POLL_INTERVAL": "50ms",
                 "NTTD_CHECK_JITTER": "0"})
    full.update(env)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nttd.cli", "worker", env=full, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


async def stop_worker(proc: asyncio.subprocess.Process) -> str:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    return err.decode()


def needs_postgres(database_url: str) -> None:
    if is_sqlite(database_url):
        pytest.skip("several workers share work only on PostgreSQL (SQLite runs one worker)")


async def test_two_workers_never_check_a_case_twice_in_a_round(
    svc: Services, database_url: str, tmp_path: Path
) -> None:
    needs_postgres(database_url)
    async with HostingServer("127.0.0.2") as host_a, HostingServer("127.0.0.3") as host_b:
        host_a.route("/img/1.jpg", status=200)
        host_b.route("/img/1.jpg", status=200)
        urls = [h.url(f"/img/1.jpg?n={n}") for n in range(150) for h in (host_a, host_b)]
        ids = await insert_cases(svc, urls)
        workers = [await start_worker(database_url, tmp_path, NTTD_CHECK_PER_HOST="16")
                   for _ in range(2)]
        try:
            # Until every case has been checked twice (a loaded machine starts the
            # workers slowly: wait for the work, not for a fixed time).
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                seen = await checks_by_case(svc)
                if len(seen) == len(ids) and all(len(v) >= 2 for v in seen.values()):
                    break
                await asyncio.sleep(0.2)
        finally:
            errors = [await stop_worker(w) for w in workers]
        assert all("Traceback" not in e for e in errors), errors
    checks = await checks_by_case(svc)
    assert sorted(checks) == sorted(ids)  # every case was checked
    assert sum(len(v) for v in checks.values()) >= 2 * len(ids)  # several rounds ran
    for times in checks.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= timedelta(milliseconds=990) for gap in gaps), gaps  # schedule: 1s


async def test_worker_killed_mid_batch_loses_no_case(
    svc: Services, database_url: str, tmp_path: Path
) -> None:
    needs_postgres(database_url)
    async with HostingServer("127.0.0.2") as host:
        host.route("/img/1.jpg", hang=True)
        ids = await insert_cases(svc, [host.url(f"/img/1.jpg?n={n}") for n in range(60)])
        first = await start_worker(database_url, tmp_path, NTTD_LEASE_DURATION="2s",
                                   NTTD_CHECK_PER_HOST="60")

        async def leased() -> int:
            async with svc.sessions() as session:
                return int(await session.scalar(
                    select(func.count()).where(CheckSchedule.lease_owner.is_not(None))) or 0)

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (await leased() < 60 or len(host.requests) < 60):
            await asyncio.sleep(0.05)
        assert await leased() == 60 and len(host.requests) == 60  # all claimed, all in flight
        first.send_signal(signal.SIGKILL)
        await first.wait()
        host.route("/img/1.jpg", status=200)
        second = await start_worker(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h")
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(await checks_by_case(svc)) < 60:
                await asyncio.sleep(0.1)
        finally:
            err = await stop_worker(second)
        assert "Traceback" not in err, err
    checks = await checks_by_case(svc)
    assert sorted(checks) == sorted(ids)
    assert all(len(times) == 1 for times in checks.values())
    async with svc.sessions() as session:
        verdicts = set(await session.scalars(select(Check.verdict)))
        assert verdicts == {"online"}
        await session.execute(update(CheckSchedule).values(lease_owner=None))  # tidy


async def test_sqlite_worker_says_it_runs_alone(database_url: str, tmp_path: Path) -> None:
    if not is_sqlite(database_url):
        pytest.skip("the single-worker notice is about SQLite")
    engine_svc = await Services.start(settings_for(database_url))
    await upgrade(engine_svc.engine)
    await engine_svc.close()
    worker = await start_worker(database_url, tmp_path)
    assert worker.stderr is not None
    seen = b""
    try:  # read its log until the notice comes (a loaded machine starts it slowly)
        async with asyncio.timeout(30):
            while b"SQLite database: run a single nttd worker" not in seen:
                line = await worker.stderr.readline()
                if not line:
                    break
                seen += line
    finally:
        seen += (await stop_worker(worker)).encode()
    assert "SQLite database: run a single nttd worker" in seen.decode()
