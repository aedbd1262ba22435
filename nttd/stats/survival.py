"""Kaplan-Meier survival of reported URLs, with Greenwood variance and confidence intervals.

The estimator is written out on the standard library (:func:`kaplan_meier`,
:func:`summarise`: the reference the tests prove); :func:`summarise_counts` computes the
same summary over numpy arrays, for the many groups of a breakdown.

A case still online is right-censored at its current age. The input
is grouped steps ``(duration, events, censored)`` as the database aggregates them (durations
in the caller's unit, rounded first: near-unique float durations make as many steps as
cases); :func:`group_samples` turns plain ``(duration, observed)`` samples into such steps.

Definitions (``z`` is the normal quantile for the confidence level, 1.96 for 95%):

* At each distinct event time ``t``: ``n`` cases at risk (durations >= t), ``d`` events.
  At a tie, events come before censorings: a case censored at ``t`` is at risk at ``t``.
* ``S(t) = prod (n - d) / n`` over event times <= t; ``S = 1`` before the first event.
* Greenwood: ``v(t) = sum d / (n (n - d))`` and ``Var S(t) = S(t)**2 * v(t)``.
* Band, by the log-log transform (the one of ``scipy.stats.ecdf(...).sf.confidence_interval(
  method='log-log')``): ``se = sqrt(v) / |ln S|``, ``lower = S ** exp(z se)``,
  ``upper = S ** exp(-z se)``. It stays inside [0, 1] without clipping.
  Where ``S = 0`` (every case at risk removed, ``n = d``) the transform is undefined (scipy
  returns NaN for both limits): the band there is ``[0, upper at the previous event time]``
  (1 if none), so that a last lone removal does not look certain, and the variance is NaN.
* Quantile ``p`` (the time by which a fraction p was removed): the first event time with
  ``S <= 1 - p``. Its interval inverts the band (Brookmeyer-Crowley): the times at which
  ``1 - p`` lies inside the band. Its lower limit is the first event time at which the LOWER
  band is ``<= 1 - p``, its upper limit the first event time at which the UPPER band is
  ``<= 1 - p``. A limit never reached is None (the quantile itself: "not reached within the
  follow-up"; the upper limit: infinity). The lower band drops first, so lower <= quantile
  <= upper always holds (the reverse assignment would exclude the estimate itself, and
  would not give the textbook [1, inf) in the tests). Comparisons with ``1 - p`` allow
  ``1e-12`` for rounding: 12 of 24 removed gives S = 0.5000000000000001, and 1 - 0.9 is
  0.09999999999999998.
* Share removed by ``t``: ``1 - S(t)`` with limits ``1 - upper(t)`` and ``1 - lower(t)``.
  Beyond the longest observed duration the curve is unknown unless it already reached 0,
  so a later ``t`` gives None.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache, cached_property
from statistics import NormalDist
from typing import Any, NamedTuple

import numpy as np

_TOLERANCE = 1e-12  # rounding allowance when comparing S or a band with 1 - p
QUANTILES = {"median": 0.5, "p75": 0.75, "p90": 0.9}
HORIZONS = {"24h": timedelta(hours=24), "72h": timedelta(hours=72), "7d": timedelta(days=7)}


class Step(NamedTuple):
    """The curve at one event time; it holds until the next event time. (A named
    tuple: a curve over a million cases has thousands, made quickly.)"""

    time: float
    at_risk: int
    events: int
    survival: float
    variance: float  # Greenwood; NaN where survival is 0
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with its confidence limits; None: not reached / unknown / infinity."""

    value: float | None
    lower: float | None
    upper: float | None

    def as_dict(self) -> dict[str, float | None]:
        return {"estimate": self.value, "lower": self.lower, "upper": self.upper}


