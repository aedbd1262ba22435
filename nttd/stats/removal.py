"""Removal-time statistics per group: counted in the database, estimated here.

The database returns grouped steps (nttd.stats.query); this module turns them into
Kaplan-Meier estimates with confidence intervals (nttd.stats.survival), the
reappearance rate with its interval, and the league table of networks and
registrars. What each figure means is stated once, in DEFINITIONS, and goes out
with every answer.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from statistics import NormalDist
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.stats.groups import NO_STEP
from nttd.stats.query import StatsError, StatsQuery, at, step_lists
from nttd.stats.sqltime import bin_minutes, fetch_all, ints_all
from nttd.stats.survival import group_samples, summarise_many
from nttd.stats.survival import kaplan_meier as _km

METRICS = ("time_to_removal", "notice_to_removal", "time_to_acknowledgement")
_COUNTERS = {"time_to_removal": "removal", "notice_to_removal": "notice",
             "time_to_acknowledgement": "acknowledgement"}
LEAGUE_GROUPS = ("asn", "registrar")
LEAGUE_SIZE = 5
CONFIDENCE = 0.95
_SECOND = timedelta(seconds=1)

DEFINITIONS = {
    "time_to_removal": (
        "removed_at - confirmed_at - time on hold. confirmed_at is when the analyst "
        "confirmed the URL (intake time unless given); removed_at is the time of the first "
        "check of the streak of 'gone' verdicts that confirmed removal."),
    "notice_to_removal": (
        "removed_at - first_notice_at - time on hold, over the cases that had a notice: "
        "first_notice_at is when the first notice was sent, or when the case was routed to "
        "a partner hotline's inbox."),
    "time_to_acknowledgement": (
        "acknowledged_at - first_notice_at, over the cases that had a notice: "
        "acknowledged_at is the recipient's first acknowledgement, where one is recorded "
        "(a partner's 'acknowledged' report). A case not acknowledged is censored when it "
        "was removed or closed, or now. Time on hold is not subtracted. Its removed_by_* "
        "figures are the shares acknowledged by then."),
    "hold": "Time on law-enforcement hold (including a hold still running) is not counted.",
    "censoring": (
        "Cases still online are right-censored at now (closed cases at their closure) and "
        "the estimates are Kaplan-Meier: open cases are never dropped."),
    "reappearance": (
        "A case that came back online after its removal is open again: it counts as not "
        "removed (censored) until it is removed again, and 'reappeared' counts its "
        "reappearances. reappearance_rate is the share of cases ever removed that "
        "reappeared at least once (Wilson 95% interval)."),
    "rounding": (
        "Durations are counted in started minutes (rounded up to the next whole minute), "
        "then grouped on a grid of 16 bins per doubling (every duration under 22 minutes "
        "in a bin of its own; beyond, a bin spans at most 4.4% of its durations), each bin "
        "standing for its longest whole minute: estimates err towards slower by at most "
        "one bin. A negative duration (clock corrections) counts as 0. Times are reported "
        "in seconds."),
    "estimates": (
        "Kaplan-Meier survival with Greenwood variance and log-log 95% confidence band; "
        "median, p75 and p90 with intervals by inverting the band (Brookmeyer-Crowley), "
        "null where not reached (an upper limit null is infinity); removed_by_24h/72h/7d: "
        "the share removed by then, with its interval, null beyond the follow-up."),
    "min_group": (
        "A group with fewer cases than min_group shows its counts with too_few: true and no "
        "estimates."),
    "window": "since/until select cases by confirmed_at (since inclusive, until exclusive).",
    "step": (
        "group_by=step: the last letter of the chase sent while the case was online "
        "('notice', 'reminder-<n>', 'escalation-<party>'; '(none)': no letter yet, e.g. a "
        "case routed to a partner hotline). For a removed case it is the step after which "
        "the content came down; for a case still online, the last one it got."),
}


_CLOCKS = ("removal", "notice", "acknowledgement")
Parts = list[tuple[Any, Any, Any]]  # (bins, events, censored) int64 arrays, as fetched


@cache
def _minutes_of_bins(size: int) -> Any:
    """bin -> the minutes standing for it (nttd.stats.sqltime.bin_minutes), for the bins
    below `size`; 0 for a bin that holds no whole minute (never fetched)."""
    table = np.zeros(size, dtype=np.int64)
    for bin_ in range(size):
        with contextlib.suppress(ValueError):
            table[bin_] = bin_minutes(bin_)
    return table


@dataclass
class _Group:
    """What the database said about one group: per clock, its (bin, events, censored)
    arrays as fetched (a bin may come twice: from the narrow copy and from the cases
    counted at now), merged on demand (:meth:`counts`)."""

    names: Counter[str] = field(default_factory=Counter)
    parts: dict[str, Parts] = field(default_factory=lambda: {c: [] for c in _CLOCKS})
    cases: int = 0
    removed: int = 0
    reappearances: int = 0
    reappeared_cases: int = 0
    ever_removed: int = 0
    _merged: dict[str, tuple[Any, Any, Any]] = field(default_factory=dict)

    def merge(self, other: _Group) -> None:
        self.names.update(other.names)
        for clock in _CLOCKS:
            self.parts[clock].extend(other.parts[clock])
        for name in ("cases", "removed", "reappearances", "reappeared_cases", "ever_removed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self._merged.clear()

    def counts(self, clock: str) -> tuple[Any, Any, Any]:
        """(minutes, events, censored): the minutes standing for each bin, increasing,
        each once, with its counts added up (kept: :func:`_counts`)."""
        (merged,) = _counts([(self, clock)])
        return merged


def _counts(asked: Sequence[tuple[_Group, str]]) -> list[tuple[Any, Any, Any]]:
    """_Group.counts of each (group, clock), those not merged yet merged together."""
    missing = [(group, clock) for group, clock in asked if clock not in group._merged]
    for (group, clock), merged in zip(missing, _merged([group.parts[clock]
                                                        for group, clock in missing]),
                                      strict=True):
        group._merged[clock] = merged
    return [group._merged[clock] for group, clock in asked]


_DENSE_SLOTS = 1 << 20  # lists x bins up to which _merged adds up on a dense table


def _merged(all_parts: Sequence[Parts]) -> list[tuple[Any, Any, Any]]:
    """(minutes, events, censored) of each parts list's bins: each bin once, increasing,
    with its counts added up, and none that counts nothing (the rollup's sums less the
    copies counted at now may come to 0). All the lists are merged at once, on a key of
    (list, bin): a breakdown has thousands, each of a few hundred bins. Bins are few
    (under 400 for years), so the counts are added up on a table of every (list, bin)
    when it is small enough (bincount: no sort), else sorted by key."""
    pieces = [part for parts in all_parts for part in parts]
    lists = len(all_parts)
    if not pieces:
        empty = np.zeros(0, dtype=np.int64)
        return [(empty, empty, empty)] * lists
    owner = np.repeat(np.arange(lists, dtype=np.int64), [len(parts) for parts in all_parts])
    sizes = np.fromiter((part[0].size for part in pieces), dtype=np.int64, count=len(pieces))
    bins, events, censored = (np.concatenate([part[i] for part in pieces]) for i in range(3))
    width = int(bins.max()) + 1 if bins.size else 1
    key = np.repeat(owner, sizes) * width + bins
    if lists * width <= _DENSE_SLOTS:
        # Counts are integers far below 2**53: added up as floats, they are exact.
        slots = lists * width
        events = np.bincount(key, weights=events, minlength=slots).astype(np.int64)
        censored = np.bincount(key, weights=censored, minlength=slots).astype(np.int64)
        key = np.flatnonzero((events != 0) | (censored != 0))
        events, censored = events[key], censored[key]
    else:
        if key.size > 1 and not (key[1:] > key[:-1]).all():
            order = np.argsort(key, kind="stable")  # runs already sorted: near linear
            key, events, censored = key[order], events[order], censored[order]
            starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
            if starts.size < key.size:
                key = key[starts]
                events = np.add.reduceat(events, starts)
                censored = np.add.reduceat(censored, starts)
        held = (events != 0) | (censored != 0)
        if not held.all():
            key, events, censored = key[held], events[held], censored[held]
    owners, bins = np.divmod(key, width)
    minutes = _minutes_of_bins(width)[bins]
    bounds = np.searchsorted(owners, np.arange(lists + 1)).tolist()
    return [(minutes[i:j], events[i:j], censored[i:j]) for i, j in itertools.pairwise(bounds)]


def _steps(group: _Group, clock: str) -> list[tuple[float, int, int]]:
    """A clock's counts per minute standing for a bin as survival steps in seconds."""
    minutes, events, censored = group.counts(clock)
    return [(60.0 * int(m), int(e), int(c)) for m, e, c in zip(minutes, events, censored,
                                                               strict=True)]


