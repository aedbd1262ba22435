"""The injected clock, the one module that schedules checks, and the typed facts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from nttd.cases import CaseFacts, schedule, store_facts
from nttd.clock import ManualClock
from nttd.models import Case
from nttd.settings import Settings

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def settings(**values: str) -> Settings:
    return Settings.load({"NTTD_RECHECK_SCHEDULE": "1h,6h,1d", "NTTD_CHECK_JITTER": "0",
                          "NTTD_REMOVAL_CONFIRM_SPACING": "3m",
                          "NTTD_REAPPEARANCE_SCHEDULE": "1h,1d",
                          "NTTD_RERESOLVE_INTERVAL": "1d", **values})


def test_the_manual_clock_stands_still_until_moved() -> None:
    clock = ManualClock(T0)
    assert clock() == clock() == T0
    assert clock.advance(timedelta(hours=24)) == T0 + timedelta(hours=24)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 1, 5))


def test_routing_schedules_the_first_check_and_re_resolution() -> None:
    case = Case(check_count=0)
    schedule.schedule_first_check(case, settings(), T0)
    assert case.next_check_at == T0 + timedelta(hours=1)
    assert case.next_reresolve_at == T0 + timedelta(days=1)
    schedule.schedule_reresolve(case, settings(), T0 + timedelta(hours=2), keep=True)
    assert case.next_reresolve_at == T0 + timedelta(days=1)  # kept


def test_check_now_only_for_cases_checked_on_schedule_unless_started() -> None:
    unscheduled = Case()
    schedule.check_now(unscheduled, T0)
    assert unscheduled.next_check_at is None
    schedule.check_now(unscheduled, T0, start=True)
    assert unscheduled.next_check_at == T0
    later = Case(next_check_at=T0 + timedelta(days=3))
    schedule.check_now(later, T0)
    assert later.next_check_at == T0


def test_after_each_verdict_the_next_check_follows_its_schedule() -> None:
    s, rng = settings(), random.Random(1)
    case = Case(check_count=2)
    schedule.after_online(case, s, T0, rng)
    assert case.next_check_at == T0 + timedelta(hours=6)  # the 2nd step for the 2nd check
    case.last_gone_at = T0
    schedule.after_gone(case, s, T0 + timedelta(seconds=10), rng)
    assert case.next_check_at == T0 + timedelta(minutes=3)  # a spacing after the last counted
    case.removed_at = T0
    schedule.after_removal(case, s, T0 + timedelta(hours=3), rng)
    assert case.next_check_at == T0 + timedelta(hours=3, days=1)
    schedule.after_removal(case, s, T0 + timedelta(hours=3), rng, first=True)
    assert case.next_check_at == T0 + timedelta(hours=4)
    schedule.defer(case, T0)  # an earlier deferral does not bring the check forward
    assert case.next_check_at == T0 + timedelta(hours=4)
    schedule.stop_checking(case)
    assert case.next_check_at is None


def test_jitter_never_makes_a_step_shorter() -> None:
    s = settings(NTTD_CHECK_JITTER="0.5")
    for seed in range(50):
        case = Case(check_count=1)
        schedule.after_online(case, s, T0, random.Random(seed))
        assert case.next_check_at is not None
        assert T0 + timedelta(hours=1) <= case.next_check_at <= T0 + timedelta(hours=1.5)


def test_the_facts_view_reads_what_is_there_and_tolerates_the_rest() -> None:
    facts = CaseFacts.from_json({
        "ips": ["192.0.2.2", "192.0.2.1"],
        "hosting": {"ip": "192.0.2.1", "asn": 64500, "as_name": "EXAMPLE", "prefix":
                    "192.0.2.0/24", "country": "NL", "abuse_emails": ["abuse@host.example", 7]},
        "cdn": None,
        "registrar": {"name": "Registrar", "abuse_emails": "not a list"},
    })
    assert facts.country == "NL" and facts.asn == 64500
    assert facts.hosting is not None and facts.hosting.abuse_emails == ("abuse@host.example",)
    assert facts.cdn is None
    assert facts.registrar is not None and facts.registrar.abuse_emails == ()
    assert facts.network() == {"ips": ["192.0.2.1", "192.0.2.2"], "asn": 64500,
                               "prefix": "192.0.2.0/24", "country": "NL", "cdn": None}
    assert CaseFacts.from_json(None) == CaseFacts()
    assert CaseFacts.from_json({"hosting": "garbage", "ips": "x"}).hosting is None
    assert CaseFacts.from_json({"hosting": {"asn": True}}).asn is None  # a bool is no ASN


def test_storing_facts_copies_the_queried_columns() -> None:
    case = Case()
    store_facts(case, {"hosting": {"country": "DE", "asn": 64502}})
    assert (case.country, case.asn) == ("DE", 64502)
    store_facts(case, {"hosting": None})
    assert (case.country, case.asn) == (None, None)
