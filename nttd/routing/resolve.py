"""The resolve step: received cases get their hosting facts and a route.

A case is claimed (status `resolving` with a lease), resolved outside any
transaction, then its facts, route and queued notices are written in one
transaction. "Could not find out" (SERVFAIL, timeouts) puts it back to
`received` with a backoff; a fact that it cannot be resolved makes it
`unresolvable` for an analyst.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select

from nttd.cases import CaseStatus, record_event, store_facts, transition
from nttd.db import claim
from nttd.models import Case
from nttd.routing.route import SYSTEM, route_case
from nttd.services import Services
from resolvers.resolve import Resolution, resolve_url

log = logging.getLogger(__name__)
MAX_RESOLVE_ATTEMPTS = 8
# Cases claimed per round, and resolved at the same time. A round waits for its
# slowest case, leaving slots idle at its end: 50 per round (5 waves of 10, was 2)
# idles them less often and claims less often. The number at once stays at 10:
# each stores its result on a pooled connection (nttd.db: 20 per process, shared
# with the other steps; PostgreSQL's max_connections bounds them all). A round must
# finish within NTTD_LEASE_DURATION, or another worker takes its cases again.
RESOLVE_BATCH = 50
RESOLVE_CONCURRENCY = 10


def resolve_backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


async def resolve_due_cases(svc: Services, *, limit: int = RESOLVE_BATCH,
                            concurrency: int = RESOLVE_CONCURRENCY) -> int:
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
            try:
                resolution = await resolve_url(url, svc.resolver_context)
                await store_resolution(svc, case_id, resolution)
            except Exception as exc:  # one case never takes the others down
                log.exception("case %s: could not resolve or store it; retried later", case_id)
                await _set_aside(svc, case_id, f"could not resolve: {exc}")

    await asyncio.gather(*(one(case_id, url) for case_id, url in jobs))
    return len(jobs)


async def _set_aside(svc: Services, case_id: int, error: str) -> None:
    """Back to `received` with a backoff (best effort: else its lease expires)."""
    now = svc.clock()
    try:
        async with svc.sessions() as session, session.begin():
            case = await session.get(Case, case_id)
            if case is None or case.lease_owner != svc.worker_id:
                return
            case.lease_owner = case.lease_until = None
            if case.status != CaseStatus.RESOLVING:
                return
            case.resolve_attempts += 1
            case.last_error = error[:500]
            transition(session, case, CaseStatus.RECEIVED, actor=SYSTEM, now=now,
                       reason="retry later: " + case.last_error)
            case.next_resolve_at = now + resolve_backoff(case.resolve_attempts)
    except Exception:
        log.exception("case %s: could not set it aside either", case_id)


async def store_resolution(svc: Services, case_id: int, resolution: Resolution) -> None:
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        if case is None or case.lease_owner != svc.worker_id:
            return  # our lease expired and someone else took it
        case.lease_owner = case.lease_until = None
        if case.status != CaseStatus.RESOLVING:
            return  # put on hold or closed meanwhile
        case.facts = facts = resolution.to_json()
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
        store_facts(case, facts)
        transition(session, case, CaseStatus.RESOLVED, actor=SYSTEM, now=now)
        await route_case(session, svc, case, now=now)
