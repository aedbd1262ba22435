"""The resolve step: received cases get their hosting facts and a route.

A case is claimed (status `resolving` with a lease), resolved outside any
transaction, then its facts, route and queued notices are written in one
transaction. "Could not find out" (SERVFAIL, timeouts) puts it back to
`received` with a backoff; a fact that it cannot be resolved makes it
`unresolvable` for an analyst.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import record_event, transition
from nttd.db import claim
from nttd.lifecycle import CaseStatus
from nttd.models import Case, Hotline, Notice, NoticeCase
from nttd.outbox import queue_notices
from nttd.routing import Route, decide_route
from nttd.services import Services
from resolvers.resolve import Resolution, resolve_url

SYSTEM = "system:resolver"
# Statuses of a routed case that is owed a notice until its first one goes out.
NOTICE_EXPECTED = frozenset({CaseStatus.ROUTED, CaseStatus.NOTIFIED, CaseStatus.MONITORING,
                             CaseStatus.REAPPEARED})
MAX_RESOLVE_ATTEMPTS = 8


def resolve_backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


async def resolve_due_cases(svc: Services, *, limit: int = 20, concurrency: int = 10) -> int:
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        ids = await claim(
            session, Case,
            where=[Case.status.in_([CaseStatus.RECEIVED.value, CaseStatus.RESOLVING.value]),
                   Case.next_resolve_at <= now],
            order_by=Case.next_resolve_at, limit=limit, owner=svc.worker_id, now=now,
            lease_until=now + svc.settings.lease_duration,
        )
        jobs = []
        for case in await session.scalars(select(Case).where(Case.id.in_(ids))):
            if case.status == CaseStatus.RECEIVED:
                transition(session, case, CaseStatus.RESOLVING, actor=SYSTEM, now=now)
            jobs.append((case.id, case.canonical_url))
    gate = asyncio.Semaphore(concurrency)

    async def one(case_id: int, url: str) -> None:
        async with gate:
            resolution = await resolve_url(url, svc.resolver_context)
            await store_resolution(svc, case_id, resolution)

    await asyncio.gather(*(one(case_id, url) for case_id, url in jobs))
    return len(jobs)


async def store_resolution(svc: Services, case_id: int, resolution: Resolution) -> None:
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        if case is None or case.lease_owner != svc.worker_id:
            return  # our lease expired and someone else took it
        case.lease_owner = case.lease_until = None
        if case.status != CaseStatus.RESOLVING:
            return  # put on hold or closed meanwhile
        case.facts = resolution.to_json()
        hosting = resolution.hosting
        disagreement = ({"registry": hosting.country, "geoip": hosting.geoip_country}
                        if hosting is not None and hosting.geoip_disagrees else None)
        record_event(session, case.id, "resolved", actor=SYSTEM, now=now,
                     errors=list(resolution.errors), unresolvable=resolution.unresolvable,
                     retryable=resolution.retryable,
                     **({"country_disagreement": disagreement} if disagreement else {}))
        if resolution.retryable and not resolution.unresolvable:
            case.resolve_attempts += 1
            case.last_error = "; ".join(resolution.errors)
            if case.resolve_attempts >= MAX_RESOLVE_ATTEMPTS:
                transition(session, case, CaseStatus.UNRESOLVABLE, actor=SYSTEM, now=now,
                           reason=f"gave up after {case.resolve_attempts} attempts")
                return
            transition(session, case, CaseStatus.RECEIVED, actor=SYSTEM, now=now,
                       reason="retry later: " + case.last_error)
            case.next_resolve_at = now + resolve_backoff(case.resolve_attempts)
            return
        if resolution.unresolvable:
            case.last_error = "; ".join(resolution.errors) or "unresolvable"
            transition(session, case, CaseStatus.UNRESOLVABLE, actor=SYSTEM, now=now,
                       reason=case.last_error)
            return
        case.country = hosting.country if hosting is not None else None
        case.asn = hosting.asn if hosting is not None else None
        transition(session, case, CaseStatus.RESOLVED, actor=SYSTEM, now=now)
        await route_case(session, svc, case, now=now)


async def route_for(session: AsyncSession, svc: Services, facts: dict[str, Any] | None) -> Route:
    """The route that the hotline directory and settings give these facts now."""
    hotlines = list(await session.scalars(select(Hotline)))
    return decide_route(facts or {}, hotlines, svc.settings.home_country)


async def route_case(session: AsyncSession, svc: Services, case: Case, *, now: datetime) -> None:
    """Decide the route of a resolved case and queue its notices."""
    route = await route_for(session, svc, case.facts)
    if route.kind == "none":
        case.last_error = route.reason
        transition(session, case, CaseStatus.UNRESOLVABLE, actor=SYSTEM, now=now,
                   reason=route.reason)
        return
    case.route_kind = route.kind
    case.route_hotline_id = route.hotline_id
    notice_ids = await queue_notices(session, case, route.recipients, now=now,
                                     batch_window=svc.settings.notice_batch_window)
    new = CaseStatus.ROUTED if route.kind == "partner" else CaseStatus.NOTIFIED
    transition(session, case, new, actor=SYSTEM, now=now, reason=route.reason,
               hotline=route.hotline_code, notices=notice_ids,
               recipients=[{"kind": r.kind, "channel": r.channel, "address": r.address}
                           for r in route.recipients])
    if route.kind == "partner" and not route.recipients and case.first_notice_at is None:
        case.first_notice_at = now  # inbox only: the route is "sent" when it is in the inbox
    case.next_check_at = now + svc.settings.recheck_schedule[0]
    case.next_reresolve_at = now + svc.settings.reresolve_interval


async def requeue_after_release(
    session: AsyncSession, svc: Services, case: Case, *, now: datetime
) -> None:
    """A released case that never got its notice: queue it again (once).

    Its status may have moved on to monitoring before the hold (a check does not
    wait for the notice); a notice it is still attached to will carry it."""
    if case.first_notice_at is None and case.status in NOTICE_EXPECTED:
        pending = await session.scalar(
            select(NoticeCase.notice_id).join(Notice, Notice.id == NoticeCase.notice_id)
            .where(NoticeCase.case_id == case.id, Notice.status == "queued").limit(1))
        if pending is not None:
            return
        route = await route_for(session, svc, case.facts)
        await queue_notices(session, case, route.recipients, now=now,
                            batch_window=svc.settings.notice_batch_window)
