"""Move detection: open cases are re-resolved on a slow schedule.

A new address set, network (ASN or prefix) or country is recorded as a move
(ICCAM's "moved") with the old and new facts; when the move changes who must
act, the case is routed again (queued notices to the old recipients are
withdrawn). The clocks keep running: a move is not a removal. Facts an analyst
overrode (provenance `manual`) are kept over what the resolver now says.
DNS trouble is not a move: a retryable or unresolvable answer only reschedules.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from nttd.cases import REROUTABLE, CaseFacts, CaseStatus, record_event, schedule, store_facts
from nttd.db import claim
from nttd.models import Case
from nttd.routing.route import RoutingError, reroute, route_for
from nttd.services import Services
from resolvers.resolve import resolve_url

SYSTEM = "system:moves"


def keep_manual(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Carry the analyst's overrides (and their provenance) into fresh facts."""
    provenance = dict(new.get("provenance") or {})
    for path, origin in (old.get("provenance") or {}).items():
        if not isinstance(origin, dict) or origin.get("source") != "manual":
            continue
        section, _, name = path.partition(".")
        if not name:
            new[section] = old.get(section)
        else:
            target = dict(new.get(section) or {})
            target[name] = (old.get(section) or {}).get(name)
            new[section] = target
        provenance[path] = origin
    if provenance:
        new["provenance"] = provenance
    return new


async def reresolve_due_cases(svc: Services, *, limit: int = 20) -> int:
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        ids = await claim(
            session, Case,
            where=[Case.status.in_([s.value for s in REROUTABLE]),
                   Case.next_reresolve_at <= now],
            order_by=Case.next_reresolve_at, limit=limit, owner=svc.worker_id, now=now,
            lease_until=now + svc.settings.lease_duration,
        )
        jobs = list((await session.execute(
            select(Case.id, Case.canonical_url).where(Case.id.in_(ids)))).all())
    context = svc.uncached_resolver_context
    results = await asyncio.gather(*(resolve_url(url, context) for _, url in jobs))
    for (case_id, _), resolution in zip(jobs, results, strict=True):
        now = svc.clock()
        async with svc.sessions() as session, session.begin():
            case = await session.get(Case, case_id)
            if case is None or case.lease_owner != svc.worker_id:
                continue
            case.lease_owner = case.lease_until = None
            schedule.schedule_reresolve(case, svc.settings, now)
            if case.status not in REROUTABLE or case.facts is None:
                continue
            if resolution.unresolvable or resolution.retryable:
                continue
            old = case.facts
            new = keep_manual(old, resolution.to_json())
            old_view, new_view = CaseFacts.from_json(old), CaseFacts.from_json(new)
            before, after = old_view.network(), new_view.network()
            if before == after:
                continue
            route_changed = ((await route_for(session, svc, old_view)).who()
                             != (await route_for(session, svc, new_view)).who())
            record_event(session, case.id, "moved", actor=SYSTEM, now=now,
                         old=before, new=after, rerouted=route_changed)
            store_facts(case, new)
            if route_changed and case.status != CaseStatus.HOLD:
                try:
                    async with session.begin_nested():
                        await reroute(session, svc, case, actor=SYSTEM, now=now)
                except RoutingError as exc:
                    record_event(session, case.id, "reroute_failed", actor=SYSTEM, now=now,
                                 reason=str(exc))
    return len(jobs)
