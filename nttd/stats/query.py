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
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Select,
    SQLColumnExpression,
    and_,
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
from nttd.stats.fresh import fresh_at, not_fresh_at
from nttd.stats.sqltime import (
    epoch_seconds,
    grid_bin,
    month_of,
    started_minutes,
    unindexed,
    week_start,
)

GROUPS = ("country", "asn", "partner", "registrar", "cdn", "tld", "content_type",
          "classification", "route", "week", "month", "step")
ROUTES = ("partner", "direct")
FILTERS = ("country", "partner", "route", "classification")
DIRECT = "(direct)"  # the partner group of cases not routed to a partner
NO_CDN = "(none)"    # the cdn group of cases not behind a CDN
NO_STEP = "(none)"   # the step group of cases that had no letter of the chase (yet)
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
    def at(cls, now: datetime) -> _Clock:
        now_s = literal(now.timestamp(), Float)
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
    narrow = t is CaseStats
    keys: dict[str, SQLColumnExpression[Any]] = {
        "country": t.country,
        "partner": case((and_(t.route_kind == "partner", Hotline.code.is_not(None)),
                         Hotline.code), else_=literal(DIRECT)),
        "registrar": t.registrar,
        "cdn": func.coalesce(t.cdn, NO_CDN),
        "tld": t.tld,
        "content_type": t.content_type,
        "classification": t.classification,
        "route": t.route_kind,
        # The narrow copy keeps them as the same text (migration 0018).
        "week": CaseStats.week if narrow else week_start(Case.confirmed_at),
        "month": CaseStats.month if narrow else month_of(Case.confirmed_at),
        # The last letter of the chase sent while the case was online (Case.chase_step):
        # for a removed case, the step after which the content came down.
        "step": func.coalesce(t.chase_step, NO_STEP),
    }
    return keys[group_by], null()


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
          stale_at: datetime | None = None) -> Select[Any]:
    """The rows of `t` the query selects; with `stale_at`, only the cases whose narrow
    copy is not fresh at that "now" (nttd.stats.fresh)."""
    base = select(*columns).select_from(t)
    if query.group_by == "partner":
        base = base.outerjoin(Hotline, t.route_hotline_id == Hotline.id)
    base = base.where(*_where(query, t))
    if stale_at is not None:
        base = base.where(Case.id.in_(select(CaseStats.case_id).where(not_fresh_at(stale_at))))
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


def removal_steps(query: StatsQuery, now: datetime, *, stored: bool = True) -> Any:
    """Rows (key, name, bin, events, censored, reappeared_cases, ever_removed,
    reappearances) of the time to removal; `reappeared_cases`: the cases that
    reappeared at least once; `ever_removed`: removed now or reappeared. A key and
    bin may come in two rows (their counts add up): see :func:`_counted`."""
    return _counted(_removal_at_now, query, now, stored)


def notice_steps(query: StatsQuery, now: datetime, *, stored: bool = True) -> Any:
    """Rows (key, name, bin, events, censored) of the time from the first notice to
    removal, over the cases that had a notice."""
    return _counted(_notice_at_now, query, now, stored)


def acknowledgement_steps(query: StatsQuery, now: datetime, *, stored: bool = True) -> Any:
    """Rows (key, name, bin, events, censored) of the time from the first notice to
    the recipient's acknowledgement; a case not acknowledged is censored when it was
    removed or closed, or now."""
    return _counted(_acknowledgement_at_now, query, now, stored)


def _counted(at_now: Any, query: StatsQuery, now: datetime, stored: bool) -> Any:
    """With `stored`: the bins of the cases whose narrow copy is fresh at `now`, read
    from it (nttd.stats.fresh), and every other case counted at `now` from ``cases``,
    in ONE statement (a UNION ALL: one snapshot, so a refresh committing in between
    cannot count a case twice or not at all). Without: every case counted at `now`,
    from ``cases`` (the same answer, slower; for the tests that say so)."""
    if not stored:
        return at_now(query, now, stored=False)
    return union_all(_fresh(at_now, query, now), at_now(query, now, stored=True, stale_at=now))


