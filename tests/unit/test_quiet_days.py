"""Quiet days (NTTD_QUIET_DAYS, NTTD_HOLIDAYS): a reminder or escalation that falls on
one waits for 00:00 UTC of the next working day; the settings that name them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from nttd.outbox.calendar import next_working_time
from nttd.outbox.reminders import working_time
from nttd.settings import Settings, SettingsError

WEEKEND = (5, 6)  # sat, sun
FRIDAY = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)


def test_a_working_day_is_left_alone() -> None:
    assert next_working_time(FRIDAY, WEEKEND, ()) == FRIDAY
    assert next_working_time(FRIDAY, (), ()) == FRIDAY


@pytest.mark.parametrize("when", [
    datetime(2026, 12, 5, 0, 0, tzinfo=UTC),         # Saturday, first instant
    datetime(2026, 12, 5, 10, 0, tzinfo=UTC),
    datetime(2026, 12, 6, 23, 59, 59, 999999, tzinfo=UTC),  # Sunday, last instant
])
def test_the_weekend_waits_for_monday_midnight(when: datetime) -> None:
    assert next_working_time(when, WEEKEND, ()) == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


def test_midnight_boundaries() -> None:
    last_of_friday = datetime(2026, 12, 4, 23, 59, 59, 999999, tzinfo=UTC)
    assert next_working_time(last_of_friday, WEEKEND, ()) == last_of_friday
    monday = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
    assert next_working_time(monday, WEEKEND, ()) == monday  # already the start: unmoved


def test_a_holiday_after_the_weekend_moves_it_on_to_tuesday() -> None:
    holidays = (date(2026, 12, 7),)  # the Monday
    saturday = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    assert next_working_time(saturday, WEEKEND, holidays) == datetime(
        2026, 12, 8, 0, 0, tzinfo=UTC)
    christmas = (date(2026, 12, 24), date(2026, 12, 25))  # Thursday and Friday
    assert next_working_time(datetime(2026, 12, 24, 8, tzinfo=UTC), WEEKEND, christmas) == (
        datetime(2026, 12, 28, 0, 0, tzinfo=UTC))
    # a holiday on a weekday without quiet weekdays
    assert next_working_time(datetime(2026, 12, 25, 8, tzinfo=UTC), (), christmas) == (
        datetime(2026, 12, 26, 0, 0, tzinfo=UTC))


def test_the_day_is_the_utc_day() -> None:
    # 23:30 on Friday in UTC-02:00 is 01:30 on Saturday in UTC: a quiet day.
    late_friday_west = datetime(2026, 12, 4, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    assert next_working_time(late_friday_west, WEEKEND, ()) == datetime(
        2026, 12, 7, 0, 0, tzinfo=UTC)
    # 00:30 on Saturday in UTC+02:00 is still Friday in UTC: not moved.
    early_saturday_east = datetime(2026, 12, 5, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert next_working_time(early_saturday_east, WEEKEND, ()) == early_saturday_east


def test_settings_parse_and_refuse() -> None:
    loaded = Settings.load({"NTTD_QUIET_DAYS": " Sat, sunday ,", "NTTD_HOLIDAYS":
                            "2026-12-25, 2026-12-24,2026-12-25",
                            "NTTD_ESCALATION_LADDER": "upstream, registrar"})
    assert loaded.quiet_days == ("sat", "sun")
    assert loaded.holidays == (date(2026, 12, 24), date(2026, 12, 25))
    assert loaded.escalation_ladder == ("upstream", "registrar")
    defaults = Settings.load({})
    assert (defaults.quiet_days, defaults.holidays) == ((), ())
    assert defaults.escalation_ladder == ("registrar", "upstream", "cdn", "coordinator")
    assert Settings.load({"NTTD_ESCALATION_LADDER": ""}).escalation_ladder == ()
    for env, bad, words in [
        ("NTTD_QUIET_DAYS", "saturnday", "not a weekday"),
        ("NTTD_QUIET_DAYS", "mon,tue,wed,thu,fri,sat,sun", "every day"),
        ("NTTD_HOLIDAYS", "25/12/2026", "not an ISO date"),
        ("NTTD_ESCALATION_LADDER", "registrar,police", "not one of"),
        ("NTTD_ESCALATION_LADDER", "cdn,cdn", "twice"),
    ]:
        with pytest.raises(SettingsError, match=words):
            Settings.load({env: bad})


def test_days_in_a_time_zone() -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")  # UTC+01:00 in December
    # Friday 23:30 UTC is Saturday 00:30 in Amsterdam: quiet there, not in UTC.
    late_friday = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    assert next_working_time(late_friday, WEEKEND, ()) == late_friday
    assert next_working_time(late_friday, WEEKEND, (), amsterdam) == datetime(
        2026, 12, 6, 23, 0, tzinfo=UTC)  # Monday 00:00 in Amsterdam
    # Sunday 23:30 UTC is already Monday in Amsterdam: not moved.
    late_sunday = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    assert next_working_time(late_sunday, WEEKEND, (), amsterdam) == late_sunday
    # Across a change of clocks: Saturday 28 March 2026 waits for Monday 00:00 CEST.
    spring = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert next_working_time(spring, WEEKEND, (), amsterdam) == datetime(
        2026, 3, 29, 22, 0, tzinfo=UTC)


def test_the_time_zone_setting() -> None:
    assert Settings.load({}).timezone == "UTC"
    assert Settings.load({"NTTD_TIMEZONE": "utc"}).timezone == "UTC"
    assert Settings.load({"NTTD_TIMEZONE": "Europe/Berlin"}).timezone == "Europe/Berlin"
    for bad in ("Mars/Olympus", "../etc/passwd"):
        with pytest.raises(SettingsError, match="time zone"):
            Settings.load({"NTTD_TIMEZONE": bad})


def test_reminders_use_the_settings() -> None:
    late_friday = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    settings = Settings.load({"NTTD_QUIET_DAYS": "sat,sun", "NTTD_TIMEZONE": "Europe/Amsterdam"})
    assert working_time(late_friday, settings) == datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    assert working_time(late_friday, Settings.load({"NTTD_QUIET_DAYS": "sat,sun"})) == (
        late_friday)
    assert working_time(late_friday, Settings.load({})) == late_friday
    holiday = Settings.load({"NTTD_HOLIDAYS": "2026-12-04"})
    assert working_time(late_friday, holiday) == datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
