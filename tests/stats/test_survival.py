"""nttd.survival: a hand-computed example, a cross-check against scipy, and properties."""

from __future__ import annotations

import itertools
import json
import math
import random
import warnings
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from nttd.stats.survival import Survival, group_samples, kaplan_meier, summarise

# No example database in the working tree; the data sets are small, so no deadline either.
PROPERTIES = settings(database=None, deadline=None, max_examples=200)

Samples = list[tuple[float, bool]]

REFERENCE_TIMES = [1, 2, 2, 3, 4, 4, 5, 6, 8, 10]
REFERENCE_EVENTS = [1, 1, 0, 1, 1, 0, 1, 0, 1, 0]
REFERENCE: Samples = [
    (float(t), bool(e)) for t, e in zip(REFERENCE_TIMES, REFERENCE_EVENTS, strict=True)]


def curve_of(samples: Samples) -> Survival:
    return kaplan_meier(group_samples(samples))


def rows(curve: Survival) -> list[tuple[float | None, ...]]:
    """The steps as comparable tuples (NaN, the variance where S = 0, as None)."""
    return [
        tuple(None if isinstance(v, float) and math.isnan(v) else v for v in (
            s.time, s.at_risk, s.events, s.survival, s.variance, s.lower, s.upper))
        for s in curve.steps
    ]


# --- the hand-computed reference example ---------------------------------------------------
#
# z = 1.959964 (97.5% normal quantile). Step by step, n = at risk (durations >= t; at a tie
# the censored case still counts), d = events:
#   t=1: n=10 d=1  S = 9/10            = .900
#   t=2: n=9  d=1  S = .900 * 8/9      = .800  (the case censored at 2 is at risk at 2)
#   t=3: n=7  d=1  S = .800 * 6/7      = .686
#   t=4: n=6  d=1  S = .686 * 5/6      = .571
#   t=5: n=4  d=1  S = .571 * 3/4      = .429
#   t=8: n=2  d=1  S = .429 * 1/2      = .214
# Greenwood sum at t=2: v = 1/(10*9) + 1/(9*8) = .011111 + .013889 = .025000,
# Var S(2) = .8**2 * .025 = .016. Log-log band: se = sqrt(v) / |ln S| = .158114 / .223144
# = .708575; z*se = 1.388781; k = exp(1.388781) = 4.009959;
# lower = S**k = .8**4.009959 = .409, upper = S**(1/k) = .8**0.249379 = .946.
# (At t=1: v = 1/90, se = .105409 / .105361 = 1.000461, k = exp(1.960868) = 7.1059,
# .9**7.1059 = .473, .9**(1/7.1059) = .985.)
# Median: the first S <= .5 is at t=5. Its interval: the lower band first drops to <= .5 at
# t=1 (.473); the upper band never does (.579 at t=8, the last event time), so [1, inf).


def test_reference_example_by_hand() -> None:
    curve = curve_of(REFERENCE)
    expected = [
        (1.0, 0.900, 0.473, 0.985),
        (2.0, 0.800, 0.409, 0.946),
        (3.0, 0.686, 0.305, 0.887),
        (4.0, 0.571, 0.217, 0.815),
        (5.0, 0.429, 0.114, 0.718),
        (8.0, 0.214, 0.013, 0.579),
    ]
    got = [(s.time, round(s.survival, 3), round(s.lower, 3), round(s.upper, 3))
           for s in curve.steps]
    assert got == expected
    assert [(s.at_risk, s.events) for s in curve.steps] == [
        (10, 1), (9, 1), (7, 1), (6, 1), (4, 1), (2, 1)]
    assert curve.steps[1].variance == pytest.approx(0.8**2 * 0.025, rel=1e-12)
    median = curve.quantile(0.5)
    assert (median.value, median.lower, median.upper) == (5.0, 1.0, None)
    assert (curve.n, curve.events, curve.censored) == (10, 6, 4)


def test_events_come_before_censorings_at_a_tie() -> None:
    # The case censored at t=1 was still online when the other was removed at t=1: three at
    # risk, S(1) = 2/3. Censoring first would give two at risk and S(1) = 1/2.
    curve = curve_of([(1.0, True), (1.0, False), (2.0, True)])
    assert (curve.steps[0].at_risk, curve.steps[0].survival) == (3, 2 / 3)


def test_repeated_durations_are_merged() -> None:
    split = kaplan_meier([(2.0, 1, 0), (5.0, 0, 1), (2.0, 0, 1), (2.0, 2, 0), (5.0, 1, 0)])
    merged = kaplan_meier([(2.0, 3, 1), (5.0, 1, 1)])
    assert rows(split) == rows(merged)
    assert split.steps[0].at_risk == 6