_FRESH = {"_removal_at_now": ("removal_bin", "removed"),
          "_notice_at_now": ("notice_bin", "removed"),
          "_acknowledgement_at_now": ("ack_bin", "acknowledged")}


def _fresh(at_now: Any, query: StatsQuery, now: datetime) -> Select[Any]:
    """The rows of :func:`_counted` read from the narrow copy: plain columns, which
    PostgreSQL aggregates in its parallel workers."""
    bin_name, observed_name = _FRESH[at_now.__name__]
    t = CaseStats
    key, name = _group_key(query.group_by, t)
    if query.group_by == "country":  # the one indexed key (nttd.stats.sqltime.unindexed)
        key = unindexed(key)
    bin_ = cast(getattr(t, bin_name), Integer)
    observed = getattr(t, observed_name)
    keys = [key.label("key"), name.label("name"), bin_.label("bin")]
    sums: list[Any] = [func.count().filter(observed).label("events"),
                       func.count().filter(not_(observed)).label("censored")]
    if at_now is _removal_at_now:
        reappeared = t.reappeared_count > 0
        sums += [func.count().filter(reappeared).label("reappeared_cases"),
                 func.count().filter(or_(observed, reappeared)).label("ever_removed"),
                 func.coalesce(func.sum(t.reappeared_count), 0).label("reappearances")]
    statement = _from(query, [*keys, *sums], t).where(fresh_at(now))
    if at_now is not _removal_at_now:
        statement = statement.where(t.noticed)
    grouped = [key, bin_] if query.group_by != "asn" else [key, name, bin_]  # name: NULL
    return statement.group_by(*grouped)


def _removal_at_now(query: StatsQuery, now: datetime, *, stored: bool = True,
                    stale_at: datetime | None = None) -> Select[Any]:
    clock = _Clock.at(now)
    key, name = _group_key(query.group_by)
    inner = _from(query, [
        key.label("key"), name.label("name"),
        Case.removed_at.is_not(None).label("observed"),
        _minutes(Case.stats_removal_minutes, started_minutes(
            clock.end - epoch_seconds(Case.confirmed_at) - clock.held), stored)
        .label("minutes"),
        (Case.reappeared_count > 0).label("reappeared"),
        Case.reappeared_count.label("reappearances"),
    ], stale_at=stale_at).subquery()
    c = inner.c
    return _binned(
        inner, func.count().filter(c.reappeared).label("reappeared_cases"),
        func.count().filter(or_(c.observed, c.reappeared)).label("ever_removed"),
        func.coalesce(func.sum(c.reappearances), 0).label("reappearances"))


def _notice_at_now(query: StatsQuery, now: datetime, *, stored: bool = True,
                   stale_at: datetime | None = None) -> Select[Any]:
    clock = _Clock.at(now)
    key, name = _group_key(query.group_by)
    inner = _from(query, [
        key.label("key"), name.label("name"),
        Case.removed_at.is_not(None).label("observed"),
        _minutes(Case.stats_notice_minutes, started_minutes(
            clock.end - epoch_seconds(Case.first_notice_at) - clock.held), stored)
        .label("minutes"),
    ], stale_at=stale_at).where(Case.first_notice_at.is_not(None)).subquery()
    return _binned(inner)


def _acknowledgement_at_now(query: StatsQuery, now: datetime, *, stored: bool = True,
                            stale_at: datetime | None = None) -> Select[Any]:
    clock = _Clock.at(now)
    key, name = _group_key(query.group_by)
    acknowledged = Case.acknowledged_at.is_not(None)
    stop = case((acknowledged, epoch_seconds(Case.acknowledged_at)), else_=clock.end)
    inner = _from(query, [
        key.label("key"), name.label("name"), acknowledged.label("observed"),
        _minutes(Case.stats_ack_minutes, started_minutes(
            stop - epoch_seconds(Case.first_notice_at)), stored).label("minutes"),
    ], stale_at=stale_at).where(Case.first_notice_at.is_not(None)).subquery()
    return _binned(inner)
