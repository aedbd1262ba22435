"""The partner acknowledgement deadline (`NTTD_PARTNER_ACK_DEADLINE`).

A case routed to a partner hotline whose route went out (`first_notice_at`: the
webhook or e-mail sent, or the case put in an inbox-only partner's inbox) more than
the deadline ago, still online (routed, notified, monitoring or reappeared: not on
hold, not removed or closed) and not acknowledged by the partner (`acknowledged_at`)
is flagged to the network coordinator, once per case (`ack_overdue_at` records it;
a coordinator clearing the flag does not bring it back).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from nttd.cases import REROUTABLE, flag_case
from nttd.models import Case, Hotline
from nttd.services import Services

SYSTEM = "system:exchange"
REASON = "partner did not acknowledge in time"
BATCH = 200
_ONLINE = [s.value for s in REROUTABLE]


def _overdue(cutoff: datetime):  # type: ignore[no-untyped-def]
    return (Case.route_kind == "partner", Case.route_hotline_id.is_not(None),
            Case.acknowledged_at.is_(None), Case.ack_overdue_at.is_(None),
            Case.status.in_(_ONLINE), Case.first_notice_at.is_not(None),
            Case.first_notice_at <= cutoff)


async def flag_unacknowledged(svc: Services) -> int:
    """Flag the routed cases whose partner missed the deadline; returns how many."""
    now = svc.clock()
    deadline = svc.settings.partner_ack_deadline
    async with svc.sessions() as session, session.begin():
        rows = await session.execute(
            select(Case, Hotline.code).join(Hotline, Hotline.id == Case.route_hotline_id)
            .where(*_overdue(now - deadline)).order_by(Case.id).limit(BATCH))
        flagged = 0
        for case, code in rows:
            assert case.first_notice_at is not None
            case.ack_overdue_at = now
            flag_case(session, case, REASON, actor=SYSTEM, now=now, partner=code,
                      routed_at=case.first_notice_at.isoformat(),
                      deadline_hours=round(deadline / timedelta(hours=1), 3))
            flagged += 1
    return flagged


async def next_deadline(svc: Services, now: datetime) -> datetime | None:
    """When the next routed case's acknowledgement deadline passes after `now`."""
    deadline = svc.settings.partner_ack_deadline
    async with svc.read_sessions() as session:
        earliest = await session.scalar(
            select(func.min(Case.first_notice_at)).where(
                Case.route_kind == "partner", Case.acknowledged_at.is_(None),
                Case.ack_overdue_at.is_(None), Case.status.in_(_ONLINE),
                Case.first_notice_at > now - deadline))
    return None if earliest is None else earliest + deadline