def wilson(successes: int, trials: int, confidence: float = CONFIDENCE) -> dict[str, float]:
    """A proportion with its Wilson score interval."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (
        1 + z * z / trials)
    return {"estimate": p, "lower": max(0.0, centre - half), "upper": min(1.0, centre + half)}


def _estimate(summary: dict[str, Any], name: str) -> float | None:
    part = summary.get(name)
    return None if part is None else part["estimate"]


def _curve(group: _Group) -> dict[str, Any]:
    """The time-to-removal curve: its steps ``[time, survival, lower, upper]`` (seconds)
    and the longest duration observed (beyond it the curve is unknown)."""
    km = _km(_steps(group, "removal"), confidence=CONFIDENCE)
    return {"last_time": km.last_time,
            "points": [[s.time, s.survival, s.lower, s.upper] for s in km.steps]}


_SUMMARIES: dict[tuple[bytes, bytes, bytes, int], dict[str, Any]] = {}
_SUMMARIES_MAX = 20_000  # about 20 MB


def forget_estimates() -> None:
    """Forget the remembered estimates (:func:`_summary`): for a benchmark's cold runs."""
    _SUMMARIES.clear()


def _summaries(counts: Sequence[tuple[Any, Any, Any]], min_group: int
               ) -> list[dict[str, Any]]:
    """The summary of each (minutes, events, censored): remembered by those counts (a
    dashboard asked again finds most of its groups' counts unchanged: the rollup moves
    only where cases did), the others estimated together (summarise_many: one call for
    a breakdown's groups costs a fraction of one per group). Shared: read, never changed."""
    keys = [(m.tobytes(), e.tobytes(), c.tobytes(), min_group) for m, e, c in counts]
    found = [_SUMMARIES.get(key) for key in keys]
    missing = [i for i, summary in enumerate(found) if summary is None]
    if missing:
        made = summarise_many([(counts[i][0] * 60.0, counts[i][1], counts[i][2])
                               for i in missing],
                              unit=_SECOND, min_cases=min_group, confidence=CONFIDENCE)
        if len(_SUMMARIES) + len(made) > _SUMMARIES_MAX:
            _SUMMARIES.clear()
        for i, summary in zip(missing, made, strict=True):
            _SUMMARIES[keys[i]] = found[i] = summary
    return found  # type: ignore[return-value]  # every None was filled


