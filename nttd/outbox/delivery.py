"""The notice outbox: notices are rows first and messages second.

Routing queues a notice per recipient (`nttd.outbox.queue`); the delivery
worker claims due notices, renders
them from their cases, sends them and records the outcome. A notice that could
not be delivered stays queued with a later `next_attempt_at` — nothing is lost
when SMTP or a partner's webhook is down. Cases on law-enforcement hold are
taken out of a notice before it is sent (they are queued again on release).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from notices.errors import DeliveryError, NoticeError
from notices.mail import build_message, send_message
from notices.render import NoticeItem, Party, RenderedNotice
from notices.webhook import post_webhook
from nttd.cases import CaseFacts, CaseStatus, record_event
from nttd.db import claim
from nttd.models import Case, Hotline, Notice, NoticeCase
from nttd.outbox.status import NoticeStatus, check_notice_transition
from nttd.services import Services

log = logging.getLogger(__name__)
SYSTEM = "system:outbox"


def retry_delay(attempts: int, schedule: Sequence[timedelta]) -> timedelta:
    return schedule[min(max(attempts, 1), len(schedule)) - 1]


async def deliver_due_notices(svc: Services, *, limit: int = 20) -> int:
    """Deliver the notices that are due; returns how many were attempted."""
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        ids = await claim(
            session, Notice,
            where=[Notice.status == NoticeStatus.QUEUED, Notice.next_attempt_at <= now],
            order_by=Notice.next_attempt_at, limit=limit, owner=svc.worker_id, now=now,
            lease_until=now + svc.settings.lease_duration,
        )
    for notice_id in ids:
        await _deliver_one(svc, notice_id)
    return len(ids)


async def _sender(session: AsyncSession, svc: Services) -> Party:
    me = await session.scalar(select(Hotline).where(Hotline.is_self.is_(True)).limit(1))
    name = me.name if me is not None else "nttd"
    country = me.countries[0] if me is not None and me.countries else svc.settings.home_country
    return Party(name=name, email=svc.settings.notice_from, country=country)


async def _deliver_one(svc: Services, notice_id: int) -> None:
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        notice = await session.get(Notice, notice_id)
        if (notice is None or notice.lease_owner != svc.worker_id
                or notice.status != NoticeStatus.QUEUED):
            return
        cases = list(
            await session.scalars(
                select(Case).join(NoticeCase, NoticeCase.case_id == Case.id)
                .where(NoticeCase.notice_id == notice.id).order_by(Case.id)
            )
        )
        held = [c for c in cases if c.status == CaseStatus.HOLD]
        for case in held:
            await session.execute(delete(NoticeCase).where(
                NoticeCase.notice_id == notice.id, NoticeCase.case_id == case.id))
            record_event(session, case.id, "notice_deferred_hold", actor=SYSTEM, now=now,
                         notice_id=notice.id)
        active = [c for c in cases if c.status != CaseStatus.HOLD]
        if not active:
            _set_status(notice, NoticeStatus.CANCELLED)
            notice.lease_owner = notice.lease_until = None
            return
        secret = None
        if notice.hotline_id is not None:
            hotline = await session.get(Hotline, notice.hotline_id)
            secret = hotline.webhook_secret if hotline is not None else None
        sender = await _sender(session, svc)
    try:
        rendered = svc.renderer.render(
            notice.recipient_kind, notice.language,
            items=[_item(c) for c in active],
            sender=sender,
            recipient=Party(name=notice.recipient_name,
                            email=notice.address if notice.channel == "email" else None),
            now=now,
        )
    except (NoticeError, ValueError) as exc:
        # A template problem does not heal by waiting: fail loudly, keep the cases.
        await _record_failure(svc, notice_id, f"cannot render the notice: {exc}",
                              temporary=False)
        return
    try:
        await _send(svc, notice.channel, notice.address, rendered, secret)
    except DeliveryError as exc:
        await _record_failure(svc, notice_id, str(exc), temporary=exc.temporary)
        return
    sent_at = svc.clock()
    async with svc.sessions() as session, session.begin():
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        _set_status(notice, NoticeStatus.SENT)
        notice.sent_at = sent_at
        notice.attempts += 1
        notice.subject, notice.body, notice.payload = (
            rendered.subject, rendered.body, rendered.payload)
        notice.last_error = None
        notice.lease_owner = notice.lease_until = None
        for case in active:
            fresh = await session.get(Case, case.id)
            assert fresh is not None
            if fresh.first_notice_at is None or fresh.first_notice_at > sent_at:
                fresh.first_notice_at = sent_at
            record_event(session, case.id, "notice_sent", actor=SYSTEM, now=sent_at,
                         notice_id=notice_id, recipient_kind=notice.recipient_kind,
                         channel=notice.channel, address=notice.address)


def _set_status(notice: Notice, new: NoticeStatus) -> None:
    notice.status = check_notice_transition(notice.status, new).value


def _item(case: Case) -> NoticeItem:
    hosting = CaseFacts.from_json(case.facts).hosting
    return NoticeItem(
        reference=f"NTTD-{case.id}",
        url=case.canonical_url,
        host=case.host,
        ip=hosting.ip if hosting is not None else None,
        classification=case.classification,
        content_type=case.content_type,
        confirmed_at=case.confirmed_at,
    )


async def _send(
    svc: Services, channel: str, address: str, rendered: RenderedNotice, secret: str | None
) -> None:
    if channel == "webhook":
        if not secret:
            raise DeliveryError("the partner has a webhook_url but no webhook_secret",
                                temporary=False)
        await post_webhook(address, rendered.payload, secret, svc.http)
        return
    if svc.smtp is None:
        raise DeliveryError("no SMTP server configured (NTTD_SMTP_URL); notice stays queued",
                            temporary=True)
    if not svc.settings.notice_from:
        raise DeliveryError("no sender address configured (NTTD_NOTICE_FROM)", temporary=True)
    message = build_message(rendered, from_addr=svc.settings.notice_from, to_addrs=[address])
    await send_message(message, svc.smtp)


async def _record_failure(svc: Services, notice_id: int, error: str, *, temporary: bool) -> None:
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        notice.attempts += 1
        notice.last_error = error
        notice.lease_owner = notice.lease_until = None
        if temporary:
            notice.next_attempt_at = now + retry_delay(
                notice.attempts, svc.settings.notice_retry_schedule)
            log.warning("notice %s not delivered (attempt %s), will retry: %s",
                        notice_id, notice.attempts, error)
            return
        _set_status(notice, NoticeStatus.FAILED)
        log.error("notice %s failed permanently: %s", notice_id, error)
        case_ids = await session.scalars(
            select(NoticeCase.case_id).where(NoticeCase.notice_id == notice_id))
        for case_id in case_ids:
            record_event(session, case_id, "notice_failed", actor=SYSTEM, now=now,
                         notice_id=notice_id, error=error)
