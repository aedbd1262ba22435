"""Hand-made cases with known clocks, stored as nttd stores them, and the reference:
the same cases' durations from nttd.cases.case_times (Python, case by case), binned
as the statistics bin them, fed to survival.py directly."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from nttd.cases import case_times, store_facts
from nttd.db import READ_ONLY, make_sessionmaker
from nttd.models import Case, Hotline
from nttd.stats import StatsQuery, stats_for
from nttd.stats.sqltime import bin_minutes, grid_bin_of
from nttd.stats.survival import group_samples, summarise

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday
NETWORKS = {"NL": (64501, "NL-HOSTING"), "DE": (64502, "DE-HOSTING"),
            "FR": (64503, "FR-HOSTING")}


def facts_for(country: str, *, cdn: str | None = None,
              registrar: str = "Example Registrar, Inc.") -> dict[str, Any]:
    asn, as_name = NETWORKS[country]
    return {"ips": ["192.0.2.1"],
            "hosting": {"ip": "192.0.2.1", "asn": asn, "as_name": as_name, "country": country},
            "registrar": {"name": registrar, "abuse_emails": []},
            "cdn": {"name": cdn, "abuse_emails": []} if cdn else None}


def new_case(i: int, country: str, confirmed: datetime, *, host: str | None = None,
             **values: Any) -> Case:
    host = host or f"h{i}.example.com"
    url = f"http://{host}/{i}.jpg"
    case = Case(url=url, canonical_url=url, host=host, status="monitoring",
                confirmed_at=confirmed, created_at=confirmed, updated_at=confirmed,
                hold_seconds=0.0, resolve_attempts=0, check_count=0, gone_streak=0,
                reappeared_count=0, route_kind="direct", classification="1A",
                content_type="image")
    cdn = values.pop("cdn", None)
    registrar = values.pop("registrar", "Example Registrar, Inc.")
    for name, value in values.items():
        setattr(case, name, value)
    store_facts(case, facts_for(country, cdn=cdn, registrar=registrar))
    return case


def random_cases(seed: int, counts: dict[str, int]) -> list[Case]:
    """Cases of every kind: removed (ties on whole minutes, exactly 120 s, seconds,
    days), still online, closed, on hold now, held before, reappeared, removed
    "before" confirmation (a clock correction), with and without notices and
    acknowledgements."""
    rng = random.Random(seed)
    cases: list[Case] = []
    i = 0
    for country, count in counts.items():
        for _ in range(count):
            i += 1
            confirmed = NOW - timedelta(days=rng.randint(0, 40), seconds=rng.randint(0, 86399))
            kind = rng.choice(["removed", "removed", "removed", "tie", "open", "closed",
                               "hold_now", "held", "reappeared", "negative"])
            values: dict[str, Any] = {}
            age = (NOW - confirmed).total_seconds()
            after = confirmed + timedelta(seconds=rng.randint(1, max(2, int(age))))
            if kind in ("removed", "held"):
                values.update(status="removed", removed_at=after)
            elif kind == "tie":
                values.update(status="removed", removed_at=confirmed + timedelta(seconds=120))
            elif kind == "closed":
                values.update(status="closed", updated_at=after)
            elif kind == "hold_now":
                values.update(status="hold", hold_started_at=after, hold_seconds=600.0)
            elif kind == "reappeared":
                values.update(status="reappeared", reappeared_count=rng.randint(1, 2))
            elif kind == "negative":
                values.update(status="removed", removed_at=confirmed - timedelta(seconds=30))
            if kind == "held":
                values["hold_seconds"] = float(rng.randint(0, int((after - confirmed)
                                                                   .total_seconds())))
            if rng.random() < 0.85:
                notice = confirmed + timedelta(seconds=rng.randint(0, 900))
                values["first_notice_at"] = min(notice, NOW)
                if rng.random() < 0.5:
                    ack = notice + timedelta(seconds=rng.randint(0, 200_000))
                    values["acknowledged_at"] = ack if ack <= NOW else None
            if rng.random() < 0.4:
                values.update(route_kind="partner", route_hotline_id=1)
            cases.append(new_case(i, country, confirmed, **values))
    return cases


async def store(session: AsyncSession, cases: Iterable[Case]) -> None:
    session.add(Hotline(id=1, code="nl-partner", name="Partner NL", countries=["NL"],
                        is_self=False, language="nl"))
    await session.flush()
    session.add_all(list(cases))


def binned_seconds(seconds: float) -> float:
    """A duration as the statistics count it: started minutes (after rounding to the
    millisecond), then the minute that stands for its grid bin, in seconds."""
    millis = round(seconds * 1000)
    minutes = math.ceil(millis / 60000) if millis > 0 else 0
    return 60.0 * bin_minutes(grid_bin_of(minutes))


def _end(case: Case, now: datetime) -> datetime:
    if case.removed_at is not None:
        return case.removed_at
    return case.updated_at if case.status == "closed" else now


def reference_samples(cases: Iterable[Case], metric: str,
                      now: datetime = NOW) -> list[tuple[float, bool]]:
    samples = []
    for case in cases:
        removal, notice = case_times(case, now)
        if metric == "time_to_removal":
            sample: tuple[float, bool] | None = removal
        elif metric == "notice_to_removal":
            sample = notice
        elif case.first_notice_at is None:
            sample = None
        else:
            stop = case.acknowledged_at or _end(case, now)
            sample = ((stop - case.first_notice_at).total_seconds(),
                      case.acknowledged_at is not None)
        if sample is not None:
            samples.append((binned_seconds(sample[0]), sample[1]))
    return samples


def reference_summary(cases: Iterable[Case], metric: str, min_group: int) -> dict[str, Any]:
    return summarise(group_samples(reference_samples(cases, metric)),
                     unit=timedelta(seconds=1), min_cases=min_group)


BREAKDOWNS = ("country", "asn", "partner", "week", "step")


async def same_answer(engine: AsyncEngine, now: Any,
                      groups: tuple[str, ...] = BREAKDOWNS) -> None:
    """stats_for over the stored durations and the narrow copy (on read-only sessions:
    on PostgreSQL the clocks' statements side by side) equals stats_for counting every
    case at `now`, for each breakdown, unfiltered and filtered to a window and a country."""
    read_only = engine.execution_options(**{READ_ONLY: True})
    for group_by in groups:
        for query in (StatsQuery(group_by=group_by),
                      StatsQuery(group_by=group_by, country="NL",
                                 since=NOW - timedelta(days=20))):
            async with make_sessionmaker(read_only)() as session:
                fast = await stats_for(session, query, now=now, min_group=5, league=True,
                                       curves=True)
            async with make_sessionmaker(engine)() as session:
                slow = await stats_for(session, query, now=now, min_group=5, league=True,
                                       curves=True, stored=False)
            assert fast == slow, (group_by, query, now)
