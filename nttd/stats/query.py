"""What a statistics request asks for, and the SQL that aggregates it.

The database does the heavy part: one row per (group, duration bin), with its
removed (events) and censored cases counted apart; never one row per case
(nttd.stats.sqltime has the grid). A stopped clock's minutes are read from the case
row (nttd.stats.stored); only running clocks are counted at "now". The estimates are
then made in Python over those steps (nttd.stats.survival).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Select,
    SQLColumnExpression,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from nttd.cases import CaseStatus, IntakeError, parse_instant
from nttd.models import Case, CaseStats, Hotline
from nttd.stats import rollup
from nttd.stats.fresh import fresh_at, not_fresh_at
from nttd.stats.groups import DIRECT, GROUPS, text_key
from nttd.stats.sqltime import (
    SERIAL,
    epoch_seconds,
    grid_bin,
    int_list,
    month_of,
    started_minutes,
    unindexed,
    week_start,
)

ROUTES = ("partner", "direct")
# "Now", in seconds since the epoch: a parameter of the statistics' statements, given
# when they run (:func:`at`), so that a statement is made once per question.
NOW = bindparam("stats_now", type_=Float)
FILTERS = ("country", "partner", "route", "classification")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_MAX_FILTER = 200


class StatsError(ValueError):
    """Bad statistics query; the message says what is allowed."""


@dataclass(frozen=True)
class StatsQuery:
    """Which cases (confirmed in [since, until), matching every filter given), by what."""

    group_by: str = "country"
    since: datetime | None = None
    until: datetime | None = None
    country: str | None = None
    partner: str | None = None
    route: str | None = None
    classification: str | None = None

    def __post_init__(self) -> None:
        if self.group_by not in GROUPS:
            raise StatsError(f"group_by must be one of {', '.join(GROUPS)}")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise StatsError("'since' must be before 'until'")
        if self.country is not None and _COUNTRY.fullmatch(self.country) is None:
            raise StatsError("'country' must be a two-letter ISO 3166 code, e.g. NL")
        if self.route is not None and self.route not in ROUTES:
            raise StatsError(f"'route' must be one of {', '.join(ROUTES)}")
        for name in ("partner", "classification"):
            value = getattr(self, name)
            if value is not None and (not value.strip() or len(value) > _MAX_FILTER
                                      or not value.isprintable()):
                raise StatsError(f"'{name}' must be printable text of 1 to {_MAX_FILTER} "
                                 "characters")
        if self.country is not None:
            object.__setattr__(self, "country", self.country.upper())

    @classmethod
    def from_params(cls, params: Mapping[str, str | None]) -> StatsQuery:
        """From query parameters or command-line options (empty or None: not given)."""
        given = {k: v for k, v in params.items() if v is not None and v != ""}
        try:
            since = parse_instant(given["since"], "since") if "since" in given else None
            until = parse_instant(given["until"], "until") if "until" in given else None
        except IntakeError as exc:
            raise StatsError(str(exc)) from None
        return cls(group_by=given.get("group_by", "country"), since=since, until=until,
                   **{name: given.get(name) for name in FILTERS})

    def regrouped(self, group_by: str) -> StatsQuery:
        return replace(self, group_by=group_by)

    def filters(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FILTERS if getattr(self, name) is not None}


@dataclass(frozen=True)
class _Clock:
    """The SQL expressions of a case's clocks at `now` (DESIGN.md, nttd.cases.case_times)."""

    now: ColumnElement[float]
    end: ColumnElement[float]       # removed, closed, or now (censored)
    held: ColumnElement[float]      # seconds on hold, including a hold still running

    @classmethod
    def at_now(cls) -> _Clock:
        now_s = NOW
        end = case(
            (Case.removed_at.is_not(None), epoch_seconds(Case.removed_at)),
            (Case.status == CaseStatus.CLOSED.value, epoch_seconds(Case.updated_at)),
            else_=now_s)
        held = func.coalesce(Case.hold_seconds, 0.0) + case(
            (Case.hold_started_at.is_not(None), now_s - epoch_seconds(Case.hold_started_at)),
            else_=0.0)
        return cls(now_s, end, held)


def _group_key(group_by: str, t: Any = Case
               ) -> tuple[SQLColumnExpression[Any], SQLColumnExpression[Any]]:
    """(key, name) of a group over `t` (Case, or its narrow copy CaseStats: the same
    column names): the name is the network's name for an ASN, else NULL."""
    if group_by == "asn":
        return t.asn, t.as_name
    if group_by == "partner":
        return case((and_(t.route_kind == "partner", Hotline.code.is_not(None)),
                     Hotline.code), else_=literal(DIRECT)), null()
    if t is Case and group_by in ("week", "month"):  # the narrow copy keeps them as text
        return (week_start(Case.confirmed_at) if group_by == "week"
                else month_of(Case.confirmed_at)), null()
    return text_key(group_by, t), null()