@dataclass(frozen=True)
class Survival:
    """A Kaplan-Meier curve: one :class:`Step` per event time, in time order."""

    steps: tuple[Step, ...]
    n: int
    events: int
    censored: int
    last_time: float | None  # the longest duration observed (event or censored)
    confidence: float

    @cached_property
    def _times(self) -> list[float]:
        return [step.time for step in self.steps]

    def at(self, t: float) -> tuple[float, float, float] | None:
        """``(S, lower, upper)`` at time ``t``; None beyond the follow-up (see module doc)."""
        reached_zero = bool(self.steps) and self.steps[-1].survival == 0.0
        if (self.last_time is None or t > self.last_time) and not reached_zero:
            return None
        i = bisect.bisect_right(self._times, t)
        if i == 0:
            return (1.0, 1.0, 1.0)
        step = self.steps[i - 1]
        return (step.survival, step.lower, step.upper)

    def quantile(self, p: float) -> Estimate:
        """The time by which a fraction ``p`` was removed, with its interval (module doc)."""
        if not 0.0 < p < 1.0:
            raise ValueError(f"quantile p must be between 0 and 1 (exclusive), not {p}")
        level = 1.0 - p + _TOLERANCE
        value = lower = upper = None
        for step in self.steps:
            if lower is None and step.lower <= level:
                lower = step.time
            if value is None and step.survival <= level:
                value = step.time
            if step.upper <= level:
                upper = step.time
                break
        return Estimate(value, lower, upper)

    def share_removed_by(self, t: float) -> Estimate:
        """``1 - S(t)`` with its interval; all None beyond the follow-up."""
        point = self.at(t)
        if point is None:
            return Estimate(None, None, None)
        survival, lower, upper = point
        return Estimate(1.0 - survival, 1.0 - upper, 1.0 - lower)


def group_samples(samples: Iterable[tuple[float, bool]]) -> list[tuple[float, int, int]]:
    """``(duration, observed)`` samples as ``(duration, events, censored)`` steps."""
    counts = Counter(samples)
    grouped: dict[float, list[int]] = {}
    for (duration, observed), count in counts.items():
        pair = grouped.setdefault(duration, [0, 0])
        pair[0 if observed else 1] += count
    return [(duration, e, c) for duration, (e, c) in grouped.items()]


@cache
def _normal_quantile(p: float) -> float:
    return NormalDist().inv_cdf(p)


