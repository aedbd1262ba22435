"""The removal rule: what a check's verdict does to its case, and which checks are kept.

Removal: `NTTD_REMOVAL_CONFIRMATIONS` verdicts from `NTTD_REMOVAL_VERDICTS`
(default gone and dns_gone: 404, 410, NXDOMAIN) in a row, each at least
`NTTD_REMOVAL_CONFIRM_SPACING` after the last one counted; one that comes sooner
is recorded but not counted; any other verdict breaks the streak. `removed_at`
is the time of the first check of the streak (DESIGN.md).

Reappearance: after removal the URL is checked on the decaying
`NTTD_REAPPEARANCE_SCHEDULE` (steps counted from removal, the last repeats) for
`NTTD_REAPPEARANCE_WINDOW`. An online verdict reopens the case as `reappeared`
with a `reappeared` event and counts it (`reappeared_count`, in the statistics);
if the same URL has meanwhile been submitted again as a new open case, the old
one is closed instead, pointing at it. After the window the case is closed.

Scheduling: when the next check comes is decided by `nttd.cases.schedule`.

History: every check is kept while a case is open. `NTTD_CHECK_RETENTION` after
closure only the marked checks remain: the first online check, the checks of
the streak that confirmed removal, and each reappearance.

Failures: a database error propagates (the worker loop logs it and retries; the
claimed cases' leases expire and they are checked again).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import CHECKED_STATUSES, CaseStatus, record_event, schedule, transition
from nttd.cases.schedule import Scheduled
from nttd.checks.probe import CheckResult, Verdict
from nttd.models import Case, Check, CheckSchedule
from nttd.services import Services
from nttd.settings import Settings

__all__ = [
    "SYSTEM",
    "Outcome",
    "apply_check",
    "prune_check_history",
    "record_outcomes",
    "write_outcomes",
]

log = logging.getLogger(__name__)
CHECKED_STATUSES_VALUES = frozenset(s.value for s in CHECKED_STATUSES)
SYSTEM = "system:checker"
MARK_FIRST_ONLINE = "first_online"
MARK_REMOVAL = "removal"
MARK_REAPPEARANCE = "reappearance"
PRUNE_BATCH = 5000


@dataclass(frozen=True)
class Outcome:
    """What one claimed case came to: a check result, or a deferral (host backing off)."""

    case_id: int
    result: CheckResult | None
    defer_until: datetime | None = None


async def record_outcomes(
    svc: Services, outcomes: Sequence[Outcome], *, rng: random.Random
) -> int:
    """Write a batch of outcomes in one transaction; returns the checks recorded.

    Only cases this worker still holds the lease on are touched (locked on
    PostgreSQL, so a worker that took over an expired lease cannot interleave).
    If the batch cannot be written, each outcome is written on its own, and one
    that still fails is set aside (`set_aside`): it never takes the others down.
    """
    try:
        return await _record_batch(svc, outcomes, rng=rng)
    except Exception:
        if len(outcomes) > 1:
            log.warning("could not record %d checks together; recording them one by one",
                        len(outcomes), exc_info=True)
    recorded = 0
    for outcome in outcomes:
        try:
            recorded += await _record_batch(svc, [outcome], rng=rng)
        except Exception as exc:
            log.exception("case %s: could not record its check; retried later",
                          outcome.case_id)
            await set_aside(svc, outcome.case_id, f"could not record a check: {exc}")
    return recorded


async def set_aside(svc: Services, case_id: int, error: str) -> None:
    """A case whose result could not be recorded: its lease is released and it is
    checked again only after the longest step of the re-check schedule (a backoff),
    with the error kept in `last_error`. Best effort: if even this fails, its lease
    expires and it is claimed again."""
    now = svc.clock()
    try:
        async with svc.sessions() as session, session.begin():
            released = await session.execute(
                update(_SCHEDULE)
                .where(_SCHEDULE.c.case_id == case_id,
                       _SCHEDULE.c.lease_owner == svc.worker_id)
                .values(lease_owner=None, lease_until=None,
                        next_check_at=now + max(svc.settings.recheck_schedule)))
            if cast(CursorResult[Any], released).rowcount:
                await session.execute(update(_CASES).where(_CASES.c.id == case_id)
                                      .values(last_error=error[:500]))
    except Exception:
        log.exception("case %s: could not set it aside either", case_id)


# The columns a check can change on its case without a transition (the plain path),
# all in its check_schedule row.
_PLAIN_COLUMNS = ("check_count", "first_online_at", "gone_streak", "gone_streak_started_at",
                  "last_gone_at", "next_check_at")
_PLAIN_STATUSES = frozenset({CaseStatus.MONITORING.value, CaseStatus.REAPPEARED.value})


@dataclass(slots=True)
class _Counters:
    """The bulk path's working copy of a check_schedule row (`schedule.Scheduled`):
    plain attributes, none of an ORM object's bookkeeping."""

    check_count: int
    first_online_at: datetime | None
    gone_streak: int
    gone_streak_started_at: datetime | None
    last_gone_at: datetime | None
    next_check_at: datetime | None