def _row(key: Any, name: str | None, group: _Group, min_group: int,
         summaries: Sequence[dict[str, Any]], curve: bool = False) -> dict[str, Any]:
    """A group's row, from the summaries of its METRICS' counts (_summaries)."""
    metrics = dict(zip(METRICS, summaries, strict=True))
    too_few = group.cases < min_group
    removal = metrics["time_to_removal"]
    extra = {"curve": None if too_few else _curve(group)} if curve else {}
    return {
        "group": key,
        "name": name,
        "cases": group.cases,
        "removed": group.removed,
        "open": group.cases - group.removed,
        "too_few": too_few,
        "reappeared": group.reappearances,
        "reappeared_cases": group.reappeared_cases,
        "reappearance_rate": (None if too_few or not group.ever_removed
                              else wilson(group.reappeared_cases, group.ever_removed)),
        "median_time_to_removal_seconds": _estimate(removal, "median"),
        "p90_time_to_removal_seconds": _estimate(removal, "p90"),
        "median_notice_to_removal_seconds": _estimate(metrics["notice_to_removal"], "median"),
        **metrics,
        **extra,
    }


def _rows_of(labelled: Sequence[tuple[Any, str | None, _Group]], min_group: int,
             curves: bool = False) -> list[dict[str, Any]]:
    """The rows of (key, name, group)s, their estimates made together."""
    counts = _counts([(group, _COUNTERS[metric]) for _, _, group in labelled
                      for metric in METRICS])
    summaries = _summaries(counts, min_group)
    size = len(METRICS)
    return [_row(key, name, group, min_group, summaries[size * i:size * (i + 1)], curves)
            for i, (key, name, group) in enumerate(labelled)]


