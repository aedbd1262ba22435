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
    insert,
    literal,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from nttd.models import CaseStats, StatsLists, StatsListsState, StatsRollup
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
_LISTS = cast(Table, StatsLists.__table__)
_STATE = cast(Table, StatsListsState.__table__)


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
    """Add the rolled rows among `ids` to the rollup (`sign` 1), or take them out (-1);
    the rows changed are marked ``touched`` (their groups' lists are remade)."""
    if not ids:
        return
    table = cast(Table, CaseStats.__table__)
    # Read once (every breakdown and clock reads it: without MATERIALIZED, PostgreSQL
    # would look the ids up 36 times; SQLite before 3.35 would not know the word).
    rows = (select(table).where(table.c.case_id.in_(ids), table.c.rolled,
                                table.c.route_kind.is_not(None))
            .cte("batch").prefix_with("MATERIALIZED", dialect="postgresql"))
    source = _contributions(rows, sign)
    # SQLite reads "INSERT ... SELECT ... ON CONFLICT" right only with a WHERE clause.
    chosen = select(*source.c).where(true())
    insert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)
    statement = insert(_ROLLUP).from_select(list(KEY + SUMS), chosen)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={**{name: _ROLLUP.c[name] + statement.excluded[name] for name in SUMS},
              "touched": true()})
    await connection.execute(statement)
    # The lists are not the rollup's any more (until remade: :func:`remake_lists`).
    await connection.execute(update(_STATE).where(_STATE.c.current).values(current=False))


async def remake_lists(connection: AsyncConnection) -> bool:
    """Unless the lists are current: make again the lists of the groups with a rollup
    row changed since (``touched``: the others' lists are still theirs), drop the rows
    that count nothing any more, and mark the lists current. The caller holds the
    refresh's lock. Returns whether it made them.

    A round that moved a few cases remakes a few groups' lists, not the hundreds of
    thousands of a million cases' rollup."""
    current = (await connection.execute(select(_STATE.c.current))).scalar_one()
    if current:
        return False
    r, made_c = _ROLLUP.c, _LISTS.c
    grouped = [r.dim, r.clock, r.country, r.key, r.num, r.name]
    changed = _ROLLUP.alias("changed")  # not correlated with the rollup read beside it
    touched = select(*(changed.c[name] for name in KEY[:-1])).where(changed.c.touched
                                                                    ).distinct()
    await connection.execute(delete(_LISTS).where(
        tuple_(*(made_c[name] for name in KEY[:-1])).in_(touched)))
    made = (select(*grouped, int_list(r.bin, r.bin), int_list(r.events, r.bin),
                   int_list(r.censored, r.bin), *(func.sum(r[name]) for name in SUMS[2:]))
            .where(tuple_(*grouped).in_(touched), or_(r.events != 0, r.censored != 0))
            .group_by(*grouped))
    await connection.execute(insert(_LISTS).from_select(
        [*KEY[:-1], "bins", "events", "censored", *SUMS[2:]], made))
    await connection.execute(delete(_ROLLUP).where(r.touched, r.events == 0, r.censored == 0))
    await connection.execute(update(_ROLLUP).where(r.touched).values(touched=False))
    await connection.execute(update(_STATE).values(current=True))
    return True


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
          hotlines: Any) -> list[Select[Any]]:
    """The rollup's groups of a breakdown and clock as nttd.stats.query.as_lists gives
    them: one row per group (key, name, bins, events, censored[, reappeared_cases,
    ever_removed, reappearances]), its bins and counts as lists. Read from the lists
    made of the rollup when they are current, else counted from the rollup: one
    statement, whichever its snapshot holds. `hotlines` is the Hotline model (a
    partner's code). Two statements for a UNION ALL: one of them finds nothing."""
    current = select(_STATE.c.current).where(_STATE.c.id == 1).scalar_subquery()
    made = _groups(_LISTS, group_by, clock, country, direct=direct, hotlines=hotlines)
    counted = _groups(_ROLLUP, group_by, clock, country, direct=direct, hotlines=hotlines)
    return [made.where(current), counted.where(~current)]


def _groups(table: Table, group_by: str, clock: str, country: str | None, *, direct: str,
            hotlines: Any) -> Select[Any]:
    """:func:`lists` from the lists (`table` stats_lists) or the rollup itself."""
    r = table.c
    number = CLOCKS[clock][0]
    grouped: list[Any] = [r.country, r.key, r.num, r.name]
    key: SQLColumnExpression[Any]
    name: SQLColumnExpression[Any] = null()
    source: Any = table
    if group_by == "asn":
        key = case((r.num == _NONE_NUM, null()), else_=r.num)
        name = decoded(r.name)
    elif group_by == "partner":
        key = func.coalesce(hotlines.code, literal(direct))
        grouped.append(hotlines.code)
        source = table.outerjoin(hotlines, hotlines.id == r.num)
    else:
        key = decoded(r.key)
    listed = table is _LISTS
    sums = [(r[n] if listed else func.sum(r[n])).label(n) for n in SUMS[2:]] if number == 0 else []
    counts = ([r.bins, r.events, r.censored] if listed else
              [int_list(r.bin, r.bin).label("bins"), int_list(r.events, r.bin).label("events"),
               int_list(r.censored, r.bin).label("censored")])
    statement = (select(key.label("key"), name.label("name"), *counts, *sums)
                 .select_from(source)
                 .where(r.dim == group_by, r.clock == number))
    if country is not None:
        statement = statement.where(r.country == "v" + country)
    return statement if listed else statement.group_by(*grouped)
