"""The statistics computed in the database (SQLite and PostgreSQL) equal survival.py fed
the same cases' durations directly; every breakdown, filter and window; the minimum
group size; reappearance; the columns the statistics read are kept and backfilled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import column, func, insert, select, table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from nttd.cases import report_status
from nttd.db import make_engine, make_sessionmaker
from nttd.migrate import upgrade
from nttd.models import Case, Event
from nttd.stats import (
    GROUPS,
    METRICS,
    StatsError,
    StatsQuery,
    removal_stats,
    stats_csv,
    stats_table,
)
from nttd.stats.removal import wilson
from tests.stats.cases import (
    NOW,
    binned_seconds,
    new_case,
    random_cases,
    reference_summary,
    store,
)

COUNTS = {"NL": 40, "DE": 25, "FR": 4}


async def stored(engine: AsyncEngine, cases: list[Case]) -> None:
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, cases)


async def stats(engine: AsyncEngine, **kwargs: Any) -> dict[str, Any]:
    async with make_sessionmaker(engine)() as session:
        return await removal_stats(session, now=NOW, **kwargs)


def test_binning_keeps_short_durations_exact_and_long_ones_within_a_bin() -> None:
    assert binned_seconds(0.0) == 0.0
    assert binned_seconds(-30.0) == 0.0            # a clock correction: 0
    assert binned_seconds(0.4) == 60.0             # a started minute
    assert binned_seconds(120.0) == 120.0          # exactly two minutes, not three
    assert binned_seconds(120.0004) == 120.0       # float noise under a millisecond
    assert binned_seconds(121.0) == 180.0
    assert binned_seconds(21 * 60) == 21 * 60
    day = binned_seconds(86400.0)
    assert 86400.0 <= day <= 86400.0 * 1.045


async def test_sql_estimates_equal_survival_on_the_same_samples(engine: AsyncEngine) -> None:
    cases = random_cases(7, COUNTS)
    await stored(engine, cases)
    result = await stats(engine, group_by="country", min_group=10)
    groups = {g["group"]: g for g in result["groups"]}
    assert set(groups) == set(COUNTS)
    for country in COUNTS:
        mine = [c for c in cases if c.country == country]
        for metric in METRICS:
            assert groups[country][metric] == reference_summary(mine, metric, 10), (
                country, metric)
    for metric in METRICS:
        assert result["overall"][metric] == reference_summary(cases, metric, 10), metric
    nl = groups["NL"]
    assert nl["cases"] == 40 and nl["removed"] == sum(
        1 for c in cases if c.country == "NL" and c.removed_at is not None)
    assert nl["median_time_to_removal_seconds"] == nl["time_to_removal"]["median"]["estimate"]
    assert nl["p90_time_to_removal_seconds"] == nl["time_to_removal"]["p90"]["estimate"]
    assert nl["median_notice_to_removal_seconds"] == (
        nl["notice_to_removal"]["median"]["estimate"])


async def test_a_hand_worked_group(engine: AsyncEngine) -> None:
    # Ten cases confirmed at NOW - 1 day: removed after 1, 2, 2, 3 minutes; one after
    # 10 minutes of which 6 on hold (counts as 4); one on hold since 30 minutes after
    # confirmation (now: held for the rest of the day: counts 30 minutes, censored);
    # one closed after 5 minutes (censored at 5); three still online (censored at 1 day).
    start = NOW - timedelta(days=1)

    def minutes(m: float) -> Any:
        return start + timedelta(minutes=m)

    cases = [new_case(1, "NL", start, status="removed", removed_at=minutes(1)),
             new_case(2, "NL", start, status="removed", removed_at=minutes(2)),
             new_case(3, "NL", start, status="removed", removed_at=minutes(2)),
             new_case(4, "NL", start, status="removed", removed_at=minutes(3)),
             new_case(5, "NL", start, status="removed", removed_at=minutes(10),
                      hold_seconds=360.0),
             new_case(6, "NL", start, status="hold", hold_started_at=minutes(30)),
             new_case(7, "NL", start, status="closed", updated_at=minutes(5)),
             *(new_case(i, "NL", start) for i in (8, 9, 10))]
    await stored(engine, cases)
    removal = (await stats(engine))["groups"][0]["time_to_removal"]
    # At risk 10: 1 min (1 removed) S=.9; 2 min (2 of 9) S=.7; 3 min (1 of 7) S=.6;
    # 4 min (1 of 6) S=.5 -> median 4 minutes; then 5 min censored, 30 censored, 3 at 1 day.
    assert (removal["n"], removal["events"], removal["censored"]) == (10, 5, 5)
    assert removal["median"]["estimate"] == 240.0
    assert removal["p75"]["estimate"] is None  # never reached 75%
    assert removal["removed_by_24h"]["estimate"] == pytest.approx(0.5)


async def test_every_group_by(engine: AsyncEngine) -> None:
    week_start = NOW - timedelta(days=2)  # Monday 2026-06-08
    cases = [
        new_case(1, "NL", NOW - timedelta(hours=1), host="a.example.com",
                 route_kind="partner", route_hotline_id=1, classification="1A",
                 content_type="image", chase_step="reminder-1"),
        new_case(2, "DE", week_start, host="b.example.net", cdn="Cloudflare",
                 registrar="Other Registrar", classification="2", content_type="video"),
        new_case(3, "DE", NOW - timedelta(days=40), host="192.0.2.7",
                 classification="2", content_type="video"),
    ]
    await stored(engine, cases)
    expected = {
        "country": ["DE", "NL"],
        "asn": ["AS64501", "AS64502"],
        "partner": ["(direct)", "nl-partner"],
        "registrar": ["Example Registrar, Inc.", "Other Registrar"],
        "cdn": ["(none)", "Cloudflare"],
        "tld": ["com", "net", None],
        "content_type": ["image", "video"],
        "classification": ["1A", "2"],
        "route": ["direct", "partner"],
        "week": ["2026-04-27", "2026-06-08"],
        "month": ["2026-05", "2026-06"],
        "step": ["(none)", "reminder-1"],
    }
    assert set(expected) == set(GROUPS)
    for group_by, keys in expected.items():
        result = await stats(engine, group_by=group_by, min_group=1)
        assert [g["group"] for g in result["groups"]] == keys, group_by
        assert sum(g["cases"] for g in result["groups"]) == 3
    by_asn = {g["group"]: g for g in (await stats(engine, group_by="asn"))["groups"]}
    assert by_asn["AS64502"]["name"] == "DE-HOSTING" and by_asn["AS64502"]["cases"] == 2


async def test_filters_and_windows(engine: AsyncEngine) -> None:
    cases = random_cases(3, COUNTS)
    await stored(engine, cases)

    async def total(**kwargs: Any) -> int:
        return int((await stats(engine, **kwargs))["overall"]["cases"])

    since, until = NOW - timedelta(days=20), NOW - timedelta(days=5)
    assert await total(since=since) == sum(1 for c in cases if c.confirmed_at >= since)
    assert await total(until=until) == sum(1 for c in cases if c.confirmed_at < until)
    assert await total(since=since, until=until) == sum(
        1 for c in cases if since <= c.confirmed_at < until)
    assert await total(country="de") == COUNTS["DE"]
    partner = sum(1 for c in cases if c.route_kind == "partner")
    assert await total(route="partner") == partner
    assert await total(route="direct") == len(cases) - partner
    assert await total(partner="nl-partner") == partner
    assert await total(partner="nobody") == 0
    assert await total(classification="1A") == len(cases)
    assert await total(classification="2") == 0
    windowed = [c for c in cases if c.confirmed_at >= since and c.country == "NL"]
    result = await stats(engine, since=since, country="NL", min_group=1)
    assert result["filters"] == {"country": "NL"}
    assert result["groups"][0]["time_to_removal"] == reference_summary(
        windowed, "time_to_removal", 1)


@pytest.mark.parametrize("kwargs", [
    {"group_by": "host"}, {"country": "Netherlands"}, {"route": "sideways"},
    {"since": NOW, "until": NOW - timedelta(days=1)}, {"partner": " "},
    {"classification": "x" * 201},
])
def test_bad_queries_say_what_is_allowed(kwargs: dict[str, Any]) -> None:
    with pytest.raises(StatsError, match="must"):
        StatsQuery(**kwargs)


async def test_groups_below_the_minimum_show_counts_not_estimates(engine: AsyncEngine) -> None:
    await stored(engine, random_cases(5, COUNTS))
    groups = {g["group"]: g for g in (await stats(engine, min_group=10))["groups"]}
    fr = groups["FR"]
    assert fr["too_few"] is True and fr["cases"] == 4
    assert fr["median_time_to_removal_seconds"] is None
    assert fr["reappearance_rate"] is None
    for metric in METRICS:
        assert all(fr[metric][k] is None for k in ("median", "p75", "p90", "removed_by_24h"))
    assert groups["NL"]["too_few"] is False
    assert groups["NL"]["time_to_removal"]["median"] is not None
    # With a minimum of 4, FR has its estimates.
    groups = {g["group"]: g for g in (await stats(engine, min_group=4))["groups"]}
    assert groups["FR"]["too_few"] is False
    assert groups["FR"]["time_to_removal"]["median"] is not None
    table = stats_table(await stats(engine, min_group=10))
    assert "too few cases" in next(line for line in table.splitlines() if line.startswith("FR"))
    league = (await stats(engine, group_by="country", league=True, min_group=10))["league"]
    assert {r["group"] for r in league["asn"]["slowest"]} == {"AS64501", "AS64502"}
    assert {r["group"] for r in league["registrar"]["fastest"]} == {"Example Registrar, Inc."}


async def test_reappearance_is_counted_and_rated(engine: AsyncEngine) -> None:
    start = NOW - timedelta(days=3)
    cases = [new_case(i, "NL", start, status="removed", removed_at=start + timedelta(hours=i))
             for i in range(1, 9)]
    cases += [new_case(9, "NL", start, status="reappeared", reappeared_count=2),
              new_case(10, "NL", start, status="removed", reappeared_count=1,
                       removed_at=start + timedelta(days=2)),
              new_case(11, "NL", start)]
    await stored(engine, cases)
    group = (await stats(engine))["groups"][0]
    assert group["reappeared"] == 3 and group["reappeared_cases"] == 2
    # Ever removed: the 9 removed now and the one back online.
    assert group["reappearance_rate"] == wilson(2, 10)
    assert group["reappearance_rate"]["lower"] < 0.2 < group["reappearance_rate"]["upper"]
    # The case back online is open again: censored, not removed.
    assert (group["removed"], group["open"]) == (9, 2)


async def test_metrics_can_be_narrowed(engine: AsyncEngine) -> None:
    await stored(engine, random_cases(11, COUNTS))
    async with make_sessionmaker(engine)() as session:
        result = await removal_stats(session, now=NOW, metrics=("time_to_removal",))
    assert result["metrics"] == ["time_to_removal"]
    nl = next(g for g in result["groups"] if g["group"] == "NL")
    assert nl["notice_to_removal"]["n"] == 0 and nl["time_to_removal"]["n"] == 40


async def test_csv_has_a_row_per_group_and_quotes_formulas(engine: AsyncEngine) -> None:
    await stored(engine, [new_case(1, "NL", NOW - timedelta(days=1), registrar="=HYPERLINK(1)"),
                          new_case(2, "DE", NOW - timedelta(days=1))])
    text = stats_csv(await stats(engine, group_by="registrar", min_group=1))
    lines = text.strip().split("\r\n")
    assert lines[0].startswith("group,name,cases,removed,open,too_few,")
    assert len(lines) == 3
    assert any(line.startswith("'=HYPERLINK(1)") for line in lines)


async def test_store_facts_and_reports_keep_the_columns(engine: AsyncEngine) -> None:
    case = new_case(1, "DE", NOW, host="files.example.org", cdn="Cloudflare")
    assert (case.as_name, case.registrar, case.cdn, case.tld) == (
        "DE-HOSTING", "Example Registrar, Inc.", "Cloudflare", "org")
    async with make_sessionmaker(engine)() as session, session.begin():
        await store(session, [case])
        await session.flush()
        report_status(session, case, "acknowledged", note=None, actor="p", now=NOW)
        report_status(session, case, "acknowledged", note=None, actor="p",
                      now=NOW + timedelta(hours=1))
        assert case.acknowledged_at == NOW  # the first acknowledgement stops the clock


async def test_migration_fills_the_new_columns(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine, "0005")
        row = {"url": "http://a.example.net/1", "canonical_url": "http://a.example.net/1",
               "host": "a.example.net", "status": "monitoring", "confirmed_at": NOW,
               "created_at": NOW, "updated_at": NOW, "hold_seconds": 0.0,
               "resolve_attempts": 0, "check_count": 0, "gone_streak": 0,
               "reappeared_count": 0, "route_kind": "direct",
               "facts": {"hosting": {"asn": 1, "as_name": "NET"}, "cdn": {"name": "Akamai"},
                         "registrar": {"name": "Reg"}}}
        cases = Case.__table__.c
        # The cases table at 0005 (check_count and gone_streak moved out in 0017).
        old_cases = table("cases", *(column(k, cases[k].type if k in cases else None)
                                     for k in row))
        async with engine.begin() as conn:
            await conn.execute(insert(old_cases).values(row))
            await conn.execute(insert(Event.__table__).values(
                case_id=1, at=NOW + timedelta(minutes=5), actor="p",
                kind="reported_acknowledged", data=None))
        await upgrade(engine)
        async with make_sessionmaker(engine)() as session:
            case = (await session.scalars(select(Case))).one()
        assert (case.as_name, case.registrar, case.cdn, case.tld) == (
            "NET", "Reg", "Akamai", "net")
        assert case.acknowledged_at == NOW + timedelta(minutes=5)
    finally:
        await engine.dispose()


async def test_the_planner_settings_last_only_for_the_statistics(engine: AsyncEngine) -> None:
    await stored(engine, random_cases(13, {"NL": 5}))
    names = ("enable_sort", "jit", "work_mem") if engine.dialect.name == "postgresql" else ()
    async with make_sessionmaker(engine)() as session, session.begin():
        before = [(await session.execute(text(f"SHOW {n}"))).scalar() for n in names]
        await removal_stats(session, now=NOW)
        assert [(await session.execute(text(f"SHOW {n}"))).scalar() for n in names] == before
        # The same transaction goes on working (nothing was left half-done).
        assert (await session.execute(select(func.count()).select_from(Case))).scalar() == 5
