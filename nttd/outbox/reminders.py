"""Reminders: a provider that leaves its cases online is chased, letter after letter.

`NTTD_REMINDER_SCHEDULE` (default `24h,48h,72h`) gives the times after a first notice
to a host, registrar or CDN was sent at which a reminder goes to the same recipient
(so by default one a day for three days). Each reminder is a notice of its own
(`step = "reminder"`, `reminder_of` = the first notice), written with the reminder
wording of the same letter, listing only the first notice's cases that are still
online (routed, notified, monitoring or reappeared: not removed, closed, held or
sent back to an analyst). Once none is left, the chase ends. Each reminder leaves a
`reminder_queued` event on each case it lists, and `reminder_sent` once delivered.

A reminder that falls due late (the workers were stopped) goes out once, and the next
one keeps its distance from it. A reminder (or escalation) that falls on a quiet day
(`NTTD_QUIET_DAYS`, `NTTD_HOLIDAYS`: `nttd.outbox.calendar`) waits for the next
working day. Partner hotlines are not chased here (they report status themselves).

After the last reminder, the same wake-up (`next_reminder_at` on the first notice)
climbs the escalation ladder, one rung a gap apart (`nttd.outbox.escalation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from nttd.cases import REROUTABLE, record_event
from nttd.db import claim
from nttd.models import Case, Notice, NoticeCase
from nttd.outbox.calendar import next_working_time
from nttd.outbox.escalation import escalate
from nttd.outbox.status import NoticeStatus
from nttd.services import Services
from nttd.settings import WEEKDAYS, Settings

SYSTEM = "system:outbox"
CHASED_KINDS = frozenset({"host", "registrar", "cdn"})
STILL_ONLINE = frozenset(s.value for s in REROUTABLE)


def last_gap(schedule: Sequence[timedelta]) -> timedelta:
    """The schedule's last step: the time between its last two entries (or its only one).
    The last reminder is followed by the first escalation this long after, and each rung
    of the ladder by the next."""
    return schedule[-1] - schedule[-2] if len(schedule) > 1 else schedule[0]


def working_time(when: datetime, settings: Settings) -> datetime:
    """`when`, or the start of the next working day if it falls on a quiet day."""
    if not settings.quiet_days and not settings.holidays:
        return when
    quiet = [WEEKDAYS.index(day) for day in settings.quiet_days]
    zone = UTC if settings.timezone == "UTC" else ZoneInfo(settings.timezone)
    return next_working_time(when, quiet, settings.holidays, zone)


def first_reminder_at(notice: Notice, sent_at: datetime, svc: Services) -> datetime | None:
    """When the first reminder of a just-sent notice falls due (None: never chased)."""
    if notice.step != "notice" or notice.recipient_kind not in CHASED_KINDS:
        return None
    return working_time(sent_at + svc.settings.reminder_schedule[0], svc.settings)


async def queue_due_reminders(svc: Services, *, limit: int = 20) -> int:
    """Queue the reminders and escalations that are due; returns how many first notices
    were looked at."""
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        ids = await claim(
            session, Notice, where=[Notice.next_reminder_at <= now],
            order_by=Notice.next_reminder_at, limit=limit, owner=svc.worker_id, now=now,
            lease_until=now + svc.settings.lease_duration,
        )
    for notice_id in ids:
        await _queue_one(svc, notice_id, now)
    return len(ids)


async def _queue_one(svc: Services, notice_id: int, now: datetime) -> None:
    settings = svc.settings
    schedule = settings.reminder_schedule
    async with svc.sessions() as session, session.begin():
        first = await session.get(Notice, notice_id)
        if first is None or first.lease_owner != svc.worker_id:
            return
        first.lease_owner = first.lease_until = None
        online = list(await session.scalars(
            select(Case).join(NoticeCase, NoticeCase.case_id == Case.id)
            .where(NoticeCase.notice_id == first.id, Case.status.in_(STILL_ONLINE))
            .order_by(Case.id)))
        if not online or first.sent_at is None:
            first.next_reminder_at = None  # every case is down, held or closed: done
            return
        if first.reminders_sent >= len(schedule):
            await escalate(session, settings, first, online, now,
                           gap=last_gap(schedule), at=lambda t: working_time(t, settings))
            return
        number = first.reminders_sent + 1
        reminder = Notice(
            recipient_kind=first.recipient_kind, channel=first.channel, address=first.address,
            recipient_name=first.recipient_name, hotline_id=first.hotline_id,
            language=first.language, status=NoticeStatus.QUEUED.value, attempts=0,
            next_attempt_at=now, created_at=now, step="reminder", reminder_of=first.id,
            chase_step=f"reminder-{number}",
        )
        session.add(reminder)
        await session.flush()
        for case in online:
            session.add(NoticeCase(notice_id=reminder.id, case_id=case.id))
            record_event(session, case.id, "reminder_queued", actor=SYSTEM, now=now,
                         notice_id=reminder.id, reminder_of=first.id, number=number)
        first.reminders_sent = number
        if number < len(schedule):
            gap = schedule[number] - schedule[number - 1]
            due = max(first.sent_at + schedule[number], now + gap)
        elif settings.escalation_ladder:
            gap = last_gap(schedule)
            due = max(first.sent_at + schedule[-1] + gap, now + gap)
        else:
            first.next_reminder_at = None
            return
        first.next_reminder_at = working_time(due, settings)
