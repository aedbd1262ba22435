"""Claiming checks (`claim_checks`): due check_schedule rows of checked cases,
earliest first, never a host left out, exactly `limit` of them, disjoint between
workers, an expired lease taken over; only the schedule rows are leased."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nttd.checks.scheduler import claim_checks
from nttd.db import is_sqlite, make_engine, make_sessionmaker
from nttd.migrate import upgrade
from nttd.models import Case, CheckSchedule

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = NOW + timedelta(minutes=5)


def new_case(n: int, *, host: str = "a.example.net", status: str = "monitoring",
             due: datetime | None = NOW) -> Case:
    url = f"http://{host}/{n}.jpg"
    return Case(url=url, canonical_url=url, host=host, status=status, confirmed_at=NOW,
                created_at=NOW, updated_at=NOW, hold_seconds=0.0, resolve_attempts=0,
                reappeared_count=0, next_check_at=due, check_count=0, gone_streak=0)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    await upgrade(engine)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def test_claims_due_checks_earliest_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        # 30 due, a minute apart, the latest first in id order.
        due = [new_case(n, due=NOW - timedelta(minutes=n)) for n in range(30)]
        others = [new_case(100, status="hold"), new_case(101, due=NOW + timedelta(hours=1)),
                  new_case(102, status="received", due=None),
                  new_case(103, host="paused.example.net"),
                  new_case(104, status="closed", due=None)]
        session.add_all(due + others)
    by_age = [c.id for c in reversed(due)]
    async with sessions() as session, session.begin():
        first = await claim_checks(session, limit=10, owner="a", now=NOW, lease_until=LEASE,
                                   excluded_hosts=["paused.example.net"])
    # The 10 due first (in no particular order: RETURNING keeps none).
    assert sorted(job[0] for job in first) == sorted(by_age[:10])
    assert dict((job[0], job[1:]) for job in first)[by_age[0]] == (
        "http://a.example.net/29.jpg", "a.example.net")
    async with sessions() as session, session.begin():
        rest = await claim_checks(session, limit=100, owner="b", now=NOW, lease_until=LEASE,
                                  excluded_hosts=["paused.example.net"])
    assert sorted(job[0] for job in rest) == sorted(by_age[10:])  # none of the others
    async with sessions() as session:
        leases = dict((await session.execute(
            select(CheckSchedule.lease_owner, func.count())
            .where(CheckSchedule.lease_owner.is_not(None))
            .group_by(CheckSchedule.lease_owner))).all())
        case_leases = await session.scalar(
            select(func.count()).where(Case.lease_owner.is_not(None)))
    assert leases == {"a": 10, "b": 20} and case_leases == 0
    # Nothing left until the leases expire; then the paused host's case too, if asked.
    async with sessions() as session, session.begin():
        assert await claim_checks(session, limit=100, owner="c", now=NOW,
                                  lease_until=LEASE) == [(others[3].id, others[3].canonical_url,
                                                          "paused.example.net")]
    later = LEASE + timedelta(seconds=1)
    async with sessions() as session, session.begin():
        again = await claim_checks(session, limit=100, owner="c", now=later,
                                   lease_until=later + timedelta(minutes=5))
    assert sorted(job[0] for job in again) == sorted([*by_age, others[3].id])


async def test_concurrent_claims_are_disjoint_and_exactly_the_limit(
    sessions: async_sessionmaker[AsyncSession], database_url: str,
) -> None:
    if is_sqlite(database_url):
        pytest.skip("SQLite serialises writers: one worker")
    async with sessions() as session, session.begin():
        session.add_all([new_case(n) for n in range(40)])
    async with sessions() as first, first.begin():
        mine = await claim_checks(first, limit=10, owner="a", now=NOW, lease_until=LEASE)
        async with sessions() as second, second.begin():
            theirs = await claim_checks(second, limit=10, owner="b", now=NOW,
                                        lease_until=LEASE)
    assert len(mine) == len(theirs) == 10
    assert not {j[0] for j in mine} & {j[0] for j in theirs}
    async with sessions() as session:
        leased = await session.scalar(
            select(func.count()).where(CheckSchedule.lease_owner.is_not(None)))
    assert leased == 20
