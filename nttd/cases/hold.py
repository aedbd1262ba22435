"""Law-enforcement hold: no notices, no checks, and the removal clock paused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import schedule
from nttd.cases.events import transition
from nttd.cases.lifecycle import HOLDABLE, CaseStatus, InvalidTransition
from nttd.models import Case


def hold(session: AsyncSession, case: Case, *, actor: str, now: datetime, note: str | None) -> None:
    """Put `case` on hold (InvalidTransition when it cannot be; nothing is written then)."""
    if case.status not in HOLDABLE:
        raise InvalidTransition(f"a case that is {case.status} cannot be put on hold")
    before = case.status
    transition(session, case, CaseStatus.HOLD, actor=actor, now=now, note=note)
    case.status_before_hold = before
    case.hold_started_at = now
    case.lease_owner = None
    case.lease_until = None


def release(
    session: AsyncSession, case: Case, *, actor: str, now: datetime, note: str | None
) -> None:
    """Take `case` off hold, back to where it was; the time held is added to its
    hold time. The caller re-queues a notice the hold kept back
    (`nttd.routing.release_case` does both)."""
    if case.status != CaseStatus.HOLD or case.hold_started_at is None:
        raise InvalidTransition(f"a case that is {case.status} is not on hold")
    held = (now - case.hold_started_at).total_seconds()
    back = CaseStatus(case.status_before_hold or CaseStatus.RECEIVED)
    if back == CaseStatus.RESOLVING:
        back = CaseStatus.RECEIVED
    transition(session, case, back, actor=actor, now=now, note=note, held_seconds=held)
    case.hold_seconds = (case.hold_seconds or 0.0) + held
    case.hold_started_at = None
    case.status_before_hold = None
    if back == CaseStatus.RECEIVED:
        case.next_resolve_at = now
    schedule.check_now(case, now)
