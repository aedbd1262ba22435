"""Quiet days: reminders and escalations wait for a working day.

`NTTD_QUIET_DAYS` names weekdays (`sat,sun`) and `NTTD_HOLIDAYS` lists ISO dates on
which no reminder or escalation goes out; one that falls due on such a day (in
`NTTD_TIMEZONE`, UTC by default) is moved to the start (00:00 there) of the next day
that is neither. First notices are
never delayed: removal must start at once. A pure function, no clock of its own
(the settings parse the two lists: `nttd.settings`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta, tzinfo

__all__ = ["next_working_time"]

_MAX_SHIFT_DAYS = 366 * 2


def next_working_time(when: datetime, quiet_days: Collection[int],
                      holidays: Collection[date], zone: tzinfo = UTC) -> datetime:
    """`when` itself if its day (in `zone`, UTC by default) is neither a quiet weekday
    (Monday is 0) nor a holiday, else 00:00 in `zone` of the next day that is neither
    (returned in UTC)."""
    local = when.astimezone(zone)
    day = local.date()
    shifted = False
    for _ in range(_MAX_SHIFT_DAYS):
        if day.weekday() not in quiet_days and day not in holidays:
            break
        day += timedelta(days=1)
        shifted = True
    else:  # a holiday list covering years on end: do not wait for ever
        return when
    if not shifted:
        return when
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
