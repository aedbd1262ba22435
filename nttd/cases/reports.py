"""What a partner hotline reports back about a case routed to it.

A report is an event on the case (`reported_<status>`). `hold` also puts the
case on law-enforcement hold; `removed` and `moved` ask for a check now, because
only our own checks confirm removal. A report that cannot be applied (a hold on
a case that cannot be held) changes nothing and writes no event.

A report may carry an idempotency key (the API's `Idempotency-Key` header; another
nttd instance sends one per status report): the key is kept on the event, and a
report whose key this actor already used on this case is a repeat
(`repeated_report`) to be answered as before and not applied again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import schedule
from nttd.cases.events import record_event
from nttd.cases.hold import hold
from nttd.cases.lifecycle import HOLDABLE, InvalidTransition
from nttd.models import Case, Event

PARTNER_STATUSES = ("acknowledged", "notice_sent", "removed", "moved", "not_illegal", "hold")


class ReportError(ValueError):
    """The report is malformed; nothing was changed."""


async def repeated_report(session: AsyncSession, case: Case, *, actor: str, key: str) -> bool:
    """Whether `actor` already made a report on `case` with the idempotency `key`."""
    kinds = [f"reported_{status}" for status in PARTNER_STATUSES]
    found = await session.scalars(select(Event.data).where(
        Event.case_id == case.id, Event.actor == actor, Event.kind.in_(kinds)))
    return any(isinstance(data, dict) and data.get("idempotency_key") == key
               for data in found)


def report_status(session: AsyncSession, case: Case, status: str, *, note: str | None,
                  actor: str, now: datetime, idempotency_key: str | None = None) -> None:
    """Record a partner's report (ReportError or InvalidTransition: nothing written)."""
    if status not in PARTNER_STATUSES:
        raise ReportError(f"'status' must be one of {', '.join(PARTNER_STATUSES)}")
    if status == "hold" and case.status not in HOLDABLE:
        raise InvalidTransition(f"a case that is {case.status} cannot be put on hold")
    keyed = {"idempotency_key": idempotency_key} if idempotency_key else {}
    record_event(session, case.id, f"reported_{status}", actor=actor, now=now, note=note,
                 **keyed)
    if status == "acknowledged" and case.acknowledged_at is None:
        case.acknowledged_at = now  # the clock "time to acknowledgement" stops here
    if status == "hold":
        hold(session, case, actor=actor, now=now, note=note)
    elif status in ("removed", "moved"):
        schedule.check_now(case, now)
