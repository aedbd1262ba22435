"""A breakdown's lists are read in one call (nttd.stats.sqltime.ints_all), and its bins
merged for all its groups at once (nttd.stats.removal._merged): each group's result is
what adding up its parts bin by bin gives, whichever way the counts are added up (on a
dense table of every (group, bin), or sorted by key when that table would be too
large)."""

from __future__ import annotations

from collections import Counter
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nttd.stats import removal
from nttd.stats.sqltime import bin_minutes, ints_all


# A part is what one row of a statement gives: distinct bins with their counts, which
# may be negative (the rolled copies taken out) and add up to 0 with another part's.
def _holds_a_minute(bin_: int) -> bool:
    try:
        bin_minutes(bin_)
    except ValueError:  # a bin narrower than a minute: never fetched
        return False
    return True


BINS = [b for b in range(331) if _holds_a_minute(b)]
part = st.dictionaries(st.sampled_from(BINS),
                       st.tuples(st.integers(-3, 5), st.integers(-3, 5)), max_size=30)


def arrays(counts: dict[int, tuple[int, int]]) -> tuple[Any, Any, Any]:
    bins = sorted(counts)
    return (np.array(bins, dtype=np.int64), np.array([counts[b][0] for b in bins], np.int64),
            np.array([counts[b][1] for b in bins], np.int64))


def by_hand(parts: list[dict[int, tuple[int, int]]]) -> list[tuple[int, int, int]]:
    events: Counter[int] = Counter()
    censored: Counter[int] = Counter()
    for counts in parts:
        for bin_, (e, c) in counts.items():
            events[bin_] += e
            censored[bin_] += c
    return [(bin_minutes(b), events[b], censored[b]) for b in sorted({*events, *censored})
            if events[b] or censored[b]]


@pytest.mark.parametrize("dense_slots", [removal._DENSE_SLOTS, 0])
@settings(max_examples=150, deadline=None)
@given(groups=st.lists(st.lists(part, max_size=3), max_size=12))
def test_every_group_gets_its_parts_added_up_bin_by_bin(
        groups: list[list[dict[int, tuple[int, int]]]], dense_slots: int) -> None:
    with mock.patch.object(removal, "_DENSE_SLOTS", dense_slots):
        merged = removal._merged([[arrays(p) for p in parts] for parts in groups])
    assert len(merged) == len(groups)
    for parts, (minutes, events, censored) in zip(groups, merged, strict=True):
        got = list(zip(minutes.tolist(), events.tolist(), censored.tolist(), strict=True))
        assert got == by_hand(parts)


def test_lists_are_read_in_one_call_with_their_sums() -> None:
    arrays, sums = ints_all(["3,5,21", "7", "-2,4", "", "10,-10"])
    assert [a.tolist() for a in arrays] == [[3, 5, 21], [7], [-2, 4], [], [10, -10]]
    assert sums.tolist() == [29, 7, 2, 0, 0]
    assert ints_all([]) == ([], pytest.approx([]))
    for bad in (["1,2", "3,x"], ["1,,2"], ["1.5"]):
        with pytest.raises(ValueError, match="comma-separated"):
            ints_all(bad)
