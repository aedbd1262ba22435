"""The coordinator's statistics dashboard (GET /stats, its CSV at GET /stats.csv) and
the public summary (GET /public/stats, on when NTTD_PUBLIC_STATS is set).

The figures come from nttd.stats (computed in the database); this module picks what
to draw, hands the numbers to nttd.web.charts and to the tables beside each chart.
The public page shows aggregates only: by country and by month, groups below
NTTD_STATS_MIN_GROUP left out, never a URL, a host, a network or a case.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from nttd.auth import Role
from nttd.stats import (
    FILTERS,
    GROUPS,
    LEAGUE_GROUPS,
    ROUTES,
    StatsError,
    StatsQuery,
    league_of,
    stats_csv,
    stats_for,
    wilson,
)
from nttd.web.base import context, require, services
from nttd.web.charts import (
    DAY,
    HOUR,
    Curve,
    Interval,
    Share,
    Trend,
    duration_text,
    median_chart,
    percent,
    share_chart,
    survival_chart,
    trend_chart,
)
from nttd.web.render import page

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

PARAMS = ("group_by", "since", "until", *FILTERS)
CURVES_SHOWN = 8     # the largest groups get a curve; the tables have them all
MEDIANS_SHOWN = 30
READ_AT = ((HOUR, "1h"), (24 * HOUR, "24h"), (3 * DAY, "72h"), (7 * DAY, "7d"),
           (30 * DAY, "30d"))
DASHBOARD_METRICS = ("time_to_removal",)  # the only clock drawn; the CSV has all three


def label_of(row: Mapping[str, Any]) -> str:
    group = row["group"]
    text = "(unknown)" if group is None else str(group)
    return f"{text} {row['name']}" if row.get("name") else text


def interval_text(part: Mapping[str, Any] | None) -> str:
    """`estimate (lower\u2013upper)` of a duration; None: no estimate (too few)."""
    if part is None:
        return "—"
    upper = "\u221e" if part["upper"] is None else duration_text(part["upper"])
    return f"{duration_text(part['estimate'])} ({duration_text(part['lower'])}\u2013{upper})"


def share_text(part: Mapping[str, Any] | None) -> str:
    if part is None or part["estimate"] is None:
        return "—"
    return f"{percent(part['estimate'])} ({percent(part['lower'])}\u2013{percent(part['upper'])})"


def read_curve(curve: Mapping[str, Any], t: float) -> tuple[float, float, float] | None:
    """(S, lower, upper) at t from the curve's points; None beyond its follow-up."""
    points = curve["points"]
    reached_zero = bool(points) and points[-1][1] == 0.0
    if (curve["last_time"] is None or t > curve["last_time"]) and not reached_zero:
        return None
    found = (1.0, 1.0, 1.0)
    for time, survival, lower, upper in points:
        if time > t:
            break
        found = (survival, lower, upper)
    return found


