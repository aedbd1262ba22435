"""Reading cases for a principal: the access rules, the lists and the views.

Who sees what is decided here, once, for the API and the web UI alike:
analysts (and admins) see every case; a partner hotline sees only the cases
routed to it, and a case it may not see looks exactly like no case at all
(`CaseNotFound`). Views are JSON-ready dicts; URLs appear exactly only as JSON
string values for machines, and defanged for people (`url_defanged`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notices.defang import defang
from nttd.auth import Principal, Role
from nttd.cases.clocks import case_times
from nttd.cases.lifecycle import CaseStatus
from nttd.models import Case, Check, Event, Hotline, Notice, NoticeCase, User

MAX_PAGE = 1000


class CaseNotFound(LookupError):
    """No such case, or one the principal may not see (the two look the same)."""


class QueryError(ValueError):
    """A malformed list query (unknown status, bad paging); the message says which."""


@dataclass(frozen=True)
class CaseFilter:
    """Which cases to list, and which page (limit 1..MAX_PAGE, offset >= 0)."""

    status: str | None = None
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in set(CaseStatus):
            allowed = ", ".join(s.value for s in CaseStatus)
            raise QueryError(f"unknown status {self.status[:40]!r}; one of {allowed}")
        if not 1 <= self.limit <= MAX_PAGE or self.offset < 0:
            raise QueryError(f"limit must be 1 to {MAX_PAGE} and offset at least 0")


def may_see(principal: Principal, case: Case) -> bool:
    """The access rule for one case."""
    if principal.can(Role.ANALYST):
        return True
    return (principal.role is Role.PARTNER and case.route_kind == "partner"
            and case.route_hotline_id is not None
            and case.route_hotline_id == principal.hotline_id)


async def visible_case(session: AsyncSession, principal: Principal, case_id: int) -> Case:
    """The case, if `principal` may see it; CaseNotFound otherwise."""
    case = await session.get(Case, case_id)
    if case is None or not may_see(principal, case):
        raise CaseNotFound("no such case")
    return case


async def list_cases(session: AsyncSession, principal: Principal,
                     where: CaseFilter) -> dict[str, Any]:
    """A page of the cases `principal` may list (analysts), newest first."""
    if not principal.can(Role.ANALYST):
        raise CaseNotFound("no such list")
    query = select(Case).order_by(Case.id.desc())
    if where.status is not None:
        query = query.where(Case.status == where.status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    cases = list(await session.scalars(query.limit(where.limit).offset(where.offset)))
    return {"total": total, "cases": [case_summary(c) for c in cases]}


async def partner_inbox(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    """The cases routed to the principal's hotline."""
    if principal.hotline_id is None:
        return []
    cases = await session.scalars(
        select(Case).where(Case.route_hotline_id == principal.hotline_id,
                           Case.route_kind == "partner").order_by(Case.id))
    return [case_summary(c) for c in cases]


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "url": case.url,
        "url_defanged": defang(case.canonical_url),
        "canonical_url": case.canonical_url,
        "host": case.host,
        "status": case.status,
        "country": case.country,
        "asn": case.asn,
        "route": case.route_kind,
        "reference": case.reference,
        "classification": case.classification,
        "content_type": case.content_type,
        "confirmed_at": iso(case.confirmed_at),
        "created_at": iso(case.created_at),
        "removed_at": iso(case.removed_at),
    }


async def case_detail(
    session: AsyncSession, case: Case, principal: Principal, *, now: datetime
) -> dict[str, Any]:
    """Everything about a case that `principal` may see.

    Analysts (and admins) see it all. A partner hotline sees what it needs to act:
    the URL, the hosting facts (without who corrected them), the checks and the
    clocks, its own events in full, and of the rest only the milestones (received,
    status changes, reappearance, moves) without their details: never another
    partner's identity, contact or notes, nor the analysts' notes, notices or errors.
    """
    if principal.can(Role.ANALYST):
        return await _full_detail(session, case, now=now)
    data = await _full_detail(session, case, now=now, with_notices=False)
    data.pop("last_error", None)
    data["facts"] = _facts_for_partner(case.facts)
    own_actors = {f"user:{name}" for name in await session.scalars(
        select(User.name).where(User.hotline_id == principal.hotline_id))}
    data["timeline"] = [view for view in (_event_for_partner(e, own_actors)
                                          for e in data["timeline"]) if view is not None]
    return data