def kaplan_meier(
    steps: Iterable[tuple[float, int, int]], *, confidence: float = 0.95
) -> Survival:
    """The Kaplan-Meier estimate from ``(duration, events, censored)`` steps.

    Steps may come in any order and may repeat a duration (they are merged). Raises
    ValueError for a negative or non-finite duration or a negative count.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), not {confidence}")
    merged: dict[float, list[int]] = {}
    isfinite = math.isfinite
    total_events = total_censored = 0
    for duration, events, censored in steps:
        if not (isfinite(duration) and duration >= 0):
            raise ValueError(f"a duration must be finite and >= 0, not {duration!r}")
        if events < 0 or censored < 0:
            raise ValueError(f"counts must be >= 0, not {events} events, {censored} censored")
        key = float(duration)
        pair = merged.get(key)
        if pair is None:
            merged[key] = [events, censored]
        else:
            pair[0] += events
            pair[1] += censored
        total_events += events
        total_censored += censored
    at_risk = total_events + total_censored
    z = _normal_quantile(0.5 + confidence / 2.0)
    survival, greenwood, upper = 1.0, 0.0, 1.0
    curve: list[Step] = []
    # The loop runs once per distinct duration of every group and clock (hundreds of
    # thousands at a million cases): names bound locally, steps made as plain tuples.
    exp, sqrt, log, nan, make = math.exp, math.sqrt, math.log, math.nan, tuple.__new__
    for time in sorted(merged):
        events, censored = merged[time]
        if events:
            survival *= (at_risk - events) / at_risk
            if events < at_risk:
                greenwood += events / (at_risk * (at_risk - events))
                scale = exp(z * sqrt(greenwood) / -log(survival))
                lower, upper = survival**scale, survival ** (1.0 / scale)
                variance = survival * survival * greenwood
            else:  # every case at risk removed: S = 0, log-log undefined (module doc)
                survival, lower, variance = 0.0, 0.0, nan
            curve.append(make(Step, (time, at_risk, events, survival, variance, lower, upper)))
        at_risk -= events + censored
    return Survival(
        steps=tuple(curve),
        n=total_events + total_censored,
        events=total_events,
        censored=total_censored,
        last_time=max(merged) if merged else None,
        confidence=confidence,
    )


def summarise(
    steps: Iterable[tuple[float, int, int]],
    *,
    unit: timedelta,
    min_cases: int = 10,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """A JSON-ready summary (no inf or NaN: None) of removal times given as steps.

    ``unit`` is the length of the caller's time unit (``timedelta(minutes=1)`` for durations
    in minutes); quantiles are reported in that unit. With fewer than ``min_cases`` cases,
    ``too_few`` is true and every estimate is None rather than noise.
    """
    if unit <= timedelta(0):
        raise ValueError(f"unit must be a positive duration, not {unit}")
    curve = kaplan_meier(steps, confidence=confidence)
    too_few = curve.n < min_cases
    summary: dict[str, Any] = {
        "n": curve.n,
        "events": curve.events,
        "censored": curve.censored,
        "too_few": too_few,
        "min_cases": min_cases,
        "confidence": confidence,
    }
    for name, p in QUANTILES.items():
        summary[name] = None if too_few else curve.quantile(p).as_dict()
    for name, horizon in HORIZONS.items():
        share = curve.share_removed_by(horizon / unit)
        summary[f"removed_by_{name}"] = None if too_few else share.as_dict()
    return summary


def summarise_counts(
    counts: Mapping[float, Sequence[int]],
    *,
    scale: float,
    unit: timedelta,
    min_cases: int = 10,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """:func:`summarise` of ``{duration: (events, censored)}`` counts (each duration once,
    times ``scale`` in the caller's unit), computed with numpy: the same estimator,
    definitions and output, over arrays. The statistics make one per group and clock,
    1,500 of them for 500 networks, where the step-by-step loop of :func:`kaplan_meier`
    costs most of a request. Equal to :func:`summarise` within float rounding
    (tests/stats/test_survival_arrays.py)."""
    durations = sorted(counts)
    size = len(durations)
    times = np.fromiter(durations, dtype=np.float64, count=size) * scale
    pairs = np.fromiter((x for d in durations for x in counts[d]), dtype=np.int64,
                        count=2 * size).reshape(size, 2) if size else np.zeros((0, 2), np.int64)
    return summarise_arrays(times, pairs[:, 0], pairs[:, 1], unit=unit, min_cases=min_cases,
                            confidence=confidence)


def summarise_arrays(
    times: Any, events: Any, censored: Any, *, unit: timedelta, min_cases: int = 10,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """:func:`summarise_counts` of numpy arrays: distinct durations in increasing order
    (in the caller's unit) and their int64 counts of events and censored cases."""
    (summary,) = summarise_many([(times, events, censored)], unit=unit, min_cases=min_cases,
                                confidence=confidence)
    return summary


def summarise_many(
    groups: Sequence[tuple[Any, Any, Any]], *, unit: timedelta, min_cases: int = 10,
    confidence: float = 0.95,
) -> list[dict[str, Any]]:
    """:func:`summarise_arrays` of each group's ``(times, events, censored)``, computed
    together: a breakdown's groups are many and small (1,500 for 500 networks and three
    clocks), and numpy's cost per call, not per element, was most of a request.

    The groups' arrays are laid end to end. What is element-wise (ratios, Greenwood's
    terms, the band) runs once over all of them; the running products and sums run
    group by group, each over its own slice, so that every float is the one the group
    alone gives (a product over everything divided by the product before a group would
    not be); the first event time a curve or a band crosses a level is found for all
    groups at once (``minimum.reduceat`` over the indexes where it holds). Equal to the
    standard-library :func:`summarise`, field for field (tests/stats/test_survival_arrays.py).
    """
    if unit <= timedelta(0):
        raise ValueError(f"unit must be a positive duration, not {unit}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), not {confidence}")
    count = len(groups)
    if not count:
        return []
    sizes = np.fromiter((len(g[0]) for g in groups), dtype=np.int64, count=count)
    times = np.concatenate([np.asarray(g[0], dtype=np.float64) for g in groups])
    events = np.concatenate([np.asarray(g[1], dtype=np.int64) for g in groups])
    censored = np.concatenate([np.asarray(g[2], dtype=np.int64) for g in groups])
    if times.size and (min(events.min(), censored.min()) < 0 or not np.isfinite(times).all()
                       or times.min() < 0):
        raise ValueError("durations must be finite and >= 0, counts >= 0")
    ends = np.cumsum(sizes)
    starts = ends - sizes
    leaving = events + censored
    running = np.concatenate(([0], np.cumsum(leaving)))  # integers: exact in any order
    running_events = np.concatenate(([0], np.cumsum(events)))
    total_events = running_events[ends] - running_events[starts]
    n = running[ends] - running[starts]
    group_of = np.repeat(np.arange(count), sizes)
    # At risk at each duration: the group's cases not yet removed or censored before it.
    at_risk = n[group_of] - (running[:-1] - running[starts][group_of])
    hit = events > 0
    t, d, r = times[hit], events[hit], at_risk[hit]
    hit_sizes = np.bincount(group_of[hit], minlength=count)
    hit_ends = np.cumsum(hit_sizes)
    hit_starts = hit_ends - hit_sizes
    live = d < r
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (r - d) / r
        terms = np.where(live, d / (r * (r - d)), 0.0)
        survival, greenwood = np.empty_like(ratio), np.empty_like(terms)
        for a, b in zip(hit_starts.tolist(), hit_ends.tolist(), strict=True):
            if a < b:
                np.cumprod(ratio[a:b], out=survival[a:b])
                np.cumsum(terms[a:b], out=greenwood[a:b])
        z = _normal_quantile(0.5 + confidence / 2.0)
        factor = np.exp(z * np.sqrt(greenwood) / -np.log(survival))
        lower = survival ** factor
        upper = survival ** (1.0 / factor)
    has_hits = hit_sizes > 0
    last = hit_ends[has_hits] - 1
    last_zero = np.zeros(count, dtype=bool)
    last_zero[has_hits] = d[last] == r[last]  # every case at risk removed
    # S = 0: the band is [0, the upper limit at the previous event time] (module doc).
    zero = hit_ends[last_zero] - 1
    survival[zero] = lower[zero] = 0.0
    upper[zero] = np.where(hit_sizes[last_zero] > 1, upper[np.maximum(zero - 1, 0)], 1.0)
    # The time of the first event at which a curve or a band is <= 1 - p, per group
    # (NaN: never; t_or_nan[never] is NaN).
    firsts = hit_starts[has_hits]
    position = np.arange(t.size)
    never = t.size
    t_or_nan = np.append(t, math.nan)
    crossings: dict[tuple[str, str], list[float]] = {}
    for name, p in QUANTILES.items():
        level = 1.0 - p + _TOLERANCE
        for band, values in (("estimate", survival), ("lower", lower), ("upper", upper)):
            first = np.full(count, never)
            if firsts.size:
                first[has_hits] = np.minimum.reduceat(
                    np.where(values <= level, position, never), firsts)
            crossings[name, band] = t_or_nan[first].tolist()
    # Per horizon: whether it lies beyond a group's follow-up (the longest duration
    # observed) while its curve did not reach 0, and the group's event times by then.
    last_time = times[np.maximum(ends - 1, 0)] if times.size else np.zeros(count)
    units = unit.total_seconds()
    passed = {}
    for name, horizon in HORIZONS.items():
        at = horizon.total_seconds() / units
        beyond = ((sizes == 0) | (at > last_time)) & ~last_zero
        by_then = np.zeros(count, dtype=np.int64)
        if firsts.size:
            by_then[has_hits] = np.add.reduceat((t <= at).astype(np.int64), firsts)
        passed[f"removed_by_{name}"] = (beyond.tolist(), by_then.tolist())
    summaries = []
    for g, (cases, removed, a) in enumerate(zip(n.tolist(), total_events.tolist(),
                                                 hit_starts.tolist(), strict=True)):
        too_few = cases < min_cases
        summary: dict[str, Any] = {
            "n": cases, "events": removed, "censored": cases - removed, "too_few": too_few,
            "min_cases": min_cases, "confidence": confidence,
        }
        summaries.append(summary)
        if too_few:
            for name in QUANTILES:
                summary[name] = None
            for name in passed:
                summary[name] = None
            continue
        for name in QUANTILES:
            found = {band: crossings[name, band][g] for band in ("estimate", "lower", "upper")}
            summary[name] = {band: None if value != value else value  # NaN: never
                             for band, value in found.items()}
        for name, (beyond_of, by_then_of) in passed.items():
            if beyond_of[g]:
                summary[name] = {"estimate": None, "lower": None, "upper": None}
                continue
            i = by_then_of[g]
            s, lo, up = (1.0, 1.0, 1.0) if i == 0 else _band(survival, greenwood, a, a + i - 1,
                                                              z)
            summary[name] = {"estimate": 1.0 - s, "lower": 1.0 - up, "upper": 1.0 - lo}
    return summaries


def _band(survival: Any, greenwood: Any, first: int, i: int, z: float
          ) -> tuple[float, float, float]:
    """(S, lower, upper) at event i of the group whose first event is `first`, the band
    worked out with the math module as :func:`kaplan_meier` does (numpy's exp and power
    may differ in the last bit)."""
    s = float(survival[i])
    if s == 0.0:  # every case at risk removed: [0, the upper limit before]
        return 0.0, 0.0, (_band(survival, greenwood, first, i - 1, z)[2] if i > first
                          else 1.0)
    scale = math.exp(z * math.sqrt(float(greenwood[i])) / -math.log(s))
    return s, s**scale, s ** (1.0 / scale)
