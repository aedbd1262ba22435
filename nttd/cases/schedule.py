"""When a case is next checked (and re-resolved): the one module that decides.

Every other module asks here instead of setting `next_check_at` itself:

- after routing, the first check comes one step of `NTTD_RECHECK_SCHEDULE` later,
  and the first re-resolution (move detection) `NTTD_RERESOLVE_INTERVAL` later;
- a release, a partner's report of removal or a move, or an analyst's correction
  of an unresolvable case asks for a check now;
- after a check, the removal rule (`nttd.checks`) asks for the next step: the
  re-check schedule (by the number of checks so far), the confirmation spacing
  of a gone streak, or the decaying reappearance schedule after removal;
- a host that keeps timing out defers its cases to the end of its pause;
- a closed case is never checked again.

The schedule lives in `check_schedule` (`CheckSchedule`, one narrow row per case,
with the check's lease and the counters a check moves); these functions take a case
(whose properties read and write it) or, on the checker's bulk path, the row itself.

Every step but "now" gets a random extra delay of up to `NTTD_CHECK_JITTER` of
itself (never less than the step, so the confirmation spacing holds), so cases
submitted together drift apart.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from nttd.models import Case
from nttd.settings import Settings

__all__ = [
    "after_gone",
    "after_online",
    "after_reappearance",
    "after_removal",
    "check_now",
    "defer",
    "reappearance_delay",
    "schedule_first_check",
    "schedule_reresolve",
    "stop_checking",
]


class Scheduled(Protocol):
    """What the schedule reads and writes: a case (its properties over its
    check_schedule row), or the checker's working copy of the row (bulk checks)."""

    next_check_at: datetime | None
    check_count: int
    gone_streak: int
    gone_streak_started_at: datetime | None
    last_gone_at: datetime | None
    first_online_at: datetime | None



def _step(schedule: Sequence[timedelta], index: int) -> timedelta:
    return schedule[min(max(index, 0), len(schedule) - 1)]


def _jittered(step: timedelta, settings: Settings, rng: random.Random) -> timedelta:
    return step * (1 + settings.check_jitter * rng.random())


def reappearance_delay(schedule: Sequence[timedelta], since_removal: timedelta) -> timedelta:
    """The step of the reappearance schedule we are in, counting from removal."""
    elapsed = timedelta(0)
    for step in schedule:
        elapsed += step
        if since_removal < elapsed:
            return step
    return schedule[-1]


def schedule_first_check(case: Case, settings: Settings, now: datetime) -> None:
    """A case has just been routed: its first check, and its first re-resolution."""
    case.next_check_at = now + settings.recheck_schedule[0]
    schedule_reresolve(case, settings, now)


def schedule_reresolve(case: Case, settings: Settings, now: datetime, *,
                       keep: bool = False) -> None:
    """The next re-resolution (move detection); with `keep`, only if none is set."""
    if keep and case.next_reresolve_at is not None:
        return
    case.next_reresolve_at = now + settings.reresolve_interval


def check_now(case: Case, now: datetime, *, start: bool = False) -> None:
    """Check as soon as a worker can: a case that is checked on schedule moves its
    next check to now; with `start`, a case that was not checked yet starts."""
    if case.next_check_at is not None or start:
        case.next_check_at = now


def defer(case: Scheduled, until: datetime) -> None:
    """Not before `until` (its host is paused); a later check already set stays."""
    current = case.next_check_at or until
    case.next_check_at = max(current, until)


def stop_checking(case: Scheduled) -> None:
    case.next_check_at = None


def after_online(case: Scheduled, settings: Settings, now: datetime, rng: random.Random) -> None:
    """A check that does not count toward removal: the next step of the re-check
    schedule, counted by the checks made so far."""
    step = _step(settings.recheck_schedule, case.check_count - 1)
    case.next_check_at = now + _jittered(step, settings, rng)


def after_gone(case: Scheduled, settings: Settings, now: datetime, rng: random.Random) -> None:
    """A gone streak not yet confirmed: the next check one spacing after the last
    verdict counted (a sooner one would not count)."""
    last = case.last_gone_at or now
    spacing = settings.removal_confirm_spacing
    case.next_check_at = max(last + _jittered(spacing, settings, rng),
                             now + timedelta(milliseconds=1))


def after_removal(case: Case, settings: Settings, now: datetime, rng: random.Random, *,
                  first: bool = False) -> None:
    """Watching for reappearance: the first step right after removal is confirmed,
    then the step of the decaying schedule since removal."""
    removed_at = case.removed_at or now
    step = (settings.reappearance_schedule[0] if first
            else reappearance_delay(settings.reappearance_schedule, now - removed_at))
    case.next_check_at = now + _jittered(step, settings, rng)


def after_reappearance(case: Scheduled, settings: Settings, now: datetime,
                       rng: random.Random) -> None:
    """Back online after removal: re-checked from the start of the schedule."""
    case.next_check_at = now + _jittered(settings.recheck_schedule[0], settings, rng)