# What a partner sees of the events of others: the kind, when, and these keys.
PARTNER_MILESTONES: dict[str, tuple[str, ...]] = {
    "received": (),
    "status": ("old", "new"),
    "resolved": (),
    "moved": ("old", "new"),
    "reappeared": ("removed_at",),
}


def _event_for_partner(event: dict[str, Any], own_actors: set[str]) -> dict[str, Any] | None:
    if event["actor"] in own_actors:
        return event
    keys = PARTNER_MILESTONES.get(event["kind"])
    if keys is None:
        return None
    data = event["data"] or {}
    actor = event["actor"] if str(event["actor"]).startswith("system:") else "hotline"
    return {"at": event["at"], "actor": actor, "kind": event["kind"],
            "data": {k: data[k] for k in keys if k in data} or None}


def _facts_for_partner(facts: dict[str, Any] | None) -> dict[str, Any] | None:
    if facts is None:
        return None
    shown = dict(facts)
    shown["provenance"] = {
        path: {k: v for k, v in origin.items() if not (origin.get("source") == "manual"
                                                       and k == "detail")}
        for path, origin in (facts.get("provenance") or {}).items() if isinstance(origin, dict)
    }
    return shown


async def _full_detail(
    session: AsyncSession, case: Case, *, now: datetime, with_notices: bool = True
) -> dict[str, Any]:
    data = case_summary(case)
    hotline = (await session.get(Hotline, case.route_hotline_id)
               if case.route_hotline_id is not None else None)
    to_removal, notice_to_removal = case_times(case, now)
    data.update({
        "facts": case.facts,
        "route": {"kind": case.route_kind, "hotline": hotline.code if hotline else None},
        "last_error": case.last_error,
        "clocks": {
            "confirmed_at": iso(case.confirmed_at),
            "first_notice_at": iso(case.first_notice_at),
            "removed_at": iso(case.removed_at),
            "hold_seconds": case.hold_seconds,
            "on_hold_since": iso(case.hold_started_at),
            "time_to_removal_seconds": to_removal[0] if to_removal[1] else None,
            "notice_to_removal_seconds": (
                notice_to_removal[0] if notice_to_removal and notice_to_removal[1] else None),
        },
        "checks": [
            {"checked_at": iso(c.checked_at), "verdict": c.verdict, "status_code": c.status_code,
             "method": c.method, "location": c.location,
             # A Location header can be kilobytes long: people see its first 500 characters.
             "location_defanged": defang(c.location, max_len=500) if c.location else None,
             "peer_ip": c.peer_ip, "latency_ms": c.latency_ms, "error": c.error}
            for c in await session.scalars(
                select(Check).where(Check.case_id == case.id).order_by(Check.id))
        ],
        "timeline": [
            {"at": iso(e.at), "actor": e.actor, "kind": e.kind, "data": e.data}
            for e in await session.scalars(
                select(Event).where(Event.case_id == case.id).order_by(Event.id))
        ],
    })
    if with_notices:
        data["notices"] = [
            {"id": n.id, "recipient_kind": n.recipient_kind, "channel": n.channel,
             "address": n.address, "status": n.status, "attempts": n.attempts,
             "sent_at": iso(n.sent_at), "next_attempt_at": iso(n.next_attempt_at),
             "last_error": n.last_error}
            for n in await session.scalars(
                select(Notice).join(NoticeCase, NoticeCase.notice_id == Notice.id)
                .where(NoticeCase.case_id == case.id).order_by(Notice.id))
        ]
    return data