def _where(query: StatsQuery, t: Any = Case) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [t.route_kind.is_not(None)]
    if query.since is not None:
        conditions.append(t.confirmed_at >= query.since)
    if query.until is not None:
        conditions.append(t.confirmed_at < query.until)
    if query.country is not None:
        conditions.append(t.country == query.country)
    if query.route is not None:
        conditions.append(t.route_kind == query.route)
    if query.classification is not None:
        conditions.append(t.classification == query.classification)
    if query.partner is not None:
        hotline = select(Hotline.id).where(Hotline.code == query.partner).scalar_subquery()
        conditions.append(and_(t.route_kind == "partner", t.route_hotline_id == hotline))
    return conditions


def _from(query: StatsQuery, columns: list[SQLColumnExpression[Any]], t: Any = Case,
          stale: bool = False) -> Select[Any]:
    """The rows of `t` the query selects; with `stale`, only the cases whose narrow
    copy is not fresh at "now" (nttd.stats.fresh)."""
    base = select(*columns).select_from(t)
    if query.group_by == "partner":
        base = base.outerjoin(Hotline, t.route_hotline_id == Hotline.id)
    base = base.where(*_where(query, t))
    if stale:
        base = base.where(Case.id.in_(select(CaseStats.case_id).where(not_fresh_at(NOW))))
    return base


def _binned(inner: Any, *sums: Any) -> Select[Any]:
    """Group the rows of `inner` (key, name, observed, minutes, ...) by grid bin
    (nttd.stats.sqltime.bin_minutes gives the time that stands for a bin): one row
    per (key, name, bin) with its events and censored cases counted apart."""
    c = inner.c
    keys = [c.key, c.name, grid_bin(c.minutes).label("bin")]
    return select(*keys, func.count().filter(c.observed).label("events"),
                  func.count().filter(not_(c.observed)).label("censored"),
                  *sums).group_by(*keys)


def _minutes(stored: Any, at_now: ColumnElement[int], use_stored: bool) -> Any:
    """A clock's started minutes: the stored duration of a stopped clock
    (nttd.stats.stored), else counted at now with the same arithmetic."""
    return func.coalesce(stored, at_now) if use_stored else at_now


@lru_cache(maxsize=256)
def step_lists(clock: str, query: StatsQuery, *, stored: bool = True) -> Any:
    """A clock's counts ("removal", "notice" or "acknowledgement") per group and grid
    bin: one row per (key, name) with its bins and their events and censored cases as
    lists (:func:`as_lists`), and for the removal clock `reappeared_cases` (the cases
    that reappeared at least once), `ever_removed` (removed now or reappeared) and
    `reappearances`. The notice clock counts the time from the first notice to removal,
    the acknowledgement clock from the first notice to the recipient's
    acknowledgement (censored when the case was removed or closed, or now), both over
    the cases that had a notice. In ONE statement (one snapshot, so a refresh
    committing in between cannot count a case twice or not at all). A key and name may
    come in more than one row: their counts add up. "Now" is the parameter NOW, given
    when it runs (:func:`at`): the statement is made once per question, not per request
    (making one costs milliseconds). With `stored`:

    * where the rollup can answer (nttd.stats.rollup.covers), its sums, minus the
      rolled copies not fresh at `now` (read from the narrow copy: few, by its indexes);
    * otherwise the bins of the copies fresh at `now`, read from the narrow copy;
    * and every case whose copy is not fresh at `now`, counted at `now` from ``cases``.

    Without `stored`: every case counted at `now` from ``cases`` (the same answer,
    slower; for the tests that say so)."""
    at_now = _AT_NOW[clock]
    if not stored or not rollup.covers(
            query.group_by, since=query.since, until=query.until, country=query.country,
            partner=query.partner, route=query.route, classification=query.classification):
        return as_lists(_counted(clock, query, stored))
    rest = union_all(_fresh(clock, query, CaseStats.rolled & not_fresh_at(NOW), sign=-1),
                     at_now(query, stored=True, stale=True))
    return union_all(*rollup.lists(query.group_by, clock, query.country, direct=DIRECT,
                                   hotlines=Hotline), as_lists(rest)
                     ).execution_options(**{SERIAL: True})


def at(now: datetime) -> dict[str, float]:
    """The parameters of a statement of :func:`step_lists` for `now`."""
    return {NOW.key: now.timestamp()}


