"""summarise_counts (numpy) gives what summarise (the standard-library reference that
tests/stats/test_survival.py proves by hand and against scipy) gives, field for field:
on random censored data with ties, on every kind of edge (all removed, the last case
at risk removed, nothing removed, too few, horizons beyond the follow-up). So does
summarise_many, which estimates many groups in one pass: each group as it alone."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nttd.stats.survival import summarise, summarise_counts, summarise_many

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


def both(counts: dict[int, list[int]], *, min_cases: int = 1, confidence: float = 0.95,
         unit: timedelta = SECOND) -> tuple[dict[str, object], dict[str, object]]:
    steps = [(60.0 * m, e, c) for m, (e, c) in counts.items()]
    return (summarise_counts(counts, scale=60.0, unit=unit, min_cases=min_cases,
                             confidence=confidence),
            summarise(steps, unit=unit, min_cases=min_cases, confidence=confidence))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.integers(0, 20_000),
                       st.tuples(st.integers(0, 30), st.integers(0, 30)).map(list),
                       max_size=120),
       st.sampled_from([0.8, 0.9, 0.95, 0.99]), st.sampled_from([SECOND, MINUTE]))
def test_random_counts_give_the_reference_summary(
        counts: dict[int, list[int]], confidence: float, unit: timedelta) -> None:
    fast, reference = both(counts, confidence=confidence, unit=unit)
    assert fast == reference


@pytest.mark.parametrize("counts", [
    {5: [3, 0], 9: [2, 0]},                    # every case removed: S reaches 0
    {5: [1, 2], 9: [1, 0]},                    # the last case at risk removed
    {9: [1, 0]},                               # one case, removed
    {5: [0, 4], 9: [0, 1]},                    # nothing removed
    {1: [2, 1], 1440: [4, 2], 4320: [3, 0], 10080: [1, 5], 20000: [0, 3]},  # horizons
    {},                                        # no cases
])
def test_edges_give_the_reference_summary(counts: dict[int, list[int]]) -> None:
    for min_cases in (1, 10):
        fast, reference = both(counts, min_cases=min_cases)
        assert fast == reference, (counts, min_cases)


def test_bad_input_is_refused_as_the_reference_does() -> None:
    with pytest.raises(ValueError, match="unit"):
        summarise_counts({1: [1, 0]}, scale=60.0, unit=timedelta(0))
    with pytest.raises(ValueError, match="confidence"):
        summarise_counts({1: [1, 0]}, scale=60.0, unit=SECOND, confidence=1.0)
    with pytest.raises(ValueError, match="counts"):
        summarise_counts({1: [-1, 0]}, scale=60.0, unit=SECOND)


EDGES = [{5: [3, 0], 9: [2, 0]}, {5: [1, 2], 9: [1, 0]}, {9: [1, 0]}, {5: [0, 4], 9: [0, 1]},
         {1: [2, 1], 1440: [4, 2], 4320: [3, 0], 10080: [1, 5], 20000: [0, 3]}, {}]


def arrays(counts: dict[int, list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    minutes = sorted(counts)
    return (np.array(minutes, dtype=np.float64) * 60.0,
            np.array([counts[m][0] for m in minutes], dtype=np.int64),
            np.array([counts[m][1] for m in minutes], dtype=np.int64))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.integers(0, 20_000),
                                st.tuples(st.integers(0, 30), st.integers(0, 30)).map(list),
                                max_size=60), max_size=25),
       st.integers(1, 12), st.sampled_from([0.9, 0.95]))
def test_many_groups_together_give_each_its_reference_summary(
        groups: list[dict[int, list[int]]], min_cases: int, confidence: float) -> None:
    # Random groups, the edges among them (a group whose last case at risk is removed
    # next to one with no removal, an empty one), in one call: each group's summary is
    # the one the reference gives for it alone.
    groups = [*groups[: len(groups) // 2], *EDGES, *groups[len(groups) // 2:]]
    together = summarise_many([arrays(g) for g in groups], unit=SECOND, min_cases=min_cases,
                              confidence=confidence)
    assert len(together) == len(groups)
    for counts, summary in zip(groups, together, strict=True):
        reference = summarise([(60.0 * m, e, c) for m, (e, c) in counts.items()],
                              unit=SECOND, min_cases=min_cases, confidence=confidence)
        assert summary == reference, counts


def test_many_refuses_bad_input_in_any_group_and_takes_none() -> None:
    good = arrays({5: [1, 0], 9: [2, 1]})
    assert summarise_many([], unit=SECOND) == []
    with pytest.raises(ValueError, match="counts"):
        summarise_many([good, arrays({3: [0, -1]})], unit=SECOND)
    with pytest.raises(ValueError, match="durations"):
        summarise_many([good, (np.array([-60.0]), np.array([1]), np.array([0]))], unit=SECOND)
    with pytest.raises(ValueError, match="durations"):
        summarise_many([(np.array([np.nan]), np.array([1]), np.array([0])), good], unit=SECOND)
