"""Time arithmetic in SQL, the same on SQLite and PostgreSQL.

The one place where the dialects differ: SQLite stores a UTC datetime as text and
reads it with ``julianday`` (days, millisecond resolution), PostgreSQL has
``timestamptz`` and ``extract(epoch ...)``. Each construct here compiles to the
right expression for the connection it runs on, so the statistics are written
once, as SQLAlchemy Core expressions:

* :class:`epoch_seconds` - seconds since 1970-01-01 UTC, a float;
* :class:`week_start` - the Monday (UTC) of the ISO week, as ``YYYY-MM-DD`` text;
* :class:`month_of` - the month (UTC), as ``YYYY-MM`` text;
* :func:`started_minutes` - a duration in seconds as whole minutes, rounded UP
  (a removal 20 s after confirmation counts as "within 1 minute"; 0 stays 0),
  after rounding the seconds to the millisecond so that the float error of
  ``julianday`` (about 40 microseconds) never pushes 120 s into a third minute.
  A negative duration gives 0 or a negative number (integer division truncates
  towards zero on both backends): the caller clamps it to 0 after grouping, which
  keeps one CASE per row out of the scan.
* :func:`grid_bin` - the bin of a duration in minutes on a grid of 16 bins per
  doubling: floor(16 log2(m + 1)). Every minute below 22 has a bin of its own;
  beyond, a bin spans at most 1/16 of a doubling (4.4%). A GROUP BY on the bin
  keeps the rows per group in the hundreds however many cases there are.
  :func:`bin_minutes` gives the longest whole minute of a bin, which stands for it.
* :func:`prepared` - around the statistics queries: planner settings on
  PostgreSQL, a Python ``ln`` on an SQLite built without math functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Float, Integer, String, cast, func, literal, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from nttd.db import READ_ONLY

_UNIX_EPOCH_JULIAN_DAY = 2440587.5


class epoch_seconds(FunctionElement[float]):
    type = Float()
    name = "epoch_seconds"
    inherit_cache = True


class week_start(FunctionElement[str]):
    type = String()
    name = "week_start"
    inherit_cache = True


class month_of(FunctionElement[str]):
    type = String()
    name = "month_of"
    inherit_cache = True


def _arg(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    (argument,) = element.clauses
    return str(compiler.process(argument, **kw))


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"((julianday({_arg(element, compiler, **kw)}) - {_UNIX_EPOCH_JULIAN_DAY}) * 86400.0)"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # date_part gives double precision; EXTRACT gives numeric (PostgreSQL 14+), 10x slower.
    return f"date_part('epoch', {_arg(element, compiler, **kw)})"


@compiles(week_start, "sqlite")
def _week_sqlite(element: week_start, compiler: SQLCompiler, **kw: Any) -> str:
    # 'weekday 0' moves forward to the Sunday ending the week (or stays on it).
    return f"date({_arg(element, compiler, **kw)}, 'weekday 0', '-6 days')"


@compiles(week_start, "postgresql")
def _week_postgresql(element: week_start, compiler: SQLCompiler, **kw: Any) -> str:
    value = _arg(element, compiler, **kw)
    return f"to_char(date_trunc('week', {value} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"


@compiles(month_of, "sqlite")
def _month_sqlite(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m', {_arg(element, compiler, **kw)})"


@compiles(month_of, "postgresql")
def _month_postgresql(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({_arg(element, compiler, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM')"


class int_list(FunctionElement[Any]):
    """The integers of a column over a group, as one value: comma-separated text, which
    the drivers hand over as one string (an array would be one Python int per element)
    and numpy reads in C (:func:`ints_all`). A breakdown by network then comes as 500 rows,
    not 90,000. ``int_list(value, order)``: in the order of `order` where the database
    can (PostgreSQL), so that the rollup's bins come sorted."""

    name = "int_list"
    inherit_cache = True


