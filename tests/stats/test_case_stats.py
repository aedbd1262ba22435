"""The statistics' narrow copy of each case (case_stats, nttd.stats.fresh, migration
0018): triggers keep it in step with the cases whatever writes them, the refresh bins
it, and the statistics read from it give exactly the answer of counting every case at
"now" - at the refresh's "now", just after, long after, and before it - on SQLite and
PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from nttd.db import make_engine, make_sessionmaker
from nttd.migrate import upgrade
from nttd.models import Case, CaseStats, StatsLists, StatsListsState, StatsRollup
from nttd.stats import StatsQuery, refresh_stats, stats_for
from nttd.stats.fresh import _LOCK, _WRITE, _due, _running, bin_span, fresh_at, written
from nttd.stats.sqltime import grid_bin_of
from tests.stats.cases import NOW, new_case, same_answer, store
from tests.stats.test_stored_durations import jittered


async def fresh_count(engine: AsyncEngine, now: Any) -> int:
    async with make_sessionmaker(engine)() as session:
        return int((await session.execute(
            select(func.count()).select_from(CaseStats).where(fresh_at(now.timestamp())))
        ).scalar_one())


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
    # A new case's copy is stale and empty until the refresh copies it.
    assert all(r.stale and r.removal_bin is None and r.fresh_from is None and not r.rolled
               and r.country is None for r in rows.values())
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 2
        assert await refresh_stats(session, now=NOW) == 0  # nothing due
    rows = await copies()
    assert rows[ids[0]].country == "NL" and rows[ids[0]].asn == 64501
    assert rows[ids[0]].noticed and not rows[ids[0]].removed
    assert rows[ids[0]].week == "2026-06-08" and rows[ids[0]].month == "2026-06"
    assert all(r.rolled and not r.stale for r in rows.values())
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
    # The ORM and plain SQL: the removal and a new network mark it stale; its columns
    # and bins stay what the rollup counts for it until the refresh.
    async with make_sessionmaker(engine)() as session, session.begin():
        case = await session.get(Case, ids[0])
        assert case is not None
        case.status, case.removed_at = "removed", NOW - timedelta(hours=1)
    row = (await copies())[ids[0]]
    assert row.stale and row.fresh_from is None and row.version > version
    assert not row.removed and row.removal_bin == grid_bin_of(2880) and row.rolled
    await same_answer(engine, NOW, ("country", "asn"))
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(update(Case).where(Case.id == ids[1]).values(asn=64999))
    assert (await copies())[ids[1]].stale and (await copies())[ids[1]].asn == 64502
    await same_answer(engine, NOW, ("country", "asn"))
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 2
    assert (await copies())[ids[0]].removal_bin == grid_bin_of(47 * 60)
    assert (await copies())[ids[1]].asn == 64999
    await same_answer(engine, NOW, ("country", "asn"))
    # A deleted case's copy stays, stale, until the refresh takes it out of the rollup.
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(delete(Case).where(Case.id == ids[1]))
    assert (await copies())[ids[1]].stale
    await same_answer(engine, NOW, ("country", "asn"))
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 1
    assert set(await copies()) == {ids[0]}
    await same_answer(engine, NOW, ("country", "asn"))
    assert await rollup_rows(engine, "asn") == {(64501, 0, grid_bin_of(47 * 60)): (1, 0)}


async def rollup_rows(engine: AsyncEngine, dim: str) -> dict[tuple[int, int, int], Any]:
    """The rollup's rows of a breakdown: (num, clock, bin) -> (events, censored)."""
    async with make_sessionmaker(engine)() as session:
        rows = await session.execute(select(StatsRollup).where(StatsRollup.dim == dim))
        return {(r.num, r.clock, r.bin): (r.events, r.censored) for r in rows.scalars()
                if r.clock == 0}


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
            await connection.execute(_WRITE, [written(row, at)])
        stats = await session.get(CaseStats, case.id)
        assert stats is not None and stats.stale and stats.removal_bin is None
        assert not stats.removed and not stats.rolled
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
            assert len(rows) == 2 and all(r.stale and not r.rolled for r in rows)
        await same_answer(engine, NOW)
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