def _label(group_by: str, key: Any) -> Any:
    if group_by == "asn" and key is not None:
        return f"AS{key}"
    return key


async def _collect(session: AsyncSession, query: StatsQuery, now: datetime,
                   metrics: Sequence[str] = METRICS, *, stored: bool = True
                   ) -> dict[Any, _Group]:
    (groups,) = await _collect_all(session, [(query, metrics)], now, stored=stored)
    return groups


async def _collect_all(session: AsyncSession,
                       queries: Sequence[tuple[StatsQuery, Sequence[str]]], now: datetime,
                       *, stored: bool = True) -> list[dict[Any, _Group]]:
    """The groups of each (query, metrics): its clocks' statements are run together
    (nttd.stats.sqltime.fetch_all), then their rows counted here."""
    statements: list[Any] = []
    plan: list[tuple[int, str]] = []
    for i, (query, metrics) in enumerate(queries):
        for metric in METRICS:
            if metric in metrics or metric == "time_to_removal":
                statements.append(step_lists(_COUNTERS[metric], query, stored=stored))
                plan.append((i, _COUNTERS[metric]))
    found = await fetch_all(session, statements, at(now))
    everything: list[dict[Any, _Group]] = [{} for _ in queries]
    # One row per (group, name): the group's bins and counts as arrays (int_list).
    for (i, counter), rows in zip(plan, found, strict=True):
        groups = everything[i]
        arrays, totals = ints_all([text for row in rows for text in row[2:5]])
        counted = totals.tolist()
        for j, (key, name, _, _, _, *sums) in enumerate(rows):
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group()
            group.parts[counter].append((arrays[3 * j], arrays[3 * j + 1], arrays[3 * j + 2]))
            if counter != "removal":
                continue
            removed = counted[3 * j + 1]
            total = removed + counted[3 * j + 2]
            if name is not None:
                group.names[name] += total
            group.cases += total
            group.removed += removed
            reappeared, ever, reappearances = sums
            group.reappeared_cases += int(reappeared)
            group.ever_removed += int(ever)
            group.reappearances += int(reappearances)
    # The rollup's sums less the copies counted at now: a group (a network's name) may
    # come to no case at all.
    for groups in everything:
        for key in [key for key, group in groups.items() if group.cases <= 0]:
            del groups[key]
        for group in groups.values():
            group.names = +group.names
    return everything


def step_order(step: Any) -> tuple[int, int, str]:
    """Chase steps in the order the letters go out: none, the notice, reminders by
    number, escalations, anything else last (by name)."""
    text = str(step)
    if text == NO_STEP:
        return (0, 0, "")
    if text == "notice":
        return (1, 0, "")
    if text.startswith("reminder-") and text[9:].isdigit():
        return (2, int(text[9:]), "")
    if text.startswith("escalation-"):
        return (3, 0, text)
    return (4, 0, text)


def _ordered(groups: dict[Any, _Group], group_by: str = "") -> list[Any]:
    if group_by == "step":
        return sorted(groups, key=step_order)
    return sorted(groups, key=lambda k: (k is None, k if isinstance(k, int) else str(k or "")))


def _rows(group_by: str, groups: dict[Any, _Group], min_group: int,
          curves: bool = False) -> list[dict[str, Any]]:
    labelled = []
    for key in _ordered(groups, group_by):
        group = groups[key]
        name = group.names.most_common(1)[0][0] if group.names else None
        labelled.append((_label(group_by, key), name, group))
    return _rows_of(labelled, min_group, curves)