@compiles(int_list, "sqlite")
def _int_list_sqlite(element: int_list, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(next(iter(element.clauses)), **kw)
    return f"group_concat({value}, ',')"  # in the order SQLite reads them (3.44 has ORDER BY)


@compiles(int_list, "postgresql")
def _int_list_postgresql(element: int_list, compiler: SQLCompiler, **kw: Any) -> str:
    value, *order = (compiler.process(c, **kw) for c in element.clauses)
    ordered = f" ORDER BY {order[0]}" if order else ""
    return f"array_to_string(array_agg({value}{ordered}), ',')"


def ints_all(values: Sequence[str]) -> tuple[list[Any], Any]:
    """:class:`int_list` values as numpy arrays of int64 (views of one array, read in one
    call: a breakdown's statement brings thousands) and each one's sum."""
    sizes = np.fromiter((value.count(",") + 1 if value else 0 for value in values),
                        dtype=np.int64, count=len(values))
    joined = ",".join(value for value in values if value)
    bad = "an int_list value is not a comma-separated list of integers"
    try:
        flat = (np.fromstring(joined, dtype=np.int64, sep=",") if joined
                else np.zeros(0, dtype=np.int64))
    except ValueError as exc:
        raise ValueError(bad) from exc
    if flat.size != int(sizes.sum()):
        raise ValueError(bad)
    ends = np.cumsum(sizes)
    starts = ends - sizes
    running = np.concatenate(([0], np.cumsum(flat)))
    return ([flat[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)],
            running[ends] - running[starts])


class unindexed(FunctionElement[Any]):
    """A column that SQLite must not read through an index (``+column``: the same value,
    but no index serves it): over the statistics' narrow table SQLite would otherwise walk
    the country index to save a sort, reading the table in index order, twice as slow as
    scanning it. PostgreSQL gets the plain column (its planner chooses well, and needs the
    column's figures)."""

    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{_arg(element, compiler, **kw)}"


@compiles(unindexed, "postgresql")
def _unindexed_postgresql(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return _arg(element, compiler, **kw)


class greatest(FunctionElement[Any]):
    name = "greatest"
    inherit_cache = True


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "postgresql")
def _greatest_postgresql(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


class whole(FunctionElement[int]):
    """floor() of a non-negative float as an integer: PostgreSQL's CAST rounds to the
    nearest, SQLite's truncates (the same as floor at or above 0)."""

    type = Integer()
    name = "whole"
    inherit_cache = True


@compiles(whole, "sqlite")
def _whole_sqlite(element: whole, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({_arg(element, compiler, **kw)} AS INTEGER)"


@compiles(whole, "postgresql")
def _whole_postgresql(element: whole, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(floor({_arg(element, compiler, **kw)}) AS INTEGER)"


BINS_PER_DOUBLING = 16
_EPSILON = 1e-9  # 16 log2(2) must not come out as 15.999999999999998


def grid_bin(minutes: ColumnElement[int]) -> ColumnElement[int]:
    """The grid bin of a number of minutes (negative: bin 0, with 0 minutes)."""
    # Floats throughout: a numeric ln on PostgreSQL costs seconds per million rows.
    log2 = func.ln(cast(greatest(minutes, 0), Float) + literal(1.0, Float)) / literal(
        math.log(2), Float)
    return whole(literal(float(BINS_PER_DOUBLING), Float) * log2 + literal(_EPSILON, Float))


def grid_bin_of(minutes: int) -> int:
    """What :func:`grid_bin` gives, computed in Python."""
    return int(BINS_PER_DOUBLING * math.log(max(minutes, 0) + 1.0) / math.log(2) + _EPSILON)


@cache
def bin_minutes(bin_: int) -> int:
    """The longest whole number of minutes in a bin: the time that stands for the bin
    (the bin of a duration under 22 minutes holds that duration only)."""
    guess = int(2.0 ** ((bin_ + 1) / BINS_PER_DOUBLING) - 1.0) + 1
    while grid_bin_of(guess) > bin_:
        guess -= 1
    if guess < 0 or grid_bin_of(guess) != bin_:
        raise ValueError(f"no whole minute falls in bin {bin_}")
    return guess


# For the statistics' aggregations only: the planner cannot know how few groups a
# GROUP BY on computed durations makes (it guesses one per row), so it sorts a
# million rows instead of hashing them, spills to disk, and JIT-compiles for 200 ms.
_PG_SETTINGS = {"work_mem": "'64MB'", "jit": "off", "enable_sort": "off",
                "parallel_setup_cost": "0", "parallel_tuple_cost": "0"}


@contextlib.asynccontextmanager
async def prepared(session: AsyncSession) -> AsyncIterator[None]:
    """Around the statistics queries of a transaction: on PostgreSQL the planner
    settings above (back to the defaults afterwards), on SQLite a Python ``ln`` where
    the library was built without its math functions."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        await _sqlite_ln(connection)
        yield
        return
    for name, value in _PG_SETTINGS.items():
        await connection.execute(text(f"SET LOCAL {name} = {value}"))
    yield  # after a failure the transaction is rolled back, and SET LOCAL with it
    for name in _PG_SETTINGS:
        await connection.execute(text(f"SET LOCAL {name} TO DEFAULT"))


async def _sqlite_ln(connection: AsyncConnection) -> None:
    try:
        await connection.execute(text("SELECT ln(2.0)"))
    except OperationalError:  # SQLite built without SQLITE_ENABLE_MATH_FUNCTIONS
        raw = await connection.get_raw_connection()
        await raw.driver_connection.create_function(  # type: ignore[union-attr]
            "ln", 1, _ln, deterministic=True)


async def fetch_all(session: AsyncSession, statements: Sequence[Any],
                    params: Mapping[str, Any] | None = None) -> list[list[Any]]:
    """The rows of each statement (with the bound `params`), inside :func:`prepared`.
    When the session only reads (nttd.db.READ_ONLY: the API's and the web UI's
    sessions), the statements after the first run at the same time on connections of
    their own: each is one scan that one process (a PostgreSQL backend, an SQLite
    connection's thread) aggregates, so side by side they use the cores. Otherwise one
    after the other in the session's transaction, which may hold writes of its own that
    other connections would not see (and on SQLite holds the write lock)."""
    connection = await session.connection()
    bind = session.bind
    postgresql = connection.dialect.name == "postgresql"
    database = connection.engine.url.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in str(connection.engine.url)
    apart = (len(statements) > 1 and isinstance(bind, AsyncEngine)
             and bool(bind.get_execution_options().get(READ_ONLY, False))
             and (postgresql or not in_memory))  # each connection has its own memory DB
    async with prepared(session):
        if not apart:
            return [await rows_of(connection, s, params) for s in statements]
        assert isinstance(bind, AsyncEngine)

        async def here(statement: Any) -> list[Any]:
            return await rows_of(connection, statement, params)

        async def own(statement: Any) -> list[Any]:
            async with bind.connect() as other:  # rolled back (SET LOCAL too) on leaving
                if postgresql:
                    for name, value in _PG_SETTINGS.items():
                        await other.execute(text(f"SET LOCAL {name} = {value}"))
                else:
                    await _sqlite_ln(other)
                return await rows_of(other, statement, params)

        return list(await asyncio.gather(here(statements[0]),
                                         *(own(s) for s in statements[1:])))


# An execution option of a statement that reads few rows (the statistics' rollup): on
# PostgreSQL without parallel workers, which would only crowd the statements that run
# beside it (fetch_all) off the cores.
SERIAL = "nttd_serial"
_COMPILED: dict[Any, Any] = {}
_COMPILED_MAX = 256


async def rows_of(connection: AsyncConnection, statement: Any,
                  params: Mapping[str, Any] | None = None) -> list[Any]:
    """The rows of `statement` (with the bound `params`) as tuples. On PostgreSQL
    straight from asyncpg (records, made in C), in the transaction the connection is
    in: the statistics' statements return up to hundreds of thousands of rows of plain
    numbers and text, and making a SQLAlchemy Row of each costs more than the rest of
    their counting."""
    if connection.dialect.name != "postgresql":
        return list((await connection.execute(statement, dict(params or {}))).all())
    # Compiled once per statement: the statistics' statements are made once per
    # question (nttd.stats.query.step_lists) and are large (compiling one, or even
    # working out its cache key, takes longer than PostgreSQL answering it). The entry
    # holds the statement, so its id is not another's while it is there.
    found = _COMPILED.get(id(statement))
    if found is None or found[0] is not statement:
        found = (statement, statement.compile(dialect=connection.dialect))
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[id(statement)] = found
    compiled = found[1]
    values = compiled.construct_params(params=dict(params or {}))
    process = compiled._bind_processors  # what SQLAlchemy itself applies to each value
    args = [process[name](values[name]) if name in process else values[name]
            for name in compiled.positiontup or ()]
    await connection.execute(text("SELECT 1"))  # the transaction begun (SET LOCAL too)
    raw = await connection.get_raw_connection()
    fetch = raw.driver_connection.fetch  # type: ignore[union-attr]
    if not statement.get_execution_options().get(SERIAL, False):
        return list(await fetch(compiled.string, *args))
    await connection.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    try:
        return list(await fetch(compiled.string, *args))
    finally:
        await connection.execute(text("SET LOCAL max_parallel_workers_per_gather TO DEFAULT"))


def _ln(value: float | None) -> float | None:
    return None if value is None or value <= 0 else math.log(value)


def started_minutes(seconds: ColumnElement[float]) -> ColumnElement[int]:
    """Whole minutes, rounded up, of a duration in seconds (negative: <= 0)."""
    millis = cast(func.round(seconds * literal(1000.0, Float)), BigInteger)
    return (millis + 59999) // 60000
