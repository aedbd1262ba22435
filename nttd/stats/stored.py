"""Stored durations: a stopped clock's duration, kept in the case row by the database.

Once a clock of a case has stopped (removed, closed, acknowledged) its duration no
longer depends on "now", so the database keeps it, in started minutes, in
``cases.stats_removal_minutes``, ``stats_notice_minutes`` and ``stats_ack_minutes``:
a trigger (migration 0016) recomputes them on every insert and on every update of a
clock column, whatever code or SQL wrote it, and leaves NULL while the clock still
runs. No application code sets them. The statistics (nttd.stats.query) read the
stored value where there is one and count a NULL at "now" with the same arithmetic;
a database without the triggers (``create_all``) just counts everything at "now".

The arithmetic is nttd.stats.sqltime's, the expression :func:`final_minutes` builds
the one the query uses for a stopped clock, so the answer does not change
(tests/stats/test_stored_durations.py compares both paths on both backends).

Which clock stops when (DESIGN.md, nttd.cases.case_times):

* removal and notice: removed (at ``removed_at``) or closed (at ``updated_at``, the
  closure), and not on hold now (a running hold counts up to "now");
* acknowledgement: acknowledged, or else removed or closed (censored there).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, and_, case, func, literal, literal_column, or_
from sqlalchemy.sql.elements import ColumnElement

from nttd.stats.sqltime import epoch_seconds, started_minutes

COLUMNS = {"removal": "stats_removal_minutes", "notice": "stats_notice_minutes",
           "acknowledgement": "stats_ack_minutes"}
# A write of any of these recomputes the stored durations.
INPUTS = ("status", "confirmed_at", "updated_at", "first_notice_at", "removed_at",
          "hold_started_at", "hold_seconds", "acknowledged_at", *COLUMNS.values())


def final_minutes(clock: str, row: str = "") -> ColumnElement[int]:
    """The stored duration of `clock` (a key of COLUMNS) over the columns of `row`
    (``"NEW."`` in a PostgreSQL trigger, ``""`` for the row being updated)."""

    def col(name: str) -> ColumnElement[Any]:
        return literal_column(f"{row}{name}")

    removed = col("removed_at").is_not(None)
    closed = col("status") == literal_column("'closed'")
    # As nttd.stats.query._Clock for a stopped clock: the held time is hold_seconds
    # (+ 0.0 for the running hold there is not: the same float).
    end = case((removed, epoch_seconds(col("removed_at"))),
               else_=epoch_seconds(col("updated_at")))
    held = func.coalesce(col("hold_seconds"), literal(0.0, Float)) + literal(0.0, Float)
    stopped = and_(col("hold_started_at").is_(None), or_(removed, closed))
    if clock == "removal":
        return case((stopped, started_minutes(end - epoch_seconds(col("confirmed_at")) - held)))
    if clock == "notice":
        return case((stopped, started_minutes(
            end - epoch_seconds(col("first_notice_at")) - held)))
    if clock == "acknowledgement":
        acknowledged = col("acknowledged_at").is_not(None)
        stop = case((acknowledged, epoch_seconds(col("acknowledged_at"))), else_=end)
        return case((or_(acknowledged, removed, closed),
                     started_minutes(stop - epoch_seconds(col("first_notice_at")))))
    raise ValueError(f"clock must be one of {', '.join(COLUMNS)}")
