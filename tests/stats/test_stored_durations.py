"""The stored durations (nttd.stats.stored, migration 0016): the database keeps a
stopped clock's minutes in the case row, whatever writes the clocks, clears them when
the clock runs again, and the statistics read from them give exactly the answer of
counting every clock at "now" (SQLite and PostgreSQL), also when the clocks'
statements run side by side (PostgreSQL, read-only sessions)."""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

from sqlalchemy import column, insert, select, table, update
from sqlalchemy.ext.asyncio import AsyncEngine

from nttd.cases import case_times
from nttd.db import make_engine, make_sessionmaker
from nttd.migrate import upgrade
from nttd.models import Case
from nttd.stats import GROUPS
from tests.stats.cases import NOW, new_case, random_cases, same_answer, store

COUNTS = {"NL": 60, "DE": 45, "FR": 12}
CLOCK_COLUMNS = ("confirmed_at", "first_notice_at", "removed_at", "hold_started_at",
                 "acknowledged_at", "updated_at")


def jittered(seed: int) -> list[Any]:
    """random_cases with microseconds on every clock (ties at half a millisecond are
    where float arithmetic could differ)."""
    rng = random.Random(seed)
    cases = random_cases(seed, COUNTS)
    for case in cases:
        for name in CLOCK_COLUMNS:
            value = getattr(case, name)
            if value is not None and rng.random() < 0.7:
                micro = rng.choice([rng.randrange(1_000_000), 500, 499_500, 999_999])
                setattr(case, name, min(value + timedelta(microseconds=micro), NOW))
    return cases


def expected_minutes(seconds: float) -> int:
    millis = round(seconds * 1000)
    return math.ceil(millis / 60000) if millis > 0 else (0 if millis == 0 else -(-millis // 60000))


async def stored_rows(engine: AsyncEngine) -> dict[int, tuple[Any, ...]]:
    async with make_sessionmaker(engine)() as session:
        rows = await session.execute(select(
            Case.id, Case.stats_removal_minutes, Case.stats_notice_minutes,
            Case.stats_ack_minutes))
        return {row[0]: tuple(row[1:]) for row in rows}


async def test_stored_and_counted_at_now_give_the_same_answer(engine: AsyncEngine) -> None:
    cases = jittered(23)
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, cases)
    stored = await stored_rows(engine)
    # The stored path is really taken: every stopped removal clock has its minutes.
    stopped = [c for c in cases if c.hold_started_at is None
               and (c.removed_at is not None or c.status == "closed")]
    assert len(stopped) > 30
    assert sum(1 for v in stored.values() if v[0] is not None) == len(stopped)
    await same_answer(engine, NOW, GROUPS)


async def test_the_database_keeps_them_whatever_writes_the_clocks(engine: AsyncEngine) -> None:
    start = NOW - timedelta(days=1)
    removed = new_case(1, "NL", start, status="removed",
                       removed_at=start + timedelta(minutes=90, seconds=1),
                       first_notice_at=start + timedelta(minutes=10))
    running = new_case(2, "NL", start, first_notice_at=start + timedelta(minutes=10))
    held = new_case(3, "NL", start, status="hold", hold_started_at=start + timedelta(hours=2))
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, [removed, running, held])
    rows = await stored_rows(engine)
    ids = removed.id, running.id, held.id
    # Removed after 90 min 1 s: 91 started minutes; from the notice 81; not acknowledged:
    # censored at removal, 81. Running clocks: NULL.
    assert rows[ids[0]] == (91, 81, 81)
    assert rows[ids[1]] == (None, None, None)
    assert rows[ids[2]] == (None, None, None)
    async with make_sessionmaker(engine)() as session, session.begin():
        # The ORM: the removed case reappears (its clock runs again), the running one
        # is acknowledged, the held one is released after an hour and then closed.
        case = await session.get(Case, ids[0])
        assert case is not None
        case.status, case.removed_at = "reappeared", None
        case = await session.get(Case, ids[1])
        assert case is not None
        case.acknowledged_at = start + timedelta(minutes=40)
        case = await session.get(Case, ids[2])
        assert case is not None
        case.hold_started_at, case.hold_seconds = None, 3600.0
        case.status, case.updated_at = "closed", start + timedelta(hours=5)
    rows = await stored_rows(engine)
    assert rows[ids[0]] == (None, None, None)
    assert rows[ids[1]] == (None, None, 30)
    assert rows[ids[2]] == (240, None, None)
    # Plain SQL, and a stale value written on purpose, are corrected the same way.
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(update(Case).where(Case.id == ids[0]).values(
            status="removed", removed_at=start + timedelta(hours=3)))
        await session.execute(update(Case).where(Case.id == ids[1]).values(
            stats_ack_minutes=999999))
    rows = await stored_rows(engine)
    assert rows[ids[0]] == (180, 170, 170)
    assert rows[ids[1]] == (None, None, 30)


async def test_the_stored_minutes_are_case_times_in_started_minutes(
        engine: AsyncEngine) -> None:
    cases = jittered(5)
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, cases)
    stored = await stored_rows(engine)
    checked = 0
    for case in cases:
        removal, notice = case_times(case, NOW)
        minutes = stored[case.id]
        if case.hold_started_at is None and (case.removed_at is not None
                                             or case.status == "closed"):
            seconds = ((case.removed_at or case.updated_at) - case.confirmed_at
                       ).total_seconds() - case.hold_seconds
            assert minutes[0] == expected_minutes(seconds), case.id
            assert max(minutes[0], 0) * 60 >= removal[0] - 1e-6
            checked += 1
            if notice is not None:
                assert minutes[1] is not None
        else:
            assert minutes[0] is None and minutes[1] is None
    assert checked > 30


async def test_the_migration_fills_them_in(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine, "0015")
        confirmed = NOW - timedelta(days=2)
        base = {"host": "a.example.net", "confirmed_at": confirmed,
                "created_at": confirmed, "updated_at": confirmed, "hold_seconds": 0.0,
                "resolve_attempts": 0, "check_count": 0, "gone_streak": 0,
                "reappeared_count": 0, "route_kind": "direct"}
        async with engine.begin() as conn:
            for i, values in enumerate([
                {"status": "removed", "removed_at": confirmed + timedelta(minutes=30)},
                {"status": "monitoring"},
                {"status": "closed", "updated_at": confirmed + timedelta(hours=1)},
            ]):
                url = f"http://a.example.net/{i}"
                row = {**base, "url": url, "canonical_url": url, **values}
                # The cases table at 0015 (check_count and gone_streak moved out in 0017).
                cases = Case.__table__.c
                old_cases = table("cases", *(column(k, cases[k].type if k in cases else None)
                                             for k in row))
                await conn.execute(insert(old_cases).values(row))
        await upgrade(engine)
        rows = await stored_rows(engine)
        assert sorted(v[0] for v in rows.values() if v[0] is not None) == [30, 60]
        assert sum(1 for v in rows.values() if v[0] is None) == 1
    finally:
        await engine.dispose()