_CASES = cast(Table, Case.__table__)
_CHECKS = cast(Table, Check.__table__)
_SCHEDULE = cast(Table, CheckSchedule.__table__)
# One UPDATE per row by primary key, sent as one executemany (Core: no ORM bookkeeping).
_BULK_UPDATE = (
    update(_SCHEDULE).where(_SCHEDULE.c.case_id == bindparam("b_case_id"))
    .values({c: bindparam(f"b_{c}") for c in (*_PLAIN_COLUMNS, "lease_owner", "lease_until")})
)


def _is_plain(status: str, verdict: str, gone_streak: int, settings: Settings) -> bool:
    """A check that only moves counters and the next check on: no transition, no event
    (not the first check after routing, not after removal, cannot confirm removal)."""
    if status not in _PLAIN_STATUSES:
        return False
    return verdict not in settings.removal_verdicts or (
        gone_streak + 1 < settings.removal_confirmations)


async def _record_batch(
    svc: Services, outcomes: Sequence[Outcome], *, rng: random.Random
) -> int:
    async with svc.sessions() as session, session.begin():
        return await write_outcomes(session, svc, outcomes, rng=rng)


async def write_outcomes(
    session: AsyncSession, svc: Services, outcomes: Sequence[Outcome], *,
    rng: random.Random,
) -> int:
    """Write a batch of outcomes in the caller's transaction (`record_outcomes` has
    one of its own, and the fallbacks); returns the checks recorded.

    The common outcome (a case being monitored, checked once more, no transition)
    is written with two bulk statements for the whole batch
    (an INSERT of the checks, an UPDATE of the check_schedule rows by primary key:
    the cases rows are not written); cases that change state go through the ORM
    and `apply_check`. Either way the same rule (`advance_streak`, `schedule`)
    decides, and only rows this worker still leases (read under FOR UPDATE on
    PostgreSQL, the cases rows too where they change) are written."""
    by_id = {o.case_id: o for o in outcomes}
    if not by_id:
        return 0
    settings = svc.settings
    checks: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    full: list[int] = []
    postgresql = svc.engine.dialect.name == "postgresql"
    query = (select(_SCHEDULE.c.case_id, _CASES.c.status,
                    *(_SCHEDULE.c[c] for c in _PLAIN_COLUMNS))
             .join_from(_SCHEDULE, _CASES, _CASES.c.id == _SCHEDULE.c.case_id)
             .where(_SCHEDULE.c.case_id.in_(by_id),
                    _SCHEDULE.c.lease_owner == svc.worker_id))
    if postgresql:
        query = query.with_for_update(of=_SCHEDULE)
    for row in (await session.execute(query)).all():
        values = dict(row._mapping)
        values.update(lease_owner=None, lease_until=None)
        outcome, result = by_id[row.case_id], by_id[row.case_id].result
        if row.status not in CHECKED_STATUSES_VALUES:
            pass  # put on hold or closed while we were checking: release only
        elif result is None:
            if outcome.defer_until is not None:
                current = row.next_check_at or outcome.defer_until
                values["next_check_at"] = max(current, outcome.defer_until)
        elif _is_plain(row.status, result.verdict.value, row.gone_streak, settings):
            plain = _Counters(**{c: values[c] for c in _PLAIN_COLUMNS})
            plain.check_count += 1
            mark = _first_online(plain, result.verdict.value, result.checked_at)
            confirmed = advance_streak(plain, result.verdict.value, result.checked_at,
                                       settings=settings, rng=rng)
            assert not confirmed, "a plain check cannot confirm removal"
            values.update({c: getattr(plain, c) for c in _PLAIN_COLUMNS})
            checks.append(_check_values(row.case_id, result, mark))
        else:
            full.append(row.case_id)
            continue
        del values["status"]
        updates.append({f"b_{k}": v for k, v in values.items()})
    if checks:
        await session.execute(insert(_CHECKS), checks)  # Core: no ORM bookkeeping
    if updates:
        await session.execute(_BULK_UPDATE, updates)
    if full:
        query = select(Case).where(Case.id.in_(full))
        if postgresql:
            query = query.with_for_update(of=Case)
        for case in await session.scalars(query):
            plan = case.check_schedule
            assert plan is not None  # it was read above
            plan.lease_owner = plan.lease_until = None
            if case.status not in CHECKED_STATUSES_VALUES:
                full.remove(case.id)  # changed meanwhile: release only
                continue
            result = by_id[case.id].result
            assert result is not None
            check = Check(**_check_values(case.id, result, None))
            session.add(check)
            case.check_count += 1
            await apply_check(session, case, check, settings=settings, rng=rng)
    return len(checks) + len(full)


def _check_values(case_id: int, result: CheckResult, mark: str | None) -> dict[str, object]:
    return {"case_id": case_id, "checked_at": result.checked_at,
            "verdict": result.verdict.value, "status_code": result.status_code,
            "method": result.method, "location": result.location,
            "peer_ip": result.peer_ip, "latency_ms": result.latency_ms,
            "error": result.error, "mark": mark}