def curve_table(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    table = []
    for row in rows:
        cells = []
        for t, _ in READ_AT:
            point = read_curve(row["curve"], t)
            cells.append("—" if point is None else
                         f"{percent(point[0])} ({percent(point[1])}\u2013{percent(point[2])})")
        table.append({"label": label_of(row), "cases": row["cases"], "cells": cells})
    return table


def estimated(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in rows if not r["too_few"]]


def largest(rows: Sequence[Mapping[str, Any]], n: int) -> list[Mapping[str, Any]]:
    chosen = sorted(estimated(rows), key=lambda r: -r["cases"])[:n]
    return [r for r in rows if any(r is c for c in chosen)]


def curves_svg(rows: Sequence[Mapping[str, Any]], title: str) -> Any:
    return survival_chart([Curve(label_of(r), r["curve"]["points"], r["curve"]["last_time"])
                           for r in rows], title=title)


def medians_svg(rows: Sequence[Mapping[str, Any]], title: str) -> Any:
    intervals = []
    for r in rows:
        median = r["time_to_removal"]["median"]
        intervals.append(Interval(label_of(r), median["estimate"], median["lower"],
                                  median["upper"]))
    return median_chart(intervals, title=title)


def group_table(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    table = []
    for r in rows:
        removal = r["time_to_removal"]
        table.append({
            "label": label_of(r), "cases": r["cases"], "removed": r["removed"],
            "open": r["open"], "too_few": r["too_few"], "reappeared": r["reappeared"],
            "median": interval_text(removal["median"]), "p90": interval_text(removal["p90"]),
            "by_24h": share_text(removal["removed_by_24h"]),
            "by_7d": share_text(removal["removed_by_7d"]),
        })
    return table


def league_table(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": label_of(e), "cases": e["cases"], "removed": e["removed"],
             "median": interval_text(e["median"]), "p90": interval_text(e["p90"]),
             "by_7d": share_text(e["removed_by_7d"])} for e in entries]


def trend_svg(rows: Sequence[Mapping[str, Any]], title: str) -> Any:
    def values(name: str) -> list[float | None]:
        return [None if r["too_few"] or r["time_to_removal"][name]["estimate"] is None
                else r["time_to_removal"][name]["estimate"] for r in rows]

    periods = ["(unknown)" if r["group"] is None else str(r["group"]) for r in rows]
    return trend_chart(periods, [Trend("median", values("median")),
                                 Trend("90% removed by", values("p90"))], title=title)


def _query(request: web.Request) -> tuple[StatsQuery | None, str | None, dict[str, str]]:
    given = {name: request.query.get(name, "")[:200] for name in PARAMS}
    try:
        return StatsQuery.from_params(given), None, given
    except StatsError as exc:
        return None, str(exc), given


async def stats_page(request: web.Request) -> web.Response:
    require(request, Role.COORDINATOR, Role.ANALYST)
    svc = services(request)
    query, error, given = _query(request)
    values: dict[str, Any] = {}
    if query is not None:
        values = await dashboard_figures(svc.read_sessions, query, now=svc.clock(),
                                         min_group=svc.settings.stats_min_group)
    return page("stats.html", status=400 if error else 200,
                **context(request, **page_values(given, error, values)))


async def dashboard_figures(sessions: Callable[[], AsyncSession], query: StatsQuery, *,
                            now: datetime, min_group: int) -> dict[str, Any]:
    """What the dashboard draws for `query` (the page without the request around it).

    Each breakdown is asked for once (the league table's and the trend's reuse the
    main one when it is theirs), time to removal only, and the questions run at the
    same time, each on a session of its own (so on a connection of its own)."""

    async def figures(grouped: StatsQuery, curves: bool = False) -> dict[str, Any]:
        async with sessions() as session:
            return await stats_for(session, grouped, now=now, min_group=min_group,
                                   metrics=DASHBOARD_METRICS, curves=curves)

    others = [name for name in (*LEAGUE_GROUPS, "week", "step") if name != query.group_by]
    found = await asyncio.gather(figures(query, curves=True),
                                 *(figures(query.regrouped(name)) for name in others))
    result, by = found[0], {**dict(zip(others, found[1:], strict=True)),
                            query.group_by: found[0]}
    result = {**result, "league": {name: league_of(by[name]["groups"])
                                   for name in LEAGUE_GROUPS}}
    return dashboard_values(result, by["week"], by["step"])


def page_values(given: Mapping[str, str], error: str | None,
                values: Mapping[str, Any]) -> dict[str, Any]:
    """The stats.html template's values besides who is signed in."""
    csv_params = {k: v for k, v in given.items() if v}
    return {"groups": GROUPS, "routes": ROUTES, "given": given, "error": error,
            "csv_link": "/stats.csv" + ("?" + urlencode(csv_params) if csv_params else ""),
            "api_query": urlencode({**csv_params, "format": "csv"}), "read_at": READ_AT,
            **values}


def step_table(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per chase step: its cases, how many came down after it, that share of all the
    removals (Wilson 95% interval) and the median time to removal of its cases."""
    removed = sum(r["removed"] for r in rows)
    table = []
    for r in rows:
        share = wilson(r["removed"], removed) if removed else None
        table.append({
            "label": "(unknown)" if r["group"] is None else str(r["group"]),
            "cases": r["cases"], "removed": r["removed"], "open": r["open"],
            "share": share, "share_text": share_text(share),
            "median": interval_text(r["time_to_removal"]["median"]),
        })
    return table


def steps_svg(table: Sequence[Mapping[str, Any]], title: str) -> Any:
    removed = sum(row["removed"] for row in table)
    return share_chart([Share(row["label"], row["share"]["estimate"], row["share"]["lower"],
                              row["share"]["upper"], f"{row['removed']} of {removed} removals")
                        for row in table if row["share"] is not None], title=title)


def dashboard_values(result: Mapping[str, Any], weeks: Mapping[str, Any],
                     steps: Mapping[str, Any] | None = None) -> dict[str, Any]:
    rows = result["groups"]
    curve_rows = largest(rows, CURVES_SHOWN)
    median_rows = largest(rows, MEDIANS_SHOWN)
    overall = result["overall"]
    week_rows = weeks["groups"]
    return {
        "result": result,
        "overall": group_table([overall])[0],
        "curves": curves_svg(curve_rows, "Share still online by time since confirmation, "
                             "with 95% bands") if curve_rows else None,
        "curve_table": curve_table(curve_rows),
        "medians": medians_svg(median_rows, "Median time to removal per group, with 95% "
                               "intervals") if median_rows else None,
        "group_table": group_table(rows),
        "trend": trend_svg(week_rows, "Median and 90th percentile of the time to removal "
                           "per week of confirmation") if estimated(week_rows) else None,
        "week_table": group_table(week_rows),
        "league": {name: {side: league_table(entries) for side, entries in table.items()}
                   for name, table in result.get("league", {}).items()},
        **_steps(steps),
    }


def _steps(steps: Mapping[str, Any] | None) -> dict[str, Any]:
    table = step_table(steps["groups"]) if steps is not None else []
    shown = any(row["share"] is not None for row in table)
    return {"step_table": table,
            "steps": steps_svg(table, "Share of the removals by the last letter sent before "
                               "the content came down, with 95% intervals") if shown else None}


async def stats_csv_download(request: web.Request) -> web.Response:
    """The dashboard's figures as CSV (the API's CSV, signed in by the session)."""
    require(request, Role.COORDINATOR, Role.ANALYST)
    svc = services(request)
    query, error, _ = _query(request)
    if query is None:
        raise web.HTTPBadRequest(text=error)
    async with svc.read_sessions() as session:
        result = await stats_for(session, query, now=svc.clock(),
                                 min_group=svc.settings.stats_min_group)
    return web.Response(
        text=stats_csv(result), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition":
                 f'attachment; filename="nttd-stats-{query.group_by}.csv"'})


async def public_stats(request: web.Request) -> web.Response:
    """The public summary: no sign-in, a 404 unless NTTD_PUBLIC_STATS is on."""
    svc = services(request)
    if not svc.settings.public_stats:
        raise web.HTTPNotFound()
    min_group = svc.settings.stats_min_group
    now = svc.clock()

    async def figures(group_by: str, curves: bool = False) -> dict[str, Any]:
        async with svc.read_sessions() as session:  # one each: the two run side by side
            return await stats_for(session, StatsQuery(group_by=group_by), now=now,
                                   min_group=min_group, metrics=("time_to_removal",),
                                   curves=curves)

    by_country, by_month = await asyncio.gather(figures("country", curves=True),
                                                figures("month"))
    overall = by_country["overall"]
    shown_overall = not overall["too_few"]
    countries = [r for r in estimated(by_country["groups"]) if r["group"] is not None]
    months = [r for r in estimated(by_month["groups"]) if r["group"] is not None]
    return page("public_stats.html", **context(
        request, min_group=min_group, generated_at=by_country["generated_at"],
        definitions=by_country["definitions"],
        overall=group_table([overall])[0] if shown_overall else None,
        overall_curve=(curves_svg([{**overall, "group": "all cases", "name": None}],
                                  "Share still online by time since confirmation, all "
                                  "cases, with 95% band") if shown_overall else None),
        overall_read=curve_table([{**overall, "group": "all cases", "name": None}])
        if shown_overall else [],
        read_at=READ_AT,
        medians=medians_svg(countries, "Median time to removal by hosting country, with "
                            "95% intervals") if countries else None,
        country_table=group_table(countries),
        trend=trend_svg(months, "Median and 90th percentile of the time to removal per "
                        "month of confirmation") if months else None,
        month_table=group_table(months)))