def league_of(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The slowest and the fastest groups by median time to removal (a median not
    reached is the slowest); groups below the minimum are left out."""
    ranked = [r for r in rows if not r["too_few"] and r["group"] is not None]

    def speed(row: dict[str, Any]) -> tuple[float, float, str]:
        median = row["time_to_removal"]["median"]
        value = median["estimate"] if median["estimate"] is not None else math.inf
        upper = median["upper"] if median["upper"] is not None else math.inf
        return (value, upper, str(row["group"]))

    def entry(row: dict[str, Any]) -> dict[str, Any]:
        removal = row["time_to_removal"]
        return {"group": row["group"], "name": row["name"], "cases": row["cases"],
                "removed": row["removed"], "median": removal["median"],
                "p90": removal["p90"], "removed_by_7d": removal["removed_by_7d"]}

    ordered = sorted(ranked, key=speed)
    return {"fastest": [entry(r) for r in ordered[:LEAGUE_SIZE]],
            "slowest": [entry(r) for r in reversed(ordered[-LEAGUE_SIZE:])]}


async def removal_stats(
    session: AsyncSession, *, group_by: str = "country", now: datetime,
    since: datetime | None = None, until: datetime | None = None,
    country: str | None = None, partner: str | None = None, route: str | None = None,
    classification: str | None = None, min_group: int = 10, league: bool = False,
    metrics: Sequence[str] = METRICS,
) -> dict[str, Any]:
    """Statistics of the routed cases confirmed in [since, until) matching the filters,
    per group (StatsError for a bad query). With `league`, also the slowest and fastest
    networks and registrars under the same window and filters."""
    query = StatsQuery(group_by=group_by, since=since, until=until, country=country,
                       partner=partner, route=route, classification=classification)
    return await stats_for(session, query, now=now, min_group=min_group, league=league,
                           metrics=metrics)


def parse_metrics(text: str | None) -> tuple[str, ...]:
    """A comma list of metrics (empty or None: all); StatsError naming the allowed."""
    if not text:
        return METRICS
    chosen = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in chosen if m not in METRICS]
    if unknown or not chosen:
        raise StatsError(f"'metrics' must be a comma list of {', '.join(METRICS)}")
    return tuple(m for m in METRICS if m in chosen)


async def stats_for(session: AsyncSession, query: StatsQuery, *, now: datetime,
                    min_group: int = 10, league: bool = False,
                    metrics: Sequence[str] = METRICS, curves: bool = False,
                    stored: bool = True) -> dict[str, Any]:
    """The statistics of `query` (see removal_stats). Only the `metrics` named are
    estimated (time to removal always is); the others come out with n = 0. With
    `curves`, each group (and overall) also has `curve`: the time-to-removal
    Kaplan-Meier steps with their band (None for a group below the minimum).
    `stored=False` counts every clock at `now`, ignoring the stored durations
    (nttd.stats.stored): the same answer, slower (for the tests that say so)."""
    if min_group < 1:
        raise ValueError(f"min_group must be at least 1, not {min_group}")
    others = [name for name in LEAGUE_GROUPS if name != query.group_by] if league else []
    groups, *league_groups = await _collect_all(
        session, [(query, metrics), *((query.regrouped(name), ("time_to_removal",))
                                      for name in others)], now, stored=stored)
    overall = _Group()
    for group in groups.values():
        overall.merge(group)
    overall.names.clear()
    result: dict[str, Any] = {
        "group_by": query.group_by,
        "since": query.since.isoformat() if query.since else None,
        "until": query.until.isoformat() if query.until else None,
        "filters": query.filters(),
        "generated_at": now.isoformat(),
        "estimator": "kaplan-meier (open cases right-censored)",
        "unit": "seconds",
        "confidence": CONFIDENCE,
        "min_group": min_group,
        "metrics": [m for m in METRICS if m in metrics or m == "time_to_removal"],
        "definitions": DEFINITIONS,
        "overall": _rows_of([(None, None, overall)], min_group, curves)[0],
        "groups": _rows(query.group_by, groups, min_group, curves),
    }
    if league:
        found = dict(zip(others, league_groups, strict=True))
        result["league"] = {
            # The groups above are those of the table when it is by the same.
            name: league_of(result["groups"] if name == query.group_by
                            else _rows(name, found[name], min_group))
            for name in LEAGUE_GROUPS}
    return result


# The first estimator's API, kept for callers of nttd.stats (now on survival.py).

def kaplan_meier(samples: Iterable[tuple[float, bool]]) -> list[tuple[float, float]]:
    """Survival curve S(t) as (time, survival) steps from (duration, observed) pairs."""
    return [(s.time, s.survival) for s in _km(group_samples(samples)).steps]


def km_quantile(samples: Sequence[tuple[float, bool]], q: float = 0.5) -> float | None:
    """The time by which a fraction q was removed (None if never reached)."""
    return _km(group_samples(samples)).quantile(q).value
