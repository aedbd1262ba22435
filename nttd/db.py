"""Database engine, the UTC datetime column type and the claim-with-lease helper.

SQLite (the embedded default, through aiosqlite) runs in WAL mode with foreign
keys on; PostgreSQL runs through asyncpg. Datetimes are stored as UTC and always
come back aware, on both (SQLite has no time zones: `UTCDateTime` restores it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, event, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


# Execution option: this connection only reads (SQLite begins it DEFERRED, so it
# neither takes nor waits for the write lock). Writing through it may fail with
# "database is locked".
READ_ONLY = "nttd_read_only"


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # The driver must not open transactions itself: _begin_immediate does.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(connection: Any) -> None:
            # A deferred transaction that reads, then writes, cannot wait for a
            # writer that committed in between: SQLite answers "database is
            # locked" at once, whatever busy_timeout says. Taking the write lock
            # at BEGIN makes such transactions queue on busy_timeout instead.
            # A connection marked READ_ONLY only reads: it need not queue.
            read_only = connection.get_execution_options().get(READ_ONLY, False)
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)


async def ping(engine: AsyncEngine) -> None:
    """A cheap round trip to the database (`SELECT 1`, read-only: on SQLite it does
    not queue for the write lock); raises when the database cannot answer."""
    async with engine.execution_options(**{READ_ONLY: True}).connect() as connection:
        await connection.execute(text("SELECT 1"))


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def claim(
    session: AsyncSession,
    model: Any,
    *,
    where: Sequence[ColumnElement[bool]],
    order_by: Any,
    limit: int,
    owner: str,
    now: datetime,
    lease_until: datetime,
) -> list[int]:
    """Claim up to `limit` due rows of `model` for `owner` until `lease_until`.

    Rows whose lease is free or expired are eligible. One statement:

        WITH picked AS MATERIALIZED (SELECT id ... ORDER BY ... LIMIT n
                                     FOR UPDATE SKIP LOCKED)
        UPDATE t SET lease_owner=..., lease_until=... FROM picked
        WHERE t.id = picked.id RETURNING t.id

    The CTE is evaluated once (MATERIALIZED: never inlined into a join that could
    rescan it), so at most `limit` rows are leased, and SKIP LOCKED keeps
    concurrent workers on disjoint rows; `UPDATE ... WHERE id IN (SELECT ...
    LIMIT n FOR UPDATE SKIP LOCKED)` could lease every row. SQLite gets the same
    statement without the locking clause (it has none, and serialises writers),
    so run one worker on it. The caller commits.
    """
    rows = await claim_rows(session, model, where=where, order_by=order_by, limit=limit,
                            owner=owner, now=now, lease_until=lease_until, columns=[model.id])
    return [row[0] for row in rows]


async def claim_rows(
    session: AsyncSession,
    model: Any,
    *,
    where: Sequence[ColumnElement[bool]],
    order_by: Any,
    limit: int,
    owner: str,
    now: datetime,
    lease_until: datetime,
    columns: Sequence[Any],
) -> list[Any]:  # Row objects
    """`claim`, returning `columns` of the claimed rows (RETURNING: no second query)."""
    free = (model.lease_until.is_(None)) | (model.lease_until < now)
    pick = select(model.id).where(*where, free).order_by(order_by).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        picked = pick.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
    else:
        picked = pick.cte("picked")
    statement = (
        update(model)
        .where(model.id == picked.c.id)
        .values(lease_owner=owner, lease_until=lease_until)
        .returning(*columns)
        .execution_options(synchronize_session=False)
    )
    return list((await session.execute(statement)).all())
