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

from nttd.cases import record_event
from nttd.db import claim
from nttd.lifecycle import CaseStatus
from nttd.models import Case
from nttd.overrides import REROUTABLE, OverrideError, reroute
from nttd.resolving import route_for
from nttd.routing import Route
from nttd.services import Services
from resolvers.resolve import resolve_url

SYSTEM = "system:moves"


def network_view(facts: dict[str, Any]) -> dict[str, Any]:
    """The parts of the facts whose change is a move."""
    hosting = facts.get("hosting") or {}
    return {
        "ips": sorted(facts.get("ips") or []),
        "asn": hosting.get("asn"),
        "prefix": hosting.get("prefix"),
        "country": hosting.get("country"),
        "cdn": (facts.get("cdn") or {}).get("name"),
    }


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


def _who(route: Route) -> set[Any]:
    """Who must act under a route: its hotline and its recipients."""
    return {(r.kind, r.channel, r.address) for r in route.recipients} | {route.hotline_id}


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
            case.next_reresolve_at = now + svc.settings.reresolve_interval
            if case.status not in REROUTABLE or case.facts is None:
                continue
            if resolution.unresolvable or resolution.retryable:
                continue
            old = case.facts
            new = keep_manual(old, resolution.to_json())
            before, after = network_view(old), network_view(new)
            if before == after:
                continue
            route_changed = (_who(await route_for(session, svc, old))
                             != _who(await route_for(session, svc, new)))
            record_event(session, case.id, "moved", actor=SYSTEM, now=now,
                         old=before, new=after, rerouted=route_changed)
            case.facts = new
            hosting = new.get("hosting") or {}
            case.country, case.asn = hosting.get("country"), hosting.get("asn")
            if route_changed and case.status != CaseStatus.HOLD:
                try:
                    async with session.begin_nested():
                        await reroute(session, svc, case, actor=SYSTEM, now=now)
                except OverrideError as exc:
                    record_event(session, case.id, "reroute_failed", actor=SYSTEM, now=now,
                                 reason=str(exc))
    return len(jobs)