# --- cross-check against scipy -------------------------------------------------------------


def scipy_sf(samples: Samples) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    observed = [t for t, e in samples if e]
    censored = [t for t, e in samples if not e]
    sf = stats.ecdf(stats.CensoredData(uncensored=observed, right=censored)).sf
    with warnings.catch_warnings():
        # scipy warns where the log-log interval is undefined (S = 1 before the first
        # event, S = 0 at the end); those are not event times with 0 < S, compared below.
        warnings.simplefilter("ignore", RuntimeWarning)
        band = sf.confidence_interval(0.95, method="log-log")
    return sf.quantiles, sf.probabilities, band.low.probabilities, band.high.probabilities


def random_samples(seed: int) -> Samples:
    rng = random.Random(seed)
    size = rng.choice([1, 2, 5, 30, 200, 2000])
    spread = rng.choice([3, 50, 10_000])  # few distinct durations: many ties
    censoring = rng.random()
    return [(float(rng.randrange(spread)), rng.random() > censoring) for _ in range(size)]


@pytest.mark.parametrize("seed", range(40))
def test_matches_scipy_at_every_event_time(seed: int) -> None:
    samples = random_samples(seed)
    curve = curve_of(samples)
    times, sf, low, high = scipy_sf(samples)
    index = {float(t): i for i, t in enumerate(times)}
    assert len(curve.steps) == len({t for t, e in samples if e})
    for step in curve.steps:
        i = index[step.time]
        assert step.survival == pytest.approx(sf[i], abs=1e-9)
        if step.survival > 0:
            assert step.lower == pytest.approx(low[i], abs=1e-9)
            assert step.upper == pytest.approx(high[i], abs=1e-9)
        else:  # the log-log band is undefined at S = 0: scipy gives NaN (module doc)
            assert math.isnan(low[i]) and math.isnan(high[i])


def test_when_every_case_at_risk_is_removed_the_band_keeps_its_last_upper_limit() -> None:
    curve = curve_of([(1.0, True), (2.0, True), (3.0, True)])
    before, last = curve.steps[-2], curve.steps[-1]
    assert (last.survival, last.lower, last.upper) == (0.0, 0.0, before.upper)
    assert math.isnan(last.variance)
    assert curve.quantile(0.9).upper is None  # the band never claims S <= 0.1
    assert curve.share_removed_by(100.0).value == 1.0  # S stays 0 after the follow-up


# --- quantiles, shares, summary ------------------------------------------------------------


def test_a_quantile_reached_exactly_is_not_lost_to_rounding() -> None:
    # 12 of 24 removed: S = 23/24 * 22/23 * ... = 0.5000000000000001 in floating point.
    # 9 of 10 removed: S = 0.1, but 1 - 0.9 = 0.09999999999999998.
    assert curve_of([(float(t), True) for t in range(24)]).quantile(0.5).value == 11.0
    assert curve_of([(float(t), True) for t in range(10)]).quantile(0.9).value == 8.0


def test_share_removed_by_reads_the_band_at_t() -> None:
    curve = curve_of(REFERENCE)
    at_5 = curve.steps[4]
    for t in (5.0, 5.5, 7.9):
        share = curve.share_removed_by(t)
        assert (share.value, share.lower, share.upper) == (
            1 - at_5.survival, 1 - at_5.upper, 1 - at_5.lower)
    before = curve.share_removed_by(0.5)
    assert (before.value, before.lower, before.upper) == (0.0, 0.0, 0.0)
    at_end = curve.share_removed_by(10.0)
    assert at_end.value == pytest.approx(1 - 0.214, abs=1e-3)
    beyond = curve.share_removed_by(10.5)  # last case censored at 10: unknown after
    assert (beyond.value, beyond.lower, beyond.upper) == (None, None, None)


def test_summary_in_minutes() -> None:
    day = 24 * 60
    samples = [(float(m), m % 3 != 0) for m in range(0, 10 * day, 97)]
    steps = group_samples(samples)
    summary = summarise(steps, unit=timedelta(minutes=1))
    curve = kaplan_meier(steps)
    json.dumps(summary, allow_nan=False)
    assert summary["too_few"] is False
    assert (summary["n"], summary["events"], summary["censored"]) == (
        curve.n, curve.events, curve.censored)
    for name, p in (("median", 0.5), ("p75", 0.75), ("p90", 0.9)):
        assert summary[name] == curve.quantile(p).as_dict()
    assert summary["median"]["estimate"] is not None
    for name, minutes in (("24h", day), ("72h", 3 * day), ("7d", 7 * day)):
        assert summary[f"removed_by_{name}"] == curve.share_removed_by(minutes).as_dict()
    assert 0 < summary["removed_by_24h"]["estimate"] < summary["removed_by_7d"]["estimate"]


