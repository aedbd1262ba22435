"""The check step: routed and notified cases are checked until removal is confirmed.

Removal rule: `NTTD_REMOVAL_CONFIRMATIONS` gone verdicts (404, 410, NXDOMAIN) in a
row, each at least `NTTD_REMOVAL_CONFIRM_SPACING` after the last one counted; a
gone verdict that comes sooner is recorded but not counted; any other verdict
breaks the streak. `removed_at` is the time of the first check of the streak.
After removal the URL keeps being checked on `NTTD_REAPPEARANCE_SCHEDULE` for
`NTTD_REAPPEARANCE_WINDOW`; if it is online again the case reopens as
`reappeared`; after the window the case is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import record_event, transition
from nttd.checker import GONE_VERDICTS, CheckResult, Verdict
from nttd.db import claim
from nttd.lifecycle import CHECKED_STATUSES, CaseStatus
from nttd.models import Case, Check
from nttd.services import Services
from nttd.settings import Settings

SYSTEM = "system:checker"


async def check_due_cases(svc: Services, *, limit: int = 50, concurrency: int = 20) -> int:
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        ids = await claim(
            session, Case,
            where=[Case.status.in_([s.value for s in CHECKED_STATUSES]),
                   Case.next_check_at <= now],
            order_by=Case.next_check_at, limit=limit, owner=svc.worker_id, now=now,
            lease_until=now + svc.settings.lease_duration,
        )
        jobs = list((await session.execute(
            select(Case.id, Case.canonical_url).where(Case.id.in_(ids)))).all())
    gate = asyncio.Semaphore(concurrency)

    async def one(case_id: int, url: str) -> None:
        async with gate:
            result = await svc.checker.check(url)
            await store_check(svc, case_id, result)

    await asyncio.gather(*(one(case_id, url) for case_id, url in jobs))
    return len(jobs)


def _step(schedule: Sequence[timedelta], index: int) -> timedelta:
    return schedule[min(max(index, 0), len(schedule) - 1)]


def reappearance_delay(schedule: Sequence[timedelta], since_removal: timedelta) -> timedelta:
    """The schedule step we are in, counting from removal."""
    elapsed = timedelta(0)
    for step in schedule:
        elapsed += step
        if since_removal < elapsed:
            return step
    return schedule[-1]


async def store_check(svc: Services, case_id: int, result: CheckResult) -> None:
    now = result.checked_at
    async with svc.sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        if case is None or case.lease_owner != svc.worker_id:
            return
        case.lease_owner = case.lease_until = None
        if case.status not in CHECKED_STATUSES:
            return  # put on hold or closed while we were checking
        session.add(Check(
            case_id=case.id, checked_at=now, verdict=result.verdict.value,
            status_code=result.status_code, method=result.method, location=result.location,
            peer_ip=result.peer_ip, latency_ms=result.latency_ms, error=result.error,
        ))
        case.check_count += 1
        apply_verdict(session, case, result.verdict, now=now, settings=svc.settings)


def apply_verdict(
    session: AsyncSession, case: Case, verdict: Verdict, *, now: datetime, settings: Settings
) -> None:
    gone = verdict in GONE_VERDICTS
    if case.status == CaseStatus.REMOVED:
        assert case.removed_at is not None
        if verdict == Verdict.ONLINE:
            record_event(session, case.id, "reappeared", actor=SYSTEM, now=now,
                         removed_at=case.removed_at.isoformat())
            transition(session, case, CaseStatus.REAPPEARED, actor=SYSTEM, now=now)
            case.reappeared_count += 1
            case.removed_at = None
            case.gone_streak, case.gone_streak_started_at, case.last_gone_at = 0, None, None
            case.next_check_at = now + settings.recheck_schedule[0]
            return
        if now - case.removed_at >= settings.reappearance_window:
            transition(session, case, CaseStatus.CLOSED, actor=SYSTEM, now=now,
                       reason="not seen again during the reappearance window")
            case.next_check_at = None
            return
        case.next_check_at = now + reappearance_delay(
            settings.reappearance_schedule, now - case.removed_at)
        return

    if case.status in (CaseStatus.ROUTED, CaseStatus.NOTIFIED):
        transition(session, case, CaseStatus.MONITORING, actor=SYSTEM, now=now)
    if gone:
        spacing = settings.removal_confirm_spacing
        if case.gone_streak == 0 or case.last_gone_at is None:
            case.gone_streak, case.gone_streak_started_at, case.last_gone_at = 1, now, now
        elif now - case.last_gone_at >= spacing:
            case.gone_streak += 1
            case.last_gone_at = now
        if case.gone_streak >= settings.removal_confirmations:
            case.removed_at = case.gone_streak_started_at
            transition(session, case, CaseStatus.REMOVED, actor=SYSTEM, now=now,
                       removed_at=case.removed_at.isoformat() if case.removed_at else None,
                       confirmations=case.gone_streak)
            case.next_check_at = now + settings.reappearance_schedule[0]
            return
        assert case.last_gone_at is not None
        case.next_check_at = max(case.last_gone_at + spacing, now + timedelta(milliseconds=1))
        return
    case.gone_streak, case.gone_streak_started_at, case.last_gone_at = 0, None, None
    case.next_check_at = now + _step(settings.recheck_schedule, case.check_count - 1)