def _first_online(case: Scheduled, verdict: str, now: datetime) -> str | None:
    """The mark of a check if it is the case's first online one (noted on the case)."""
    if verdict == Verdict.ONLINE and case.first_online_at is None:
        case.first_online_at = now
        return MARK_FIRST_ONLINE
    return None


async def apply_check(
    session: AsyncSession, case: Case, check: Check, *, settings: Settings,
    rng: random.Random,
) -> None:
    """Move `case` on after `check` (already added to the session and counted in
    `case.check_count`)."""
    now, verdict = check.checked_at, check.verdict
    mark = _first_online(case, verdict, now)
    if mark is not None:
        check.mark = mark
    if case.status == CaseStatus.REMOVED:
        await _after_removal(session, case, check, settings=settings, rng=rng)
        return
    if case.status in (CaseStatus.ROUTED, CaseStatus.NOTIFIED):
        transition(session, case, CaseStatus.MONITORING, actor=SYSTEM, now=now)
    if advance_streak(case, verdict, now, settings=settings, rng=rng):
        await _confirm_removal(session, case, check, settings=settings, rng=rng)


def advance_streak(case: Scheduled, verdict: str, now: datetime, *, settings: Settings,
                   rng: random.Random) -> bool:
    """The gone streak and the next check of a case not yet removed, after a check
    with `verdict` at `now`. True: the streak confirms removal (the caller does it)."""
    if verdict not in settings.removal_verdicts:
        case.gone_streak, case.gone_streak_started_at, case.last_gone_at = 0, None, None
        schedule.after_online(case, settings, now, rng)
        return False
    spacing = settings.removal_confirm_spacing
    if case.gone_streak == 0 or case.last_gone_at is None:
        case.gone_streak, case.gone_streak_started_at, case.last_gone_at = 1, now, now
    elif now - case.last_gone_at >= spacing:
        case.gone_streak += 1
        case.last_gone_at = now
    if case.gone_streak >= settings.removal_confirmations:
        return True
    schedule.after_gone(case, settings, now, rng)
    return False


async def _confirm_removal(
    session: AsyncSession, case: Case, check: Check, *, settings: Settings,
    rng: random.Random,
) -> None:
    now = check.checked_at
    started = case.gone_streak_started_at
    assert started is not None
    check.mark = MARK_REMOVAL
    await session.flush()  # the check itself is part of the streak marked below
    await session.execute(
        update(Check)
        .where(Check.case_id == case.id, Check.checked_at >= started,
               Check.verdict.in_(settings.removal_verdicts), Check.mark.is_(None))
        .values(mark=MARK_REMOVAL)
        .execution_options(synchronize_session=False)
    )
    case.removed_at = started
    transition(session, case, CaseStatus.REMOVED, actor=SYSTEM, now=now,
               removed_at=started.isoformat(), confirmations=case.gone_streak)
    schedule.after_removal(case, settings, now, rng, first=True)


async def _after_removal(
    session: AsyncSession, case: Case, check: Check, *, settings: Settings,
    rng: random.Random,
) -> None:
    now = check.checked_at
    removed_at = case.removed_at
    assert removed_at is not None
    if check.verdict == Verdict.ONLINE:
        check.mark = MARK_REAPPEARANCE
        case.reappeared_count += 1
        successor = await session.scalar(
            select(Case.id).where(Case.canonical_url == case.canonical_url, Case.id != case.id)
            .where(Case.status.not_in([CaseStatus.REMOVED.value, CaseStatus.CLOSED.value]))
            .limit(1))
        record_event(session, case.id, "reappeared", actor=SYSTEM, now=now,
                     removed_at=removed_at.isoformat(), open_case=successor)
        if successor is not None:
            # The URL was submitted again meanwhile: that open case carries it on.
            transition(session, case, CaseStatus.CLOSED, actor=SYSTEM, now=now,
                       reason=f"reappeared; case {successor} is open for this URL")
            schedule.stop_checking(case)
            return
        transition(session, case, CaseStatus.REAPPEARED, actor=SYSTEM, now=now)
        case.removed_at = None
        case.gone_streak, case.gone_streak_started_at, case.last_gone_at = 0, None, None
        schedule.after_reappearance(case, settings, now, rng)
        return
    if now - removed_at >= settings.reappearance_window:
        transition(session, case, CaseStatus.CLOSED, actor=SYSTEM, now=now,
                   reason="not seen again during the reappearance window")
        schedule.stop_checking(case)
        return
    schedule.after_removal(case, settings, now, rng)


async def prune_check_history(svc: Services, *, now: datetime | None = None) -> int:
    """Delete unmarked checks of cases closed more than the retention ago (one batch)."""
    now = now or svc.clock()
    expired = select(Case.id).where(
        Case.status == CaseStatus.CLOSED.value,
        Case.updated_at < now - svc.settings.check_retention)
    victims = (select(Check.id)
               .where(Check.case_id.in_(expired), Check.mark.is_(None))
               .limit(PRUNE_BATCH))
    async with svc.sessions() as session, session.begin():
        ids = list(await session.scalars(victims))
        if ids:
            await session.execute(delete(Check).where(Check.id.in_(ids))
                                  .execution_options(synchronize_session=False))
    return len(ids)