def test_summary_of_too_few_cases_shows_no_estimates() -> None:
    steps = group_samples(REFERENCE[:9])
    summary = summarise(steps, unit=timedelta(hours=1))
    assert summary["too_few"] is True and summary["n"] == 9
    assert all(summary[k] is None for k in (
        "median", "p75", "p90", "removed_by_24h", "removed_by_72h", "removed_by_7d"))
    assert summarise(steps, unit=timedelta(hours=1), min_cases=9)["median"] is not None
    empty = summarise([], unit=timedelta(hours=1))
    assert (empty["n"], empty["too_few"], empty["median"]) == (0, True, None)


@pytest.mark.parametrize(("steps", "message"), [
    ([(-1.0, 1, 0)], "duration"),
    ([(math.nan, 1, 0)], "duration"),
    ([(math.inf, 0, 1)], "duration"),
    ([(1.0, -1, 0)], "counts"),
    ([(1.0, 1, -2)], "counts"),
])
def test_bad_steps_are_refused(steps: list[tuple[float, int, int]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kaplan_meier(steps)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="confidence"):
        kaplan_meier([], confidence=1.0)
    for p in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="quantile"):
            curve_of(REFERENCE).quantile(p)
    with pytest.raises(ValueError, match="unit"):
        summarise([], unit=timedelta(0))


def test_a_wider_confidence_level_gives_a_wider_band() -> None:
    narrow = kaplan_meier(group_samples(REFERENCE), confidence=0.5)
    wide = curve_of(REFERENCE)
    for a, b in zip(narrow.steps, wide.steps, strict=True):
        assert b.lower < a.lower < a.survival < a.upper < b.upper


# --- properties on random censored data ----------------------------------------------------

durations = st.integers(min_value=0, max_value=30).map(float)
samples_strategy = st.lists(st.tuples(durations, st.booleans()), min_size=1, max_size=80)


@PROPERTIES
@given(samples_strategy)
def test_survival_is_non_increasing_within_zero_and_one(samples: Samples) -> None:
    values = [1.0] + [s.survival for s in curve_of(samples).steps]
    assert all(0.0 <= b <= a <= 1.0 for a, b in itertools.pairwise(values))


@PROPERTIES
@given(samples_strategy)
def test_the_band_holds_the_estimate(samples: Samples) -> None:
    for s in curve_of(samples).steps:
        assert 0.0 <= s.lower <= s.survival <= s.upper <= 1.0


@PROPERTIES
@given(st.lists(durations, min_size=1, max_size=80))
def test_without_censoring_survival_is_the_empirical_survival(times: list[float]) -> None:
    curve = curve_of([(t, True) for t in times])
    for s in curve.steps:
        assert s.survival == pytest.approx(sum(t > s.time for t in times) / len(times),
                                           abs=1e-12)
    assert curve.steps[-1].survival == 0.0


@PROPERTIES
@given(samples_strategy, st.sampled_from([0.5, 0.75, 0.9]))
def test_quantile_intervals_contain_the_quantile(samples: Samples, p: float) -> None:
    q = curve_of(samples).quantile(p)
    if q.value is None:
        assert q.upper is None
    else:
        assert q.lower is not None and q.lower <= q.value
        assert q.upper is None or q.value <= q.upper


@PROPERTIES
@given(samples_strategy, st.randoms(use_true_random=False))
def test_grouped_input_equals_one_step_per_sample(samples: Samples, rng: random.Random) -> None:
    ungrouped = [(t, 1, 0) if e else (t, 0, 1) for t, e in samples]
    rng.shuffle(ungrouped)
    assert rows(kaplan_meier(ungrouped)) == rows(curve_of(samples))


@PROPERTIES
@given(st.lists(durations, min_size=1, max_size=80))
def test_all_censored_stays_at_one_with_no_median(times: list[float]) -> None:
    curve = curve_of([(t, False) for t in times])
    assert curve.steps == ()
    assert curve.at(max(times)) == (1.0, 1.0, 1.0)
    median = curve.quantile(0.5)
    assert (median.value, median.lower, median.upper) == (None, None, None)
