"""JSON views of cases: what the API returns. URLs appear exactly only as JSON
string values for machines, and defanged for people (`url_defanged`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notices.defang import defang
from nttd.models import Case, Check, Event, Hotline, Notice, NoticeCase
from nttd.stats import case_times


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
    session: AsyncSession, case: Case, *, now: datetime, include_notices: bool = True
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
             "method": c.method, "location": c.location, "peer_ip": c.peer_ip,
             "latency_ms": c.latency_ms, "error": c.error}
            for c in await session.scalars(
                select(Check).where(Check.case_id == case.id).order_by(Check.id))
        ],
        "timeline": [
            {"at": iso(e.at), "actor": e.actor, "kind": e.kind, "data": e.data}
            for e in await session.scalars(
                select(Event).where(Event.case_id == case.id).order_by(Event.id))
        ],
    })
    if include_notices:
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
