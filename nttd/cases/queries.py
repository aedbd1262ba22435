"""Reading cases for a principal: the access rules, the lists and the views.

Who sees what is decided here, once, for the API and the web UI alike:
analysts (and admins) see every case; a coordinator sees the cases flagged for it
(`nttd.cases.flags`); a partner hotline sees only the cases routed to it, and a
case it may not see looks exactly like no case at all (`CaseNotFound`). Views are
JSON-ready dicts; URLs appear exactly only as JSON string values for machines, and
defanged for people (`url_defanged`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from notices.defang import defang
from nttd.auth import Principal, Role
from nttd.cases.clocks import case_times
from nttd.cases.lifecycle import CaseStatus
from nttd.models import Case, Check, Event, Hotline, Notice, NoticeCase, User

MAX_PAGE = 1000
_T = TypeVar("_T")
ROUTES = ("partner", "direct", "none")


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
    country: str | None = None         # ISO 3166 alpha-2 of the hosting
    partner: str | None = None         # code of the hotline the case is routed to
    route: str | None = None           # partner | direct | none (not routed yet)
    classification: str | None = None  # exact
    host: str | None = None            # a part of the host name (case-insensitive)
    flagged: bool | None = None        # True: flagged for the coordinator; False: not

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in set(CaseStatus):
            allowed = ", ".join(s.value for s in CaseStatus)
            raise QueryError(f"unknown status {self.status[:40]!r}; one of {allowed}")
        if not 1 <= self.limit <= MAX_PAGE or self.offset < 0:
            raise QueryError(f"limit must be 1 to {MAX_PAGE} and offset at least 0")
        if self.country is not None and not (
                len(self.country) == 2 and self.country.isascii() and self.country.isalpha()):
            raise QueryError("country must be a two-letter ISO 3166 code")
        if self.route is not None and self.route not in ROUTES:
            raise QueryError(f"route must be one of {', '.join(ROUTES)}")
        for name in ("partner", "classification", "host"):
            value = getattr(self, name)
            if value is not None and len(value) > 255:
                raise QueryError(f"{name} is too long (at most 255 characters)")


def may_see(principal: Principal, case: Case) -> bool:
    """The access rule for one case."""
    if principal.can(Role.ANALYST):
        return True
    if principal.role is Role.COORDINATOR:
        return case.flagged_at is not None  # a coordinator sees what is flagged to it
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
    """A page of the cases `principal` may list (analysts; a coordinator: the flagged
    ones), newest first."""
    if principal.role is Role.COORDINATOR:
        where = dataclasses.replace(where, flagged=True)
    elif not principal.can(Role.ANALYST):
        raise CaseNotFound("no such list")
    query = _filtered(select(Case).order_by(Case.id.desc()), where)
    # Counted without the ORDER BY and the row: on 100,000 cases this is the
    # difference between a scan of the table and one of an index.
    total = await session.scalar(_filtered(select(func.count(Case.id)), where))
    cases = list(await session.scalars(query.limit(where.limit).offset(where.offset)))
    return {"total": total, "cases": [case_summary(c) for c in cases]}


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(query: Select[_T], where: CaseFilter) -> Select[_T]:
    if where.status is not None:
        query = query.where(Case.status == where.status)
    if where.country is not None:
        query = query.where(Case.country == where.country.upper())
    if where.route == "none":
        query = query.where(Case.route_kind.is_(None))
    elif where.route is not None:
        query = query.where(Case.route_kind == where.route)
    if where.partner is not None:
        query = query.where(Case.route_kind == "partner", Case.route_hotline_id.in_(
            select(Hotline.id).where(Hotline.code == where.partner)))
    if where.classification is not None:
        query = query.where(Case.classification == where.classification)
    if where.flagged is not None:
        query = query.where(Case.flagged_at.is_not(None) if where.flagged
                            else Case.flagged_at.is_(None))
    if where.host:
        # Host names are stored lower-case (canonical form); the pattern's own
        # wildcards are escaped, so "_" and "%" match themselves.
        pattern = "%" + _like_escaped(where.host.strip().lower()) + "%"
        query = query.where(Case.host.like(pattern, escape="\\"))
    return query


async def partner_inbox(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    """The cases routed to the principal's hotline."""
    if principal.hotline_id is None:
        return []
    cases = await session.scalars(
        select(Case).where(Case.route_hotline_id == principal.hotline_id,
                           Case.route_kind == "partner").order_by(Case.id))
    return [_without_flag(case_summary(c)) for c in cases]