async def test_unfiltered_breakdowns_read_the_rollup(engine: AsyncEngine) -> None:
    """The rollup is what an unfiltered breakdown reads (and one country's networks):
    a count planted in it shows there, not in a filtered query, which reads the copies;
    from the rollup itself until its lists are made again, then from those."""
    start = NOW - timedelta(days=3)
    cases = [new_case(i, country, start, status="removed",
                      removed_at=start + timedelta(hours=i))
             for i, country in enumerate(["NL", "NL", "DE"], start=1)]
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, cases)
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 3
    await same_answer(engine, NOW)
    async with make_sessionmaker(engine)() as session, session.begin():
        # Planted as the refresh changes the rollup: the rows touched, the lists not current.
        await session.execute(update(StatsRollup).values(censored=StatsRollup.censored + 1,
                                                         touched=True)
                              .where(StatsRollup.clock == 0))
        await session.execute(update(StatsListsState).values(current=False))
    assert await planted(engine) == {"all": 3 + 3, "networks in NL": 2 + 2,
                                     "registrars in NL": 2, "since": 3}
    # The refresh makes the lists again from the rollup (as it is: planted).
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 0
        async with session.begin():
            assert (await session.execute(select(StatsListsState.current))).scalar_one()
            await session.execute(update(StatsRollup).values(censored=StatsRollup.censored - 1)
                                  .where(StatsRollup.clock == 0))
    # One planted count per (group, bin): each case has a bin of its own.
    assert await planted(engine) == {"all": 3 + 3, "networks in NL": 2 + 2,
                                     "registrars in NL": 2, "since": 3}


async def test_a_round_remakes_the_lists_of_the_groups_it_changed_only(
        engine: AsyncEngine) -> None:
    """After a round that moved one case, the lists of its groups are made again and the
    others' are left as they were: a count planted in every country's lists stays in
    the country the round did not touch."""
    start = NOW - timedelta(days=3)
    cases = [new_case(1, "NL", start), new_case(2, "DE", start)]
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, cases)
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 2
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(update(StatsLists).where(StatsLists.dim == "country")
                              .values(reappearances=StatsLists.reappearances + 100))
        await _removed(session, cases[0].id, NOW)
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 1
        async with session.begin():
            touched = await session.execute(select(func.count()).select_from(StatsRollup)
                                            .where(StatsRollup.touched))
            assert touched.scalar_one() == 0
            planted_in = dict((await session.execute(
                select(StatsLists.country, func.max(StatsLists.reappearances))
                .where(StatsLists.dim == "country").group_by(StatsLists.country))).all())
    assert planted_in == {"vNL": 0, "vDE": 100}
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(update(StatsLists).where(StatsLists.dim == "country")
                              .values(reappearances=0))
    await same_answer(engine, NOW)


async def planted(engine: AsyncEngine) -> dict[str, int]:
    """The cases counted by a few queries: unfiltered, one country's networks (both
    from the rollup), one country's registrars and a time window (from the copies)."""
    queries = {"all": StatsQuery(group_by="country"),
               "networks in NL": StatsQuery(group_by="asn", country="NL"),
               "registrars in NL": StatsQuery(group_by="registrar", country="NL"),
               "since": StatsQuery(group_by="country", since=NOW - timedelta(days=10))}
    cases_seen = {}
    for label, query in queries.items():
        async with make_sessionmaker(engine)() as session:
            result = await stats_for(session, query, now=NOW, min_group=1)
        cases_seen[label] = sum(group["cases"] for group in result["groups"])
    return cases_seen


