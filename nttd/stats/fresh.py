"""The statistics' narrow table: each case's grid bins, and for which "now"s they hold.

A statistics query over a million cases spends its time reading wide `cases` rows
and working out, row by row, a running clock's duration at "now". So the database
keeps a narrow copy of each case in ``case_stats`` (migration 0018: triggers mark the
row stale on every write of a column the statistics read, and give a new case a stale
row), and the worker's refresh step (:func:`refresh_stats`) copies the case's columns
and writes each clock's grid bin (nttd.stats.sqltime.grid_bin) there, with the interval
``[fresh_from, fresh_until)`` of the "now"s (epoch seconds) at which those bins are what
the query would count:

* a stopped clock's bin is that of its stored duration (nttd.stats.stored) for ever;
* a running clock's bin at "now" is that of its started minutes since its start S
  (confirmation or first notice, plus the time on hold before): it holds while
  ``now - S`` stays in the bin's minutes, which is longer the older the case (a bin
  spans 1/16 of a doubling: a case open for ten days keeps its bin for ten hours).
  The interval keeps 10 ms clear of the bin's edges, so that no float rounding
  (milliseconds, SQLite's julianday) can put "now" in another bin;
* a case on hold has a removal clock that does not run while the hold lasts: it is
  not binned (``fresh_from`` NULL) until the hold ends and the trigger marks it stale.

A row's interval is the intersection over its clocks. A row binned for an interval is
"rolled": the same transaction adds it to the rollup (nttd.stats.rollup), after taking
out what the row held before; after a round that changed the rollup the refresh makes
its lists again. The queries (nttd.stats.query) count the rollup's groups, less the
rolled rows not fresh at "now" (or, filtered, the bins of the rows fresh at "now"),
and every other case from ``cases`` at "now", in one statement (one snapshot): the
same answer as counting everything at "now" (tests/stats/test_case_stats.py),
whatever state the refresh is in.

A refresh writes a row only if its ``version`` is still the one it read: a case
written in between (the trigger bumps the version) stays stale for the next round,
and the rollup keeps what the row held. The copy of a deleted case stays, stale, until
the refresh takes it out of the rollup and deletes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from nttd.models import Case, CaseStats
from nttd.stats import rollup
from nttd.stats.sqltime import bin_minutes, grid_bin_of, month_of, unindexed, week_start

MARGIN = 0.01          # seconds kept clear of a bin's edges
ALWAYS = (-1e15, 1e15)  # the interval of a row whose clocks have all stopped
RETRY = timedelta(minutes=1)  # a clock in its first minute (or at a bin's edge): wait
BATCH = 5000
MAX_BATCHES = 20       # per call: a worker round stays short; the next round goes on
REFRESH_EVERY = timedelta(seconds=20)
ANALYZE_AFTER = 50_000  # rows written by one refresh
_LOCK = 0x6E747464_5374  # the refresh's advisory lock key on PostgreSQL


def fresh_at(at: ColumnElement[float] | float) -> ColumnElement[bool]:
    """The rows of ``case_stats`` whose bins hold at `at` ("now" in seconds since the
    epoch: nttd.stats.query.NOW): nearly all of them once the refresh has run (which
    then has the planner's figures renewed: ANALYZE_AFTER)."""
    return (unindexed(CaseStats.fresh_from) <= at) & (unindexed(CaseStats.fresh_until) > at)


def not_fresh_at(at: ColumnElement[float] | float) -> ColumnElement[bool]:
    """The rows of ``case_stats`` whose bins do not hold at `at` (counted from cases):
    stale, held, waiting to be binned (``fresh_from`` NULL), or outside their interval."""
    return or_(CaseStats.fresh_from.is_(None), CaseStats.fresh_until <= at,
               CaseStats.fresh_from > at)


@cache
def bin_span(bin_: int) -> tuple[int, int]:
    """The first and the last whole minute of a bin (that holds at least one)."""
    last = bin_minutes(bin_)
    first = max(0, int(2.0 ** (bin_ / 16.0) - 1.0) - 1)
    while grid_bin_of(first) < bin_:
        first += 1
    while first > 0 and grid_bin_of(first - 1) == bin_:
        first -= 1
    return first, last


def _running(start: float, at: float) -> tuple[int, float, float] | None:
    """(bin, valid from, valid until) of a clock started at `start` (epoch seconds),
    counted at `at`; None within its first minute (its bins are a minute wide there:
    counted at "now" instead)."""
    millis = round((at - start) * 1000.0)
    minutes = (millis + 59999) // 60000
    if minutes < 1:
        return None
    bin_ = grid_bin_of(minutes)
    first, last = bin_span(bin_)
    return bin_, start + (first - 1) * 60.0 + MARGIN, start + last * 60.0 - MARGIN


def bins_of(row: Any, at: float) -> dict[str, Any]:
    """The bins of one case (a row of the columns in :func:`_due`) at `at`, and the
    interval over which they hold: None for the interval if they cannot be kept."""
    low, high = ALWAYS
    held = row.hold_started_at is not None
    hold = float(row.hold_seconds or 0.0)
    noticed = row.first_notice_at is not None
    result: dict[str, Any] = {"removal_bin": None, "notice_bin": None, "ack_bin": None}
    keep = True
    clocks = [("removal_bin", row.stats_removal_minutes, row.confirmed_at, hold, True)]
    if noticed:
        clocks += [("notice_bin", row.stats_notice_minutes, row.first_notice_at, hold, True),
                   ("ack_bin", row.stats_ack_minutes, row.first_notice_at, 0.0, False)]
    for name, stored, started, before, stops_on_hold in clocks:
        if stored is not None:
            result[name] = grid_bin_of(stored)
            continue
        if held and stops_on_hold:  # the clock stands still while held: not binned
            keep = False
            continue
        running = _running(started.timestamp() + before, at)
        if running is None:
            low = high = at  # an empty interval: due again at the next refresh
            continue
        result[name], start, end = running
        low, high = max(low, start), min(high, end)
    if not keep:
        result["fresh_from"] = result["fresh_until"] = None
    elif low <= at < high:
        result["fresh_from"], result["fresh_until"] = low, high
    else:  # an edge, or a clock in its first minute: not binned, tried again a bit later
        result["fresh_from"], result["fresh_until"] = None, at + RETRY.total_seconds()
    return result


_COPIED = ("confirmed_at", "country", "asn", "as_name", "registrar", "cdn", "tld",
           "content_type", "classification", "route_kind", "route_hotline_id", "chase_step")


def _due(now: datetime, after: int, limit: int) -> Any:
    """Rows to bin: stale ones, and those whose interval (or wait) is over at `now`, with
    their case's columns (None for a case deleted since: ``present``)."""
    at = now.timestamp()
    return (select(CaseStats.case_id, CaseStats.version, Case.id.label("present"),
                   Case.first_notice_at, Case.hold_started_at, Case.hold_seconds,
                   Case.stats_removal_minutes, Case.stats_notice_minutes,
                   Case.stats_ack_minutes, Case.removed_at, Case.acknowledged_at,
                   Case.reappeared_count, *(getattr(Case, name) for name in _COPIED),
                   week_start(Case.confirmed_at).label("week"),
                   month_of(Case.confirmed_at).label("month"))
            .outerjoin(Case, Case.id == CaseStats.case_id)
            .where(or_(CaseStats.stale, CaseStats.fresh_until <= at),
                   CaseStats.case_id > after)
            .order_by(CaseStats.case_id).limit(limit))


def copied(row: Any) -> dict[str, Any]:
    """The narrow copy's columns of a case (a row of :func:`_due`)."""
    return {**{name: getattr(row, name) for name in (*_COPIED, "week", "month")},
            "removed": row.removed_at is not None,
            "acknowledged": row.acknowledged_at is not None,
            "noticed": row.first_notice_at is not None,
            "reappeared_count": row.reappeared_count or 0}


_TABLE = cast(Table, CaseStats.__table__)
_SET = ("removal_bin", "notice_bin", "ack_bin", "fresh_from", "fresh_until", "rolled",
        *_COPIED, "week", "month", "removed", "acknowledged", "noticed", "reappeared_count")
_MINE = (_TABLE.c.case_id == bindparam("b_case_id")) & (_TABLE.c.version == bindparam("b_version"))
_WRITE = (update(_TABLE).where(_MINE)
          .values(stale=False, **{name: bindparam(name, type_=_TABLE.c[name].type)
                                  for name in _SET}))
_FORGET = delete(_TABLE).where(_MINE)  # the copy of a deleted case


def written(row: Any, at: float) -> dict[str, Any]:
    """The parameters of :data:`_WRITE` for a row of :func:`_due` binned at `at`."""
    bins = bins_of(row, at)
    return {"b_case_id": row.case_id, "b_version": row.version, **bins, **copied(row),
            "rolled": bins["fresh_from"] is not None}


async def _ours(session: AsyncSession, postgresql: bool) -> bool:
    """Whether this transaction may refresh: one process refreshes at a time (the others'
    rounds find the lock taken and leave it); on SQLite the write lock already
    serialises them."""
    return not postgresql or bool((await session.execute(
        select(func.pg_try_advisory_xact_lock(_LOCK)))).scalar_one())


async def refresh_stats(session: AsyncSession, *, now: datetime, batch: int = BATCH,
                        max_batches: int = MAX_BATCHES) -> int:
    """Bin the stale rows of ``case_stats`` and those whose interval is over at `now`, up
    to `max_batches` batches of `batch` rows, each in a transaction of its own (the
    session must not be in one). Returns the rows written: at the same `now` a second
    call finds nothing (an interval found at `now` holds at `now`), so a worker round
    with an injected clock settles. Between two refreshes a row whose interval ended is
    counted at "now" from the cases, as a stale one is."""
    at = now.timestamp()
    total = after = 0
    postgresql = session.bind is not None and session.bind.dialect.name == "postgresql"
    for _ in range(max_batches):
        async with session.begin():
            if not await _ours(session, postgresql):
                break
            rows = (await session.execute(_due(now, after, batch))).all()
            if not rows:
                break
            ids = [row.case_id for row in rows]
            connection = await session.connection()  # Core executemany, no unit of work
            # The rows' old bins out of the rollup, the rows written, the new ones in:
            # a row written in between (its version changed) is put back as it was.
            await rollup.add(connection, ids, -1)
            present = [written(row, at) for row in rows if row.present is not None]
            gone = [{"b_case_id": row.case_id, "b_version": row.version}
                    for row in rows if row.present is None]
            if present:
                await connection.execute(_WRITE, present)
            if gone:
                await connection.execute(_FORGET, gone)
            await rollup.add(connection, ids, 1)
            total += len(rows)
            after = rows[-1].case_id
        if len(rows) < batch:
            break
    async with session.begin():  # the lists of the groups, if the rollup changed
        if await _ours(session, postgresql):
            await rollup.remake_lists(await session.connection())
    if total >= ANALYZE_AFTER and postgresql:
        # The refresh moved many intervals: the planner's figures for them are old, and
        # it would think the cases counted at "now" are many (autovacuum comes later).
        async with session.begin():
            await session.execute(text("ANALYZE case_stats, stats_rollup"))
    return total
