"""The rollup: the narrow copies' bins added up per breakdown, clock, group and bin.

An unfiltered breakdown over a million cases would read a million rows of
``case_stats`` to count a few hundred groups' bins. ``stats_rollup`` holds those
counts already: for every breakdown (``dim``) and clock, one row per (group, bin)
with the sums of the *rolled* rows of ``case_stats`` (those whose bins the refresh
found for an interval of "now"s: ``rolled``). The refresh step keeps it, in the
transaction that changes the rows: it takes a batch's rolled rows out (their old
columns and bins), writes the rows, and puts the rolled ones back in (nttd.stats.fresh).
Database triggers never change a row's columns or bins (they only mark it stale), so
what a rolled row holds is what the rollup counts for it, until the refresh changes both.

A query at "now" then counts (nttd.stats.query): the rollup, minus the rolled rows
that are not fresh at "now" (stale, or their interval over), plus those cases and the
unrolled ones counted at "now" from ``cases``, in one statement. The breakdowns by
country and by network also have the network's country in their key, so that one
country's networks are read from the rollup too; other filters and time windows read
the narrow copy (:func:`covers`).

No NULL in the key, which a conflict target would never match: a text is '' for NULL
or 'v' + the value, a number -1 for NULL (networks and hotlines are positive).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    Select,
    SQLColumnExpression,
    Table,
    case,
    delete,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from nttd.models import CaseStats, StatsRollup
from nttd.stats.groups import GROUPS, TEXT_KEYED, text_key
from nttd.stats.sqltime import int_list

# clock -> its number in the rollup, its bin column and what ends it in the narrow copy
CLOCKS = {"removal": (0, "removal_bin", "removed"),
          "notice": (1, "notice_bin", "removed"),
          "acknowledgement": (2, "ack_bin", "acknowledged")}
WITH_COUNTRY = ("country", "asn")  # the breakdowns whose rollup rows carry the country
KEY = ("dim", "clock", "country", "key", "num", "name", "bin")
SUMS = ("events", "censored", "reappeared_cases", "ever_removed", "reappearances")
_NONE_TEXT, _NONE_NUM = "", -1
_ROLLUP = cast(Table, StatsRollup.__table__)


def encoded(value: Any) -> ColumnElement[str]:
    """A text as the rollup keeps it: '' for NULL, else 'v' + the text."""
    return case((value.is_(None), literal(_NONE_TEXT)), else_=literal("v") + value)


def decoded(column: Any) -> ColumnElement[Any]:
    return case((column == _NONE_TEXT, null()), else_=func.substr(column, 2))


def _number(value: Any) -> ColumnElement[int]:
    return func.coalesce(value, literal(_NONE_NUM))


def _keys(dim: str, t: Any) -> dict[str, Any]:
    """The rollup key (country, key, num, name) of the narrow copy's columns `t` for a
    breakdown: what nttd.stats.query groups by, encoded."""
    keys: dict[str, Any] = {
        "country": encoded(t.country) if dim in WITH_COUNTRY else literal(_NONE_TEXT),
        "key": literal(_NONE_TEXT), "num": literal(_NONE_NUM), "name": literal(_NONE_TEXT)}
    if dim == "asn":
        keys.update(num=_number(t.asn), name=encoded(t.as_name))
    elif dim == "partner":  # the hotline's code is looked up when read (it may change)
        keys["num"] = case((t.route_kind == "partner", _number(t.route_hotline_id)),
                           else_=literal(_NONE_NUM))
    else:
        assert dim in TEXT_KEYED
        keys["key"] = encoded(text_key(dim, t))
    return keys


def _contributions(rows: Any, sign: int) -> Any:
    """What the narrow copies `rows` (a subquery of rolled, routed rows) add to the
    rollup, times `sign`: one row per (dim, clock, country, key, num, name, bin)."""
    t = rows.c
    branches = []
    for dim in GROUPS:
        keys = _keys(dim, t)
        for number, bin_name, observed_name in CLOCKS.values():
            bin_, observed = t[bin_name], t[observed_name]
            sums: list[Any] = [func.count().filter(observed) * sign,
                               func.count().filter(~observed) * sign]
            if number == 0:
                reappeared = t.reappeared_count > 0
                sums += [func.count().filter(reappeared) * sign,
                         func.count().filter(or_(observed, reappeared)) * sign,
                         func.coalesce(func.sum(t.reappeared_count), 0) * sign]
            else:
                sums += [literal(0), literal(0), literal(0)]
            # (PostgreSQL refuses a constant in GROUP BY: those are the same in a branch.)
            grouped = [*(k for k in keys.values() if not isinstance(k, BindParameter)), bin_]
            branch = select(literal(dim), literal(number), *keys.values(), bin_,
                            *sums).where(bin_.is_not(None))
            if number:
                branch = branch.where(t.noticed)
            branches.append(branch.group_by(*grouped))
    return union_all(*branches).subquery("contributions")


async def add(connection: AsyncConnection, ids: list[int], sign: int) -> None:
    """Add the rolled rows among `ids` to the rollup (`sign` 1), or take them out (-1)."""
    if not ids:
        return
    table = cast(Table, CaseStats.__table__)
    # Read once (every breakdown and clock reads it: without MATERIALIZED, PostgreSQL
    # would look the ids up 36 times).
    rows = (select(table).where(table.c.case_id.in_(ids), table.c.rolled,
                                table.c.route_kind.is_not(None))
            .cte("batch").prefix_with("MATERIALIZED"))
    source = _contributions(rows, sign)
    # SQLite reads "INSERT ... SELECT ... ON CONFLICT" right only with a WHERE clause.
    chosen = select(*source.c).where(true())
    insert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)
    statement = insert(_ROLLUP).from_select(list(KEY + SUMS), chosen)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={name: _ROLLUP.c[name] + statement.excluded[name] for name in SUMS})
    await connection.execute(statement)


async def prune(connection: AsyncConnection) -> None:
    """Drop the rollup's rows that count nothing any more."""
    await connection.execute(delete(_ROLLUP).where(_ROLLUP.c.events == 0,
                                                    _ROLLUP.c.censored == 0))


