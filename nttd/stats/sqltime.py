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
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Float, String, cast, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

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
    return f"CAST(EXTRACT(EPOCH FROM {_arg(element, compiler, **kw)}) AS DOUBLE PRECISION)"


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


def started_minutes(seconds: ColumnElement[float]) -> ColumnElement[int]:
    """Whole minutes, rounded up, of a duration in seconds (negative: <= 0)."""
    millis = cast(func.round(seconds * 1000.0), BigInteger)
    return (millis + 59999) // 60000