def _without_flag(data: dict[str, Any]) -> dict[str, Any]:
    """A partner does not see the coordinator's flag (nor why it was raised)."""
    for key in ("flagged", "flag_reason", "flagged_at"):
        data.pop(key, None)
    return data


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
        "flagged": case.flagged_at is not None,
        "flag_reason": case.flag_reason,
        "flagged_at": iso(case.flagged_at),
    }


async def case_detail(
    session: AsyncSession, case: Case, principal: Principal, *, now: datetime
) -> dict[str, Any]:
    """Everything about a case that `principal` may see.

    Analysts (and admins) see it all, and so does a coordinator on a case flagged to
    it (`may_see`). A partner hotline sees what it needs to act:
    the URL, the hosting facts (without who corrected them), the checks and the
    clocks, its own events in full, and of the rest only the milestones (received,
    status changes, reappearance, moves) without their details: never another
    partner's identity, contact or notes, nor the analysts' notes, notices or errors.
    """
    if principal.can(Role.ANALYST, Role.COORDINATOR):
        return await _full_detail(session, case, now=now)
    data = _without_flag(await _full_detail(session, case, now=now, with_notices=False))
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
            {"id": n.id, "recipient_kind": n.recipient_kind, "step": n.step,
             "chase_step": n.chase_step or n.step, "channel": n.channel,
             "address": n.address, "status": n.status, "attempts": n.attempts,
             "sent_at": iso(n.sent_at),
             # The next attempt only while one is coming (queued or being sent).
             "next_attempt_at": iso(n.next_attempt_at)
             if n.status in ("queued", "sending") else None,
             "last_error": n.last_error, "envelope_from": n.envelope_from,
             "first_failure_at": iso(n.first_failure_at)}
            for n in await session.scalars(
                select(Notice).join(NoticeCase, NoticeCase.notice_id == Notice.id)
                .where(NoticeCase.case_id == case.id).order_by(Notice.id))
        ]
    return data


# --- for the web UI's pages (added with the web UI) ---

async def notice_texts(session: AsyncSession, principal: Principal,
                       case: Case) -> dict[int, dict[str, str | None]]:
    """The subject and body of every notice covering `case`, as sent (analysts
    only, and a coordinator on a case flagged to it: a partner never sees the notices).
    The letters carry URLs defanged already; any exact copy of the case's URL is
    defanged here too."""
    if not (principal.can(Role.ANALYST) or may_see(principal, case)) or (
            principal.role is Role.PARTNER):
        return {}
    exact = sorted({case.url, case.canonical_url}, key=len, reverse=True)

    def shown(text: str | None) -> str | None:
        if text is None:
            return None
        for url in exact:
            text = text.replace(url, defang(url))
        return text

    rows = await session.execute(
        select(Notice.id, Notice.subject, Notice.body)
        .join(NoticeCase, NoticeCase.notice_id == Notice.id)
        .where(NoticeCase.case_id == case.id))
    return {notice_id: {"subject": shown(subject), "body": shown(body)}
            for notice_id, subject, body in rows}


async def inbox_answered(session: AsyncSession, principal: Principal) -> set[int]:
    """The cases of the partner's inbox that its hotline has acknowledged or
    reported on (the others are new to it)."""
    if principal.hotline_id is None:
        return set()
    actors = select(literal("user:").concat(User.name)).where(
        User.hotline_id == principal.hotline_id)
    rows = await session.scalars(
        select(Event.case_id).join(Case, Case.id == Event.case_id)
        .where(Case.route_hotline_id == principal.hotline_id, Case.route_kind == "partner",
               Event.kind.like("reported\\_%", escape="\\"), Event.actor.in_(actors))
        .distinct())
    return {case_id for case_id in rows if case_id is not None}