async def test_a_deleted_case_and_one_that_takes_its_id(engine: AsyncEngine) -> None:
    """A case deleted and, on SQLite, a new case given its id (the largest rowid is used
    again) before the refresh: the rollup holds neither twice nor the old one."""
    start = NOW - timedelta(days=1)
    cases = [new_case(1, "NL", start), new_case(2, "DE", start, status="removed",
                                                removed_at=start + timedelta(hours=2))]
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, cases)
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) == 2
    last = cases[1].id
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(delete(Case).where(Case.id == last))
        session.add(new_case(3, "FR", start + timedelta(hours=1)))
    await same_answer(engine, NOW)
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) >= 1
    await same_answer(engine, NOW)
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(delete(Case))
    async with make_sessionmaker(engine)() as session:
        assert await refresh_stats(session, now=NOW) >= 2
        left = await session.execute(select(func.count()).select_from(StatsRollup))
        assert left.scalar_one() == 0  # rows that count nothing are dropped
        assert (await session.execute(select(func.count()).select_from(CaseStats))
                ).scalar_one() == 0


@pytest.mark.parametrize("seed", [11, 12, 13])
async def test_writes_and_partial_refreshes_in_any_order(engine: AsyncEngine, seed: int) -> None:
    """Cases written every way (removed, reappeared, moved, held and released, closed,
    deleted) between refreshes that each do a little, at "now"s moving on: after every
    step the statistics are those of counting every case at "now"."""
    rng = random.Random(seed)
    cases = jittered(seed)[:30]
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, cases)
    ids = [c.id for c in cases]
    now = NOW
    for step in range(8):
        now += timedelta(hours=rng.choice([0, 1, 7, 30]))
        chosen = rng.sample(ids, 4)
        async with make_sessionmaker(engine)() as session, session.begin():
            for case_id, change in zip(chosen, rng.choices(CHANGES, k=4), strict=True):
                await change(session, case_id, now)
        async with make_sessionmaker(engine)() as session:
            await refresh_stats(session, now=now, batch=rng.choice([3, 7, 50]),
                                max_batches=rng.choice([1, 2, 20]))
        groups = ("country", "asn", "partner", "step") if step % 2 else (
            "registrar", "week", "month", "route", "cdn")
        later = now + timedelta(seconds=rng.choice([0, 50, 7200]))
        await same_answer(engine, later, groups)
        if step == 3:  # as between a refresh's batches and its lists: read the rollup
            async with make_sessionmaker(engine)() as session, session.begin():
                await session.execute(update(StatsListsState).values(current=False))
                await session.execute(delete(StatsLists))
            await same_answer(engine, later, groups)
            async with make_sessionmaker(engine)() as session, session.begin():
                # Every group's lists to make again, as after the first pass.
                await session.execute(update(StatsRollup).values(touched=True))


async def _removed(session: Any, case_id: int, now: Any) -> None:
    await session.execute(update(Case).where(Case.id == case_id, Case.removed_at.is_(None))
                          .values(status="removed", removed_at=now - timedelta(minutes=5)))


async def _reappeared(session: Any, case_id: int, now: Any) -> None:
    await session.execute(update(Case).where(Case.id == case_id).values(
        status="reappeared", removed_at=None, reappeared_count=Case.reappeared_count + 1))


async def _moved(session: Any, case_id: int, now: Any) -> None:
    await session.execute(update(Case).where(Case.id == case_id).values(
        country="FR", asn=64503, as_name="FR-HOSTING", chase_step="reminder-1"))


async def _held(session: Any, case_id: int, now: Any) -> None:
    await session.execute(update(Case).where(Case.id == case_id,
                                             Case.hold_started_at.is_(None))
                          .values(hold_started_at=now - timedelta(minutes=30)))


async def _released(session: Any, case_id: int, now: Any) -> None:
    case = await session.get(Case, case_id)
    if case is not None and case.hold_started_at is not None:
        case.hold_seconds = (case.hold_seconds or 0.0) + (
            now - case.hold_started_at).total_seconds()
        case.hold_started_at = None


async def _closed(session: Any, case_id: int, now: Any) -> None:
    await session.execute(update(Case).where(Case.id == case_id).values(
        status="closed", updated_at=now))


async def _deleted(session: Any, case_id: int, now: Any) -> None:
    await session.execute(delete(Case).where(Case.id == case_id))


CHANGES = [_removed, _reappeared, _moved, _held, _released, _closed, _deleted]
