"""The resolve step: received cases get their hosting facts and a route.

A case is claimed (status `resolving` with a lease), resolved outside any
transaction, then its facts, route and queued notices are written in one
transaction, together with the other cases of its round that finished resolving
meanwhile (`store_resolutions`: a few statements per write, not per case).
"Could not find out" (SERVFAIL, timeouts) puts it back to `received` with a
backoff; a fact that it cannot be resolved makes it `unresolvable` for an analyst.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import CaseStatus, record_event, store_facts, transition
from nttd.db import claim
from nttd.models import Case
from nttd.routing.route import SYSTEM, route_cases
from nttd.services import Services
from resolvers.resolve import Resolution, resolve_url

log = logging.getLogger(__name__)
MAX_RESOLVE_ATTEMPTS = 8
# Cases claimed per round, and resolved at the same time. A round waits for its
# slowest case, leaving slots idle at its end: 50 per round (5 waves of 10, was 2)
# idles them less often and claims less often. Results are stored by one writer
# per round (`store_resolutions`), so a resolution holds no connection of its own;
# 25 at once was tried and finished sooner, but then a host's next cases were more
# often resolved in another process before its first answer reached the shared
# fact cache (DNS queries per (host, type) 1.02-1.13 in bench/intake.py; 1.0 with
# 10). A round must finish within NTTD_LEASE_DURATION, or another worker takes its
# cases again.
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
    # Resolutions finish one by one; the writer below stores every one finished since
    # its last write in one transaction (one while it writes, then the rest at once).
    finished: asyncio.Queue[tuple[int, Resolution | None]] = asyncio.Queue()

    async def one(case_id: int, url: str) -> None:
        resolution = None
        try:
            async with gate:
                resolution = await resolve_url(url, svc.resolver_context)
        except Exception as exc:  # one case never takes the others down
            log.exception("case %s: could not resolve it; retried later", case_id)
            await _set_aside(svc, case_id, f"could not resolve: {exc}")
        finally:
            finished.put_nowait((case_id, resolution))

    tasks = [asyncio.create_task(one(case_id, url)) for case_id, url in jobs]
    try:
        left = len(tasks)
        while left:
            batch = [await finished.get()]
            while not finished.empty():
                batch.append(finished.get_nowait())
            left -= len(batch)
            await _store_batch(svc, [(c, r) for c, r in batch if r is not None])
    finally:
        for task in tasks:
            task.cancel()  # only when the writer itself was cancelled: none is left
    return len(jobs)


async def _store_batch(svc: Services, items: list[tuple[int, Resolution]]) -> None:
    """Store resolutions in one transaction; if that fails, each in its own, so a case
    that cannot be stored is set aside alone and the others go on."""
    if not items:
        return
    if len(items) > 1:
        try:
            await store_resolutions(svc, items)
            return
        except Exception:
            log.warning("storing %d resolutions together failed; storing them one by one",
                        len(items), exc_info=True)
    for case_id, resolution in items:
        try:
            await store_resolutions(svc, [(case_id, resolution)])
        except Exception as exc:  # one case never takes the others down
            log.exception("case %s: could not store its resolution; retried later", case_id)
            await _set_aside(svc, case_id, f"could not resolve: {exc}")


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
    await store_resolutions(svc, [(case_id, resolution)])


async def store_resolutions(svc: Services, items: Sequence[tuple[int, Resolution]]) -> None:
    """Write the facts, events, routes and notices of resolved cases in one transaction
    (all of them or none: a crash leaves every one leased, to be resolved again). The
    cases are read in one query, routed together (`route_cases`) and written at the
    commit: one UPDATE per case, with its events, in a handful of statements."""
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        with session.no_autoflush:
            cases = {case.id: case for case in await session.scalars(
                select(Case).where(Case.id.in_([case_id for case_id, _ in items])))}
            to_route = []
            for case_id, resolution in items:
                case = cases.get(case_id)
                if case is None or case.lease_owner != svc.worker_id:
                    continue  # our lease expired and someone else took it
                if settle_resolution(session, case, resolution, now=now):
                    to_route.append(case)
            if to_route:
                await route_cases(session, svc, to_route, now=now)


def settle_resolution(session: AsyncSession, case: Case, resolution: Resolution, *,
                      now: datetime) -> bool:
    """Give a leased case its resolution: its facts and the `resolved` event, then back
    to `received` (retry later), on to `unresolvable`, or `resolved`. True when it is
    resolved and must now be routed. Changes the objects only (the caller writes)."""
    case.lease_owner = case.lease_until = None
    if case.status != CaseStatus.RESOLVING:
        return False  # put on hold or closed meanwhile
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
            return False
        transition(session, case, CaseStatus.RECEIVED, actor=SYSTEM, now=now,
                   reason="retry later: " + case.last_error)
        case.next_resolve_at = now + resolve_backoff(case.resolve_attempts)
        return False
    if resolution.unresolvable:
        case.last_error = "; ".join(resolution.errors) or "unresolvable"
        transition(session, case, CaseStatus.UNRESOLVABLE, actor=SYSTEM, now=now,
                   reason=case.last_error)
        return False
    store_facts(case, facts)
    transition(session, case, CaseStatus.RESOLVED, actor=SYSTEM, now=now)
    return True