def as_lists(statement: Any) -> Select[Any]:
    """A clock's rows (key, name, bin, events, censored, ...) as one row per (key,
    name): its bins and their counts as lists, the other columns summed."""
    inner = statement.subquery()
    c = inner.c
    sums = [func.sum(c[name]) for name in rollup.SUMS[2:] if name in c]
    return select(c.key, c.name, int_list(c.bin), int_list(c.events), int_list(c.censored),
                  *sums).group_by(c.key, c.name)


def _counted(clock: str, query: StatsQuery, stored: bool) -> Any:
    """The rows of a clock from the narrow copy's rows fresh at `now` and every other
    case counted at `now` (with `stored`), or every case counted at `now`."""
    at_now = _AT_NOW[clock]
    if not stored:
        return at_now(query, stored=False)
    return union_all(_fresh(clock, query, fresh_at(NOW)),
                     at_now(query, stored=True, stale=True))


def _fresh(clock: str, query: StatsQuery, rows: ColumnElement[bool],
           sign: int = 1) -> Select[Any]:
    """The rows of :func:`_counted` read from the narrow copy's `rows` (plain columns,
    which PostgreSQL aggregates in its parallel workers), their counts times `sign`."""
    _, bin_name, observed_name = rollup.CLOCKS[clock]
    t = CaseStats
    key, name = _group_key(query.group_by, t)
    if query.group_by == "country":  # the one indexed key (nttd.stats.sqltime.unindexed)
        key = unindexed(key)
    bin_ = cast(getattr(t, bin_name), Integer)
    observed = getattr(t, observed_name)
    keys = [key.label("key"), name.label("name"), bin_.label("bin")]
    sums: list[Any] = [func.count().filter(observed), func.count().filter(not_(observed))]
    if clock == "removal":
        reappeared = t.reappeared_count > 0
        sums += [func.count().filter(reappeared),
                 func.count().filter(or_(observed, reappeared)),
                 func.coalesce(func.sum(t.reappeared_count), 0)]
    signed = [(s if sign == 1 else s * sign).label(n)
              for s, n in zip(sums, rollup.SUMS, strict=False)]
    statement = _from(query, [*keys, *signed], t).where(rows)
    if clock != "removal":
        statement = statement.where(t.noticed)
    grouped = [key, bin_] if query.group_by != "asn" else [key, name, bin_]  # name: NULL
    return statement.group_by(*grouped)


def _removal_at_now(query: StatsQuery, *, stored: bool = True,
                    stale: bool = False) -> Select[Any]:
    clock = _Clock.at_now()
    key, name = _group_key(query.group_by)
    inner = _from(query, [
        key.label("key"), name.label("name"),
        Case.removed_at.is_not(None).label("observed"),
        _minutes(Case.stats_removal_minutes, started_minutes(
            clock.end - epoch_seconds(Case.confirmed_at) - clock.held), stored)
        .label("minutes"),
        (Case.reappeared_count > 0).label("reappeared"),
        Case.reappeared_count.label("reappearances"),
    ], stale=stale).subquery()
    c = inner.c
    return _binned(
        inner, func.count().filter(c.reappeared).label("reappeared_cases"),
        func.count().filter(or_(c.observed, c.reappeared)).label("ever_removed"),
        func.coalesce(func.sum(c.reappearances), 0).label("reappearances"))


def _notice_at_now(query: StatsQuery, *, stored: bool = True,
                   stale: bool = False) -> Select[Any]:
    clock = _Clock.at_now()
    key, name = _group_key(query.group_by)
    inner = _from(query, [
        key.label("key"), name.label("name"),
        Case.removed_at.is_not(None).label("observed"),
        _minutes(Case.stats_notice_minutes, started_minutes(
            clock.end - epoch_seconds(Case.first_notice_at) - clock.held), stored)
        .label("minutes"),
    ], stale=stale).where(Case.first_notice_at.is_not(None)).subquery()
    return _binned(inner)


def _acknowledgement_at_now(query: StatsQuery, *, stored: bool = True,
                            stale: bool = False) -> Select[Any]:
    clock = _Clock.at_now()
    key, name = _group_key(query.group_by)
    acknowledged = Case.acknowledged_at.is_not(None)
    stop = case((acknowledged, epoch_seconds(Case.acknowledged_at)), else_=clock.end)
    inner = _from(query, [
        key.label("key"), name.label("name"), acknowledged.label("observed"),
        _minutes(Case.stats_ack_minutes, started_minutes(
            stop - epoch_seconds(Case.first_notice_at)), stored).label("minutes"),
    ], stale=stale).where(Case.first_notice_at.is_not(None)).subquery()
    return _binned(inner)


_AT_NOW = {"removal": _removal_at_now, "notice": _notice_at_now,
           "acknowledgement": _acknowledgement_at_now}
