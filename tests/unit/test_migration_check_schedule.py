"""Migration 0017: the check schedule moves from cases to check_schedule and back,
values intact, and the statistics' triggers on cases (0016) survive it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from nttd.db import make_engine
from nttd.migrate import _config, current_revision, upgrade

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MOVED = ("next_check_at", "check_count", "gone_streak", "gone_streak_started_at",
         "last_gone_at", "first_online_at")


def _at(value: object) -> object:
    """A datetime as read back by a bare SELECT: SQLite hands back naive text."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _row(values: sa.Row[tuple[object, ...]]) -> tuple[object, ...]:
    return tuple(_at(v) for v in values)


async def _cases(engine: AsyncEngine, when: str = "") -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            f"SELECT id, {', '.join(MOVED)} FROM {when or 'cases'} ORDER BY 1"))).all()
    return [_row(r) for r in rows]


async def test_0017_moves_the_schedule_and_back(database_url: str) -> None:
    engine = make_engine(database_url)
    sqlite = engine.dialect.name == "sqlite"
    ts = (lambda d: d.replace(tzinfo=None)) if sqlite else (lambda d: d)
    try:
        await upgrade(engine, "0016")
        base = {"host": "a.example.net", "confirmed_at": ts(NOW), "created_at": ts(NOW),
                "updated_at": ts(NOW), "hold_seconds": 0.0, "resolve_attempts": 0,
                "reappeared_count": 0}
        monitored = {"id": 1, "url": "http://a.example.net/1",
                     "canonical_url": "http://a.example.net/1", "status": "monitoring",
                     "next_check_at": ts(NOW + timedelta(hours=1)), "check_count": 3,
                     "gone_streak": 1, "gone_streak_started_at": ts(NOW),
                     "last_gone_at": ts(NOW), "first_online_at": ts(NOW - timedelta(days=1))}
        received = {"id": 2, "url": "http://a.example.net/2",
                    "canonical_url": "http://a.example.net/2", "status": "received",
                    "next_check_at": None, "check_count": 0, "gone_streak": 0,
                    "gone_streak_started_at": None, "last_gone_at": None,
                    "first_online_at": None}
        async with engine.begin() as conn:
            for case in (monitored, received):
                columns = {**base, **case}
                await conn.execute(sa.text(
                    f"INSERT INTO cases ({', '.join(columns)}) "
                    f"VALUES ({', '.join(':' + c for c in columns)})"), columns)
        before = await _cases(engine)

        await upgrade(engine, "0017")
        # Only the case that was ever scheduled has a row, with its values.
        assert await _cases(engine, "(SELECT case_id AS id, * FROM check_schedule) s") == (
            [before[0]])
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in sa.inspect(c).get_columns("cases")})
            indexes = await conn.run_sync(
                lambda c: {i["name"] for i in sa.inspect(c).get_indexes("check_schedule")})
        assert not set(MOVED) & columns
        assert indexes == {"ix_check_schedule_next_check_at"}
        # The statistics' trigger still keeps the stored duration (SQLite would have
        # lost it to a rebuild of the table).
        async with engine.begin() as conn:
            await conn.execute(sa.text(
                "UPDATE cases SET status = 'removed', removed_at = :at WHERE id = 1"),
                {"at": ts(NOW + timedelta(minutes=90))})
            minutes = (await conn.execute(sa.text(
                "SELECT stats_removal_minutes FROM cases WHERE id = 1"))).scalar_one()
        assert minutes == 90

        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(_config(c), "0016"))
        assert await current_revision(engine) == "0016"
        assert await _cases(engine) == before
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert "check_schedule" not in tables
    finally:
        await engine.dispose()
