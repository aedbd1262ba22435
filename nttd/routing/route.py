"""Routing a case: the route the directory gives its facts now, and its notices.

`route_case` routes a case just resolved (`route_cases` a round of them at once);
`reroute` routes it again after an analyst's correction or a move (notices not
sent yet are withdrawn, and a route that keeps the same recipients sends nothing
new); `release_case` takes a case off hold and queues again the notice the hold
kept back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import (
    REROUTABLE,
    CaseFacts,
    CaseStatus,
    record_event,
    release,
    schedule,
    transition,
)
from nttd.models import Case, Hotline
from nttd.outbox import (
    bad_among,
    has_queued_notice,
    queue_notices,
    queue_notices_many,
    withdraw_queued,
)
from nttd.routing.decide import Route, decide_route
from nttd.services import Services

SYSTEM = "system:resolver"


class RoutingError(ValueError):
    """The case cannot be routed (nobody to notify); nothing was changed."""


async def route_for(session: AsyncSession, svc: Services, facts: CaseFacts) -> Route:
    """The route that the hotline directory and settings give these facts now (abuse
    addresses marked bad left out)."""
    return (await routes_for(session, svc, [facts]))[0]


async def routes_for(session: AsyncSession, svc: Services,
                     facts: Sequence[CaseFacts]) -> list[Route]:
    """`route_for` of each of `facts`: one read of the directory and one of the bad
    addresses for them all."""
    hotlines = list(await session.scalars(select(Hotline)))
    addresses = [a for f in facts for a in _abuse_addresses(f)]
    bad = frozenset(a.strip().lower() for a in await bad_among(session, addresses, svc.clock()))
    return [decide_route(f, hotlines, svc.settings.home_country, bad) for f in facts]


def _abuse_addresses(facts: CaseFacts) -> list[str]:
    addresses = [a for part in (facts.hosting, facts.cdn, facts.registrar) if part is not None
                 for a in part.abuse_emails]
    if facts.hosting is not None:
        addresses += facts.hosting.as_abuse_emails
    return addresses


async def route_case(session: AsyncSession, svc: Services, case: Case, *, now: datetime) -> None:
    """Decide the route of a resolved case and queue its notices."""
    await route_cases(session, svc, [case], now=now)


async def route_cases(session: AsyncSession, svc: Services, cases: Sequence[Case], *,
                      now: datetime) -> None:
    """`route_case` for cases just resolved together: their routes and notices in a few
    statements (`routes_for`, `queue_notices_many`), the changes of the cases left to
    the session's next flush (one UPDATE per case, not one per step)."""
    with session.no_autoflush:
        routes = await routes_for(session, svc, [CaseFacts.from_json(c.facts) for c in cases])
        routed: list[tuple[Case, Route]] = []
        for case, route in zip(cases, routes, strict=True):
            if route.kind == "none":
                case.last_error = route.reason
                transition(session, case, CaseStatus.UNRESOLVABLE, actor=SYSTEM, now=now,
                           reason=route.reason)
            else:
                routed.append((case, route))
        notice_ids = await queue_notices_many(
            session, [(case, route.recipients) for case, route in routed], now=now,
            batch_window=svc.settings.notice_batch_window)
        for (case, route), ids in zip(routed, notice_ids, strict=True):
            case.route_kind = route.kind
            case.route_hotline_id = route.hotline_id
            transition(session, case, route.case_status, actor=SYSTEM, now=now,
                       reason=route.reason, hotline=route.hotline_code, notices=ids,
                       recipients=[{"kind": r.kind, "channel": r.channel, "address": r.address}
                                   for r in route.recipients])
            if route.kind == "partner" and not route.recipients and case.first_notice_at is None:
                case.first_notice_at = now  # inbox only: the route is "sent" when in the inbox
            schedule.schedule_first_check(case, svc.settings, now)


async def reroute(
    session: AsyncSession, svc: Services, case: Case, *, actor: str, now: datetime,
    previous: CaseFacts | None = None,
) -> bool:
    """Route a case again from its (corrected) facts; unsent notices are withdrawn.
    RoutingError when nobody could be notified. With the `previous` facts, a route
    that keeps the same hotline and recipients changes nothing and sends nothing
    (False is returned; a `route_kept` event says so)."""
    route = await route_for(session, svc, CaseFacts.from_json(case.facts))
    if route.kind == "none":
        raise RoutingError(f"still no one to notify: {route.reason}")
    if (previous is not None and case.status != CaseStatus.UNRESOLVABLE
            and (await route_for(session, svc, previous)).who() == route.who()):
        record_event(session, case.id, "route_kept", actor=actor, now=now, reason=route.reason)
        return False
    await withdraw_queued(session, case)
    if case.status == CaseStatus.UNRESOLVABLE:
        transition(session, case, CaseStatus.RESOLVED, actor=actor, now=now,
                   reason="facts corrected by an analyst")
        transition(session, case, route.case_status, actor=actor, now=now, reason=route.reason)
        schedule.check_now(case, now, start=True)
    case.route_kind, case.route_hotline_id = route.kind, route.hotline_id
    schedule.schedule_reresolve(case, svc.settings, now, keep=True)
    notice_ids = await queue_notices(session, case, route.recipients, now=now,
                                     batch_window=svc.settings.notice_batch_window)
    record_event(session, case.id, "rerouted", actor=actor, now=now, reason=route.reason,
                 hotline=route.hotline_code, notices=notice_ids)
    return True


async def release_case(
    session: AsyncSession, svc: Services, case: Case, *, actor: str, now: datetime,
    note: str | None,
) -> None:
    """Take a case off hold (InvalidTransition if it is not on hold), and queue
    again, once, the notice it never got.

    Its status may have moved on to monitoring before the hold (a check does not
    wait for the notice); a notice it is still attached to will carry it."""
    release(session, case, actor=actor, now=now, note=note)
    if case.first_notice_at is not None or case.status not in REROUTABLE:
        return
    if await has_queued_notice(session, case):
        return
    route = await route_for(session, svc, CaseFacts.from_json(case.facts))
    await queue_notices(session, case, route.recipients, now=now,
                        batch_window=svc.settings.notice_batch_window)
