"""The statistics' narrow copy of each case (case_stats, nttd.stats.fresh, migration
0018): triggers keep it in step with the cases whatever writes them, the refresh bins
it, and the statistics read from it give exactly the answer of counting every case at
"now" - at the refresh's "now", just after, long after, and before it - on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from nttd.db import make_engine, make_sessionmaker
from nttd.migrate import upgrade
from nttd.models import Case, CaseStats
from nttd.stats import refresh_stats
from nttd.stats.fresh import _LOCK, _WRITE, _due, _running, bin_span, bins_of, fresh_at
from nttd.stats.sqltime import grid_bin_of
from tests.stats.cases import NOW, new_case, same_answer, store
from tests.stats.test_stored_durations import jittered


async def fresh_count(engine: AsyncEngine, now: Any) -> int:
    async with make_sessionmaker(engine)() as session:
        return int((await session.execute(
            select(func.count()).select_from(CaseStats).where(fresh_at(now)))).scalar_one())


async def test_fresh_bins_give_the_answer_of_counting_at_now(engine: AsyncEngine) -> None:
    cases = jittered(41)
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, cases)
    # Before any refresh every case is counted at "now".
    assert await fresh_count(engine, NOW) == 0
    await same_answer(engine, NOW)
    for refreshed in (NOW - timedelta(hours=30, microseconds=500), NOW):
        async with make_sessionmaker(engine)() as session:
            assert await refresh_stats(session, now=refreshed) > 0
        # Most cases are read from their bins at the refresh's "now" (the others:
        # held, in their first minute, or at a bin's edge).
        assert await fresh_count(engine, refreshed) > 0.8 * len(cases)
        for later in (timedelta(0), timedelta(seconds=59.99), timedelta(days=3),
                      -timedelta(hours=1)):
            await same_answer(engine, refreshed + later)


async def test_a_write_marks_the_copy_stale_and_the_refresh_bins_it_again(
        engine: AsyncEngine) -> None:
    start = NOW - timedelta(days=2)
    cases = [new_case(1, "NL", start, first_notice_at=start + timedelta(minutes=10)),
             new_case(2, "DE", start, status="removed",
                      removed_at=start + timedelta(hours=5))]
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, cases)
    ids = [c.id for c in cases]

    async def copies() -> dict[int, Any]:
        async with make_sessionmaker(engine)() as session:
            rows = await session.execute(select(CaseStats))
            return {row.case_id: row for row in rows.scalars()}

    rows = await copies()
    assert set(rows) == set(ids)
    assert all(r.stale and r.removal_bin is None and r.fresh_from is None
               for r in rows.values())
    assert rows[ids[0]].country == "NL" and rows[ids[0]].asn == 64501
    assert rows[ids[0]].noticed and not rows[ids[0]].removed
    assert rows[ids[0]].week == "2026-06-08" and rows[ids[0]].month == "2026-06"
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 2
        assert await refresh_stats(session, now=NOW) == 0  # nothing due
    rows = await copies()
    # Removed after 5 h: 300 minutes, a stopped clock, binned for ever.
    assert rows[ids[1]].removal_bin == grid_bin_of(300)
    assert (rows[ids[1]].fresh_from, rows[ids[1]].fresh_until) == (-1e15, 1e15)
    # Open for two days: the bin of 2,880 minutes, held for the minutes of that bin.
    first, last = bin_span(grid_bin_of(2880))
    assert rows[ids[0]].removal_bin == grid_bin_of(2880)
    assert rows[ids[0]].fresh_until - rows[ids[0]].fresh_from < (last - first + 1) * 60
    assert rows[ids[0]].fresh_from <= NOW.timestamp() < rows[ids[0]].fresh_until
    version = rows[ids[0]].version
    # A write of a column the statistics do not read leaves the copy as it is.
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(update(Case).where(Case.id == ids[0]).values(
            reference="R-7", last_error="timeout"))
    assert not (await copies())[ids[0]].stale
    # The ORM and plain SQL: the removal and a new network mark it stale.
    async with make_sessionmaker(engine)() as session, session.begin():
        case = await session.get(Case, ids[0])
        assert case is not None
        case.status, case.removed_at = "removed", NOW - timedelta(hours=1)
    row = (await copies())[ids[0]]
    assert row.stale and row.removed and row.removal_bin is None
    assert row.version > version
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(update(Case).where(Case.id == ids[1]).values(asn=64999))
    assert (await copies())[ids[1]].stale and (await copies())[ids[1]].asn == 64999
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 2
    assert (await copies())[ids[0]].removal_bin == grid_bin_of(47 * 60)
    # A deleted case takes its copy with it.
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(delete(Case).where(Case.id == ids[1]))
    assert set(await copies()) == {ids[0]}


async def test_a_case_written_during_the_refresh_stays_stale(engine: AsyncEngine) -> None:
    start = NOW - timedelta(days=1)
    case = new_case(1, "NL", start)
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, [case])
    at = NOW.timestamp()
    async with make_sessionmaker(engine)() as session:
        async with session.begin():
            (row,) = (await session.execute(_due(NOW, 0, 10))).all()
        # The case is removed after the refresh read it, before it writes.
        async with session.begin():
            await session.execute(update(Case).where(Case.id == case.id).values(
                status="removed", removed_at=NOW))
        async with session.begin():
            connection = await session.connection()
            await connection.execute(_WRITE, [{"b_case_id": row.case_id,
                                               "b_version": row.version,
                                               **bins_of(row, at)}])
        stats = await session.get(CaseStats, case.id)
        assert stats is not None and stats.stale and stats.removal_bin is None
        assert stats.removed
    assert await fresh_count(engine, NOW) == 0
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 1
    assert await fresh_count(engine, NOW) == 1


async def test_the_migration_copies_existing_cases(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine, "0017")
        confirmed = NOW - timedelta(days=2)
        async with engine.begin() as conn:
            for i, status in enumerate(["removed", "monitoring"]):
                url = f"http://a.example.net/{i}"
                await conn.execute(insert(Case.__table__).values(
                    url=url, canonical_url=url, host="a.example.net", status=status,
                    confirmed_at=confirmed, created_at=confirmed, updated_at=confirmed,
                    removed_at=confirmed + timedelta(minutes=30) if i == 0 else None,
                    hold_seconds=0.0, resolve_attempts=0, reappeared_count=0,
                    route_kind="direct", country="NL"))
        await upgrade(engine)
        async with make_sessionmaker(engine)() as session:
            rows = (await session.execute(select(CaseStats))).scalars().all()
            assert len(rows) == 2 and all(r.stale and r.country == "NL" for r in rows)
            assert sorted(r.removed for r in rows) == [False, True]
        async with make_sessionmaker(engine)() as session:
            assert await refresh_stats(session, now=NOW) == 2
        assert await fresh_count(engine, NOW) == 2
        await same_answer(engine, NOW)
    finally:
        await engine.dispose()


@settings(max_examples=300, deadline=None)
@given(start=st.floats(1.7e9, 1.8e9), age=st.floats(0.0, 400 * 86400.0),
       offset=st.floats(0.0, 1.0))
def test_a_running_bin_holds_over_its_interval(start: float, age: float,
                                               offset: float) -> None:
    at = start + age
    running = _running(start, at)
    if running is None:
        assert round(age * 1000) <= 0
        return
    bin_, low, high = running
    assert low <= at + 0.011 and at < high + 0.011
    for now in (low, high - 1e-6, low + offset * (high - low)):
        millis = round((now - start) * 1000)
        assert grid_bin_of((millis + 59999) // 60000) == bin_


async def test_one_process_refreshes_at_a_time(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's write lock serialises the refreshes already")
    start = NOW - timedelta(days=1)
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, [new_case(1, "NL", start), new_case(2, "DE", start)])
    async with engine.connect() as other:  # another worker, in the middle of a refresh
        await other.execute(select(func.pg_advisory_xact_lock(_LOCK)))
        async with make_sessionmaker(engine)() as session:
            assert await refresh_stats(session, now=NOW) == 0
        assert await fresh_count(engine, NOW) == 0
        await other.rollback()
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 2


async def test_a_clock_not_started_yet_is_binned_a_minute_later(engine: AsyncEngine) -> None:
    case = new_case(1, "NL", NOW)  # 0 ms old: no started minute to bin yet
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, [case])
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 1
        # Counted at "now" until it is tried again, a minute later.
        assert await refresh_stats(session, now=NOW) == 0
        assert await refresh_stats(session, now=NOW + timedelta(seconds=59)) == 0
    assert await fresh_count(engine, NOW) == 0
    await same_answer(engine, NOW, ("country",))
    later = NOW + timedelta(seconds=61)
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=later) == 1
    assert await fresh_count(engine, later) == 1
    await same_answer(engine, later, ("country",))
