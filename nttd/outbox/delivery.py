"""The notice outbox: notices are rows first and messages second.

Routing queues a notice per recipient (`nttd.outbox.queue`); the delivery
worker claims due notices, renders
them from their cases, sends them and records the outcome. A notice that could
not be delivered stays queued with a later `next_attempt_at` — nothing is lost
when SMTP or a partner's webhook is down. Cases on law-enforcement hold are
taken out of a notice before it is sent (they are queued again on release).

The letter's language is chosen when the notice is rendered (`notices.language_for`):
the partner hotline's language, else the language of the recipient's country
(`NTTD_COUNTRY_LANGUAGES`; for a host the hosting country of its cases, the most
common one; a registrar's or CDN's country is not known, so they get English), else
English. E-mail notices to a provider carry one X-ARF report per URL, built from the
rendered payload at each attempt (the same reports again after a crash). A notice to a
host, registrar or CDN prints its signed response link (`nttd.responses`) when
NTTD_PUBLIC_URL is set.

An e-mail notice needs the sender address (`NTTD_NOTICE_FROM`, also the X-ARF
reporter's contact): without it the notice is not rendered and stays queued, retried
like an SMTP outage - a configuration gap, not a fault of the notice.

Failures (`notices.errors.DeliveryError`):
- temporary: the notice stays queued and is tried again after `retry_delay`: the
  explicit `NTTD_NOTICE_RETRY_SCHEDULE` if set, else exponential backoff from 1m
  doubling up to 4h with up to 20% jitter. When the recipient itself keeps failing
  (SMTP 4xx at RCPT, a partner's webhook down or erroring) for `NTTD_NOTICE_GIVE_UP`
  (5d) from its first such failure, the notice gives up: for a provider that is a
  permanent failure of the contact (below); for a partner hotline, the notice fails
  and its cases are flagged for the coordinator. Our own relay being unreachable
  (or no SMTP configured) is retried without end: it is not the recipient's fault.
- permanent: the notice fails (`notice_failed` on its cases). When it is the
  address's own refusal (SMTP 5xx at RCPT TO) of a provider's contact, the address
  is marked bad and the cases go to the next contact (`nttd.outbox.fallback`).
  A queued notice to an address marked bad meanwhile is not sent: it fails the
  same way without trying.

Each e-mail goes out from a VERP envelope sender naming the notice
(`notices.verp`, tag keyed with the link key of `nttd.responses`), and is
DKIM-signed when NTTD_DKIM_* are set.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import secrets
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notices.errors import DeliveryError, NoticeError
from notices.language import language_for
from notices.mail import DkimConfig, build_message, load_dkim_key, send_message
from notices.render import NoticeItem, Party, RenderedNotice
from notices.verp import make_verp
from notices.webhook import post_webhook
from notices.xarf_reports import build_reports
from nttd.cases import REROUTABLE, CaseFacts, CaseStatus, flag_case, record_event
from nttd.db import claim
from nttd.models import Case, Hotline, Notice, NoticeCase
from nttd.outbox.bad_contacts import bad_until
from nttd.outbox.fallback import PARTNER_UNREACHABLE, contact_failed, is_provider_contact
from nttd.outbox.reminders import first_reminder_at
from nttd.outbox.status import NoticeStatus, check_notice_transition
from nttd.responses import link_key, response_url
from nttd.services import Services
from nttd.settings import Settings

log = logging.getLogger(__name__)
SYSTEM = "system:outbox"


FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=4)
RETRY_JITTER = 0.2  # each exponential wait is up to this much longer, at random


def retry_delay(attempts: int, schedule: Sequence[timedelta],
                rng: random.Random | None = None) -> timedelta:
    """The wait after the `attempts`-th failed attempt: the explicit schedule (its
    last entry repeats), or with none 1m, 2m, 4m ... up to 4h, plus jitter."""
    if schedule:
        return schedule[min(max(attempts, 1), len(schedule)) - 1]
    doubled = FIRST_RETRY * 2 ** min(max(attempts, 1) - 1, 16)
    jitter: float = 1 + RETRY_JITTER * (rng or random).random()
    wait: timedelta = min(doubled, LONGEST_RETRY) * jitter
    return wait


@functools.lru_cache(maxsize=4)
def dkim_config(settings: Settings) -> DkimConfig | None:
    """The DKIM signing settings, or None when they are not set (checked at start)."""
    if not (settings.dkim_key_file and settings.dkim_selector and settings.dkim_domain):
        return None
    return DkimConfig(settings.dkim_selector, settings.dkim_domain,
                      load_dkim_key(settings.dkim_key_file))


async def deliver_due_notices(svc: Services, *, limit: int = 20) -> int:
    """Deliver the notices that are due; returns how many were attempted.

    A notice left `sending` by a worker that died is claimed again once its lease
    has expired. One notice that cannot be handled is logged and retried later;
    it never holds up the others."""
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        ids = await claim(
            session, Notice,
            where=[or_(and_(Notice.status == NoticeStatus.QUEUED,
                            Notice.next_attempt_at <= now),
                        Notice.status == NoticeStatus.SENDING)],
            order_by=Notice.next_attempt_at, limit=limit, owner=svc.worker_id, now=now,
            lease_until=now + svc.settings.lease_duration,
        )
    for notice_id in ids:
        try:
            await _deliver_one(svc, notice_id)
        except Exception as exc:  # one notice never stops the round
            log.exception("notice %s: delivery step failed", notice_id)
            with contextlib.suppress(Exception):
                await _record_failure(svc, notice_id, f"internal error: {exc}"[:500],
                                      temporary=True, contact=False)
    return len(ids)


async def _sender(session: AsyncSession, svc: Services) -> Party:
    me = await session.scalar(select(Hotline).where(Hotline.is_self.is_(True)).limit(1))
    name = me.name if me is not None else "nttd"
    country = me.countries[0] if me is not None and me.countries else svc.settings.home_country
    return Party(name=name, email=svc.settings.notice_from, country=country)


def _message_id(notice_id: int, domain: str) -> str:
    return f"<nttd-notice-{notice_id}.{secrets.token_hex(8)}@{domain}>"


def _domain(svc: Services) -> str:
    sender = svc.settings.notice_from or ""
    return sender.rpartition("@")[2] or "nttd.invalid"


async def _prepare(svc: Services, notice_id: int) -> tuple[RenderedNotice, str | None] | None:
    """Render the notice and commit it as `sending` (or, for a notice a dead worker
    left `sending`, take what it rendered then). None: nothing to send."""
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        # Locked: a worker whose claim on this notice ran out (a long batch) must not
        # go on once another has claimed it, and one that goes on renews its lease
        # (below) so that nobody claims the notice while it is being sent.
        notice = await session.get(Notice, notice_id, with_for_update=True)
        if notice is None or notice.lease_owner != svc.worker_id:
            return None
        notice.lease_until = now + svc.settings.lease_duration
        secret, partner_language = None, None
        if notice.hotline_id is not None:
            hotline = await session.get(Hotline, notice.hotline_id)
            if hotline is not None:
                secret, partner_language = hotline.webhook_secret, hotline.language
        if notice.status == NoticeStatus.SENDING and notice.payload is not None:
            log.warning("notice %s was being sent when its worker stopped: sending it again "
                        "with the same Message-ID", notice_id)
            return RenderedNotice(kind=notice.recipient_kind, language=notice.language,
                                  subject=notice.subject or "", body=notice.body or "",
                                  payload=notice.payload), secret
        if notice.status != NoticeStatus.QUEUED:
            return None
        if is_provider_contact(notice):
            # An address marked bad since this notice was queued is not written to.
            until = await bad_until(session, notice.address, now)
            if until is not None:
                error = (f"not sent: {notice.address} is marked bad until "
                         f"{until.isoformat()} (a refusal or bounce)")
                notice.lease_owner = notice.lease_until = None
                case_ids = list(await session.scalars(
                    select(NoticeCase.case_id).where(NoticeCase.notice_id == notice.id)))
                _fail(session, notice, case_ids, error, now, attempted=False)
                await contact_failed(session, svc.settings, notice, reason=error,
                                     source="smtp", now=now, mark=False)
                return None
        cases = list(
            await session.scalars(
                select(Case).join(NoticeCase, NoticeCase.case_id == Case.id)
                .where(NoticeCase.notice_id == notice.id).order_by(Case.id)
            )
        )
        held = [c for c in cases if c.status == CaseStatus.HOLD]
        for case in held if notice.step == "notice" else ():
            await session.execute(delete(NoticeCase).where(
                NoticeCase.notice_id == notice.id, NoticeCase.case_id == case.id))
            record_event(session, case.id, "notice_deferred_hold", actor=SYSTEM, now=now,
                         notice_id=notice.id)
        active = [c for c in cases if c.status != CaseStatus.HOLD]
        if notice.step in ("reminder", "escalation"):
            # A reminder (an escalation) lists only what is still online when it goes out.
            for case in [c for c in cases if c.status not in REROUTABLE]:
                await session.execute(delete(NoticeCase).where(
                    NoticeCase.notice_id == notice.id, NoticeCase.case_id == case.id))
            active = [c for c in active if c.status in REROUTABLE]
        if not active:
            _set_status(notice, NoticeStatus.CANCELLED)
            notice.lease_owner = notice.lease_until = None
            return None
        if notice.channel == "email" and not svc.settings.notice_from:
            _postpone(svc, notice, "no sender address configured (NTTD_NOTICE_FROM)", now)
            return None
        sender = await _sender(session, svc)
        country = _recipient_country(notice.recipient_kind, active)
        language = language_for(
            partner_language if notice.recipient_kind == "partner" else None, country,
            dict(svc.settings.country_languages), svc.renderer.languages(notice.recipient_kind))
        # The provider's signed answer link (nttd.responses), made when the letter is.
        reply_url = await response_url(session, svc.settings, notice, now)
        try:
            rendered = svc.renderer.render(
                notice.recipient_kind, language,
                items=[_item(c) for c in active],
                sender=sender,
                recipient=Party(name=notice.recipient_name,
                                email=notice.address if notice.channel == "email" else None,
                                country=country),
                now=now,
                step=notice.step,
                respond_by=now + svc.settings.reminder_schedule[0],
                texts=svc.settings.letter_texts(),
                reply_url=reply_url,
            )
        except (NoticeError, ValueError) as exc:
            # A template problem does not heal by waiting: fail loudly, keep the cases.
            error = f"cannot render the notice: {exc}"
            _fail(session, notice, [c.id for c in active], error, now)
            return None
        _set_status(notice, NoticeStatus.SENDING)
        notice.language = rendered.language
        notice.message_id = notice.message_id or _message_id(notice.id, _domain(svc))
        if notice.channel == "email" and notice.envelope_from is None:
            key = await link_key(session, svc.settings, create=True)
            assert key is not None
            notice.envelope_from = make_verp(
                svc.settings.bounce_address or svc.settings.notice_from or "", notice.id, key)
        notice.subject, notice.body, notice.payload = (
            rendered.subject, rendered.body, rendered.payload)
    return rendered, secret


async def _deliver_one(svc: Services, notice_id: int) -> None:
    prepared = await _prepare(svc, notice_id)
    if prepared is None:
        return
    rendered, secret = prepared
    async with svc.sessions() as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None and notice.message_id is not None
        channel, address, message_id = notice.channel, notice.address, notice.message_id
        envelope_from = notice.envelope_from
    try:
        await _send(svc, channel, address, rendered, secret, message_id, envelope_from)
    except DeliveryError as exc:
        await _record_failure(svc, notice_id, str(exc), temporary=exc.temporary,
                              contact=exc.contact)
        return
    sent_at = svc.clock()
    async with svc.sessions() as session, session.begin():
        notice = await session.get(Notice, notice_id, with_for_update=True)
        assert notice is not None
        if notice.status == NoticeStatus.SENT:  # sent meanwhile by a worker that took over
            log.warning("notice %s was also sent by another worker (the same Message-ID)",
                        notice_id)
            return
        _set_status(notice, NoticeStatus.SENT)
        notice.sent_at = sent_at
        notice.attempts += 1
        notice.last_error = None
        notice.lease_owner = notice.lease_until = None
        notice.next_reminder_at = first_reminder_at(notice, sent_at, svc)
        case_ids = list(await session.scalars(
            select(NoticeCase.case_id).where(NoticeCase.notice_id == notice_id)))
        event = f"{notice.step}_sent"  # notice_sent, reminder_sent, escalation_sent
        chase_step = notice.chase_step or notice.step
        for case in await session.scalars(select(Case).where(Case.id.in_(case_ids))):
            if case.first_notice_at is None or case.first_notice_at > sent_at:
                case.first_notice_at = sent_at
            case.chase_step = chase_step  # the last letter of the chase listing it
            record_event(session, case.id, event, actor=SYSTEM, now=sent_at,
                         notice_id=notice_id, recipient_kind=notice.recipient_kind,
                         channel=notice.channel, address=notice.address)


def _set_status(notice: Notice, new: NoticeStatus) -> None:
    notice.status = check_notice_transition(notice.status, new).value


def _recipient_country(kind: str, cases: Sequence[Case]) -> str | None:
    """The recipient's country as far as we know it: where its cases are hosted (a host,
    a partner hotline). A registrar's or CDN's own country is not among the facts."""
    if kind not in ("host", "partner"):
        return None
    countries = Counter(c.country for c in cases if c.country)
    return countries.most_common(1)[0][0] if countries else None


def _item(case: Case) -> NoticeItem:
    hosting = CaseFacts.from_json(case.facts).hosting
    return NoticeItem(
        reference=f"NTTD-{case.id}",
        # The URL exactly as the analyst submitted it: the canonical URL is our dedup
        # key (normalised, RFC 3986 6.2.2), not necessarily what the host's logs show.
        url=case.url,
        host=case.host,
        ip=hosting.ip if hosting is not None else None,
        classification=case.classification,
        content_type=case.content_type,
        confirmed_at=case.confirmed_at,
    )


async def _send(
    svc: Services, channel: str, address: str, rendered: RenderedNotice, secret: str | None,
    message_id: str, envelope_from: str | None = None,
) -> None:
    if channel == "webhook":
        if not secret:
            raise DeliveryError("the partner has a webhook_url but no webhook_secret",
                                temporary=False)
        await post_webhook(address, rendered.payload, secret, svc.http,
                           idempotency_key=message_id)
        return
    if svc.smtp is None:
        raise DeliveryError("no SMTP server configured (NTTD_SMTP_URL); notice stays queued",
                            temporary=True)
    if not svc.settings.notice_from:
        raise DeliveryError("no sender address configured (NTTD_NOTICE_FROM)", temporary=True)
    message = build_message(rendered, from_addr=svc.settings.notice_from, to_addrs=[address],
                            xarf_reports=build_reports(rendered.payload))
    message.replace_header("Message-ID", message_id)  # the same on every attempt
    await send_message(message, svc.smtp, envelope_from=envelope_from,
                       dkim_config=dkim_config(svc.settings))


async def _record_failure(svc: Services, notice_id: int, error: str, *, temporary: bool,
                          contact: bool) -> None:
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        notice = await session.get(Notice, notice_id)
        if notice is None or notice.status not in (NoticeStatus.QUEUED, NoticeStatus.SENDING):
            return
        source = "smtp"
        if temporary and contact:
            notice.first_failure_at = notice.first_failure_at or now
            failing = now - notice.first_failure_at
            if failing >= svc.settings.notice_give_up:
                temporary, source = False, "give_up"
                error = (f"gave up after {_days(failing)} of temporary failures "
                         f"(NTTD_NOTICE_GIVE_UP): {error}")
        if temporary:
            _postpone(svc, notice, error, now)
            return
        notice.lease_owner = notice.lease_until = None
        case_ids = list(await session.scalars(
            select(NoticeCase.case_id).where(NoticeCase.notice_id == notice_id)))
        _fail(session, notice, case_ids, error, now)
        if not contact:
            return
        if is_provider_contact(notice):
            await contact_failed(session, svc.settings, notice, reason=error, source=source,
                                 now=now)
        elif source == "give_up":
            for case in await session.scalars(select(Case).where(
                    Case.id.in_(case_ids), Case.status.in_(REROUTABLE))):
                flag_case(session, case, PARTNER_UNREACHABLE, actor=SYSTEM, now=now,
                          notice_id=notice.id, error=error[:300])


def _days(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def _postpone(svc: Services, notice: Notice, error: str, now: datetime) -> None:
    """A temporary failure: the notice stays queued and is tried again later (never
    later than its give-up moment, so that it gives up on time)."""
    notice.lease_owner = notice.lease_until = None
    notice.attempts += 1
    notice.last_error = error
    if notice.status == NoticeStatus.SENDING:
        _set_status(notice, NoticeStatus.QUEUED)
    notice.next_attempt_at = now + retry_delay(notice.attempts, svc.settings.notice_retry_schedule)
    if notice.first_failure_at is not None:
        give_up_at = notice.first_failure_at + svc.settings.notice_give_up
        notice.next_attempt_at = max(now, min(notice.next_attempt_at, give_up_at))
    log.warning("notice %s not delivered (attempt %s), will retry: %s",
                notice.id, notice.attempts, error)


def _fail(session: AsyncSession, notice: Notice, case_ids: Sequence[int], error: str,
          now: datetime, *, attempted: bool = True) -> None:
    """A permanent failure: the notice is failed and each of its cases says so."""
    notice.attempts += 1 if attempted else 0
    notice.last_error = error
    notice.lease_owner = notice.lease_until = None
    _set_status(notice, NoticeStatus.FAILED)
    log.error("notice %s failed permanently: %s", notice.id, error)
    for case_id in case_ids:
        record_event(session, case_id, "notice_failed", actor=SYSTEM, now=now,
                     notice_id=notice.id, error=error)
