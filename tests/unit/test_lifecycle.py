from __future__ import annotations

import itertools

import pytest

from nttd.cases.lifecycle import TRANSITIONS, CaseStatus, InvalidTransition, check_transition


def test_every_status_has_transitions_declared() -> None:
    assert set(TRANSITIONS) == set(CaseStatus)


def test_main_path_is_allowed() -> None:
    path = ["received", "resolving", "resolved", "notified", "monitoring", "removed", "closed"]
    for old, new in itertools.pairwise(path):
        assert check_transition(old, new) == CaseStatus(new)


def test_invalid_transition_says_what_is_allowed() -> None:
    with pytest.raises(InvalidTransition, match="cannot become received; it may become"):
        check_transition("removed", "received")
    with pytest.raises(InvalidTransition, match="final"):
        check_transition("closed", "monitoring")
