"""Removal-time statistics.

Time to removal = removed_at - confirmed_at - time on hold; notice to removal =
removed_at - first_notice_at - time on hold. Cases still online are
right-censored at "now" (or at closure), and medians are Kaplan-Meier estimates:
dropping the open cases would make slow networks look fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import CaseFacts, case_times
from nttd.models import Case, Hotline

GROUPS = ("country", "asn", "partner", "registrar", "cdn")


class StatsError(ValueError):
    """Bad statistics query."""


def kaplan_meier(samples: Iterable[tuple[float, bool]]) -> list[tuple[float, float]]:
    """Survival curve S(t) as (time, survival) steps from (duration, observed) pairs.

    At tied times events are counted before censorings (the usual convention).
    """
    ordered = sorted(samples, key=lambda s: (s[0], not s[1]))
    at_risk = len(ordered)
    survival = 1.0
    curve: list[tuple[float, float]] = []
    i = 0
    while i < len(ordered):
        t = ordered[i][0]
        events = censored = 0
        while i < len(ordered) and ordered[i][0] == t:
            if ordered[i][1]:
                events += 1
            else:
                censored += 1
            i += 1
        if events:
            survival *= 1 - events / at_risk
            curve.append((t, survival))
        at_risk -= events + censored
    return curve


def km_quantile(samples: Sequence[tuple[float, bool]], q: float = 0.5) -> float | None:
    """The time by which a fraction q was removed (None if never reached)."""
    for t, survival in kaplan_meier(samples):
        if survival <= 1 - q + 1e-12:
            return t
    return None


def _group_key(case: Case, group_by: str, partners: dict[int, str]) -> str | None:
    if group_by == "country":
        return case.country
    if group_by == "asn":
        return f"AS{case.asn}" if case.asn is not None else None
    if group_by == "partner":
        if case.route_kind != "partner" or case.route_hotline_id is None:
            return "(direct)"
        return partners.get(case.route_hotline_id)
    facts = CaseFacts.from_json(case.facts)
    if group_by == "registrar":
        return facts.registrar.name if facts.registrar is not None else None
    return (facts.cdn.name if facts.cdn is not None else None) or "(none)"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def removal_stats(
    session: AsyncSession, *, group_by: str, now: datetime,
    since: datetime | None = None, until: datetime | None = None,
) -> dict[str, Any]:
    if group_by not in GROUPS:
        raise StatsError(f"group_by must be one of {', '.join(GROUPS)}")
    query = select(Case).where(Case.route_kind.is_not(None))
    if since is not None:
        query = query.where(Case.confirmed_at >= since)
    if until is not None:
        query = query.where(Case.confirmed_at < until)
    partners = {h.id: h.code for h in await session.scalars(select(Hotline))}
    grouped: dict[str | None, list[Case]] = {}
    for case in await session.scalars(query):
        grouped.setdefault(_group_key(case, group_by, partners), []).append(case)
    rows = []
    for key in sorted(grouped, key=lambda k: (k is None, k or "")):
        cases = grouped[key]
        times = [case_times(c, now) for c in cases]
        to_removal = [t for t, _ in times]
        notice = [n for _, n in times if n is not None]
        removed = sum(1 for _, observed in to_removal if observed)
        rows.append({
            "group": key,
            "cases": len(cases),
            "removed": removed,
            "open": len(cases) - removed,
            "reappeared": sum(c.reappeared_count for c in cases),
            "median_time_to_removal_seconds": _round(km_quantile(to_removal)),
            "p90_time_to_removal_seconds": _round(km_quantile(to_removal, 0.9)),
            "median_notice_to_removal_seconds": _round(km_quantile(notice)),
        })
    return {
        "group_by": group_by,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "generated_at": now.isoformat(),
        "estimator": "kaplan-meier (open cases right-censored)",
        "groups": rows,
    }