def covers(group_by: str, *, since: Any, until: Any, country: str | None,
           partner: str | None, route: str | None, classification: str | None) -> bool:
    """Whether the rollup can answer: no time window and no filter, but the country's
    for a breakdown that keeps it (WITH_COUNTRY)."""
    if since is not None or until is not None or partner is not None or route is not None:
        return False
    if classification is not None:
        return False
    return country is None or group_by in WITH_COUNTRY


def lists(group_by: str, clock: str, country: str | None, *, direct: str,
          hotlines: Any) -> Select[Any]:
    """The rollup's rows of a breakdown and clock as nttd.stats.query.as_lists gives
    them: one row per group (key, name, bins, events, censored[, reappeared_cases,
    ever_removed, reappearances]), its bins and counts as lists. Grouped by the
    primary key's own columns, which the index hands over in order: nothing to sort.
    `hotlines` is the Hotline model (a partner's code)."""
    r = _ROLLUP.c
    number = CLOCKS[clock][0]
    grouped: list[Any] = [r.country, r.key, r.num, r.name]
    key: SQLColumnExpression[Any]
    name: SQLColumnExpression[Any] = null()
    source: Any = _ROLLUP
    if group_by == "asn":
        key = case((r.num == _NONE_NUM, null()), else_=r.num)
        name = decoded(r.name)
    elif group_by == "partner":
        source = _ROLLUP.outerjoin(hotlines, hotlines.id == r.num)
        key = func.coalesce(hotlines.code, literal(direct))
        grouped.append(hotlines.code)
    else:
        key = decoded(r.key)
    sums = [func.sum(r[name_]).label(name_) for name_ in SUMS[2:]] if number == 0 else []
    statement = (select(key.label("key"), name.label("name"),
                        int_list(r.bin, r.bin).label("bins"),
                        int_list(r.events, r.bin).label("events"),
                        int_list(r.censored, r.bin).label("censored"), *sums)
                 .select_from(source)
                 .where(r.dim == group_by, r.clock == number))
    if country is not None:
        statement = statement.where(r.country == "v" + country)
    return statement.group_by(*grouped)
