from __future__ import annotations

import pytest

from nttd.stats import kaplan_meier, km_quantile


def test_km_without_censoring_is_the_empirical_median() -> None:
    samples = [(t, True) for t in (10.0, 20.0, 30.0, 40.0)]
    assert km_quantile(samples) == 20.0
    assert kaplan_meier(samples)[-1] == (40.0, 0.0)


def test_censored_cases_are_not_dropped() -> None:
    # Two removals fast, three still online after a long time: dropping the open
    # ones would report a median of 15 s; Kaplan-Meier says we never reached 50 %.
    samples = [(10.0, True), (20.0, True), (100.0, False), (100.0, False), (100.0, False)]
    assert km_quantile(samples) is None
    curve = kaplan_meier(samples)
    assert curve == [(10.0, pytest.approx(0.8)), (20.0, pytest.approx(0.6))]


def test_textbook_example() -> None:
    # Classic example: times 6,6,6,7,10 observed; 6+,9+,10+ censored.
    samples = [(6, True), (6, True), (6, True), (6, False), (7, True), (9, False), (10, True),
               (10, False)]
    curve = kaplan_meier([(float(t), e) for t, e in samples])
    assert curve[0] == (6.0, pytest.approx(5 / 8))
    assert curve[1] == (7.0, pytest.approx(5 / 8 * 3 / 4))
    assert km_quantile([(float(t), e) for t, e in samples]) == 7.0


def test_empty() -> None:
    assert km_quantile([]) is None
