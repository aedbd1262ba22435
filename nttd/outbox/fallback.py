"""When a contact fails for good: mark it bad and send its cases to the next contact.

A permanent failure of a provider's abuse address (`contact_failed`) - an SMTP 5xx
at RCPT TO, a bounce, or a notice that gave up - marks the address bad
(`nttd.outbox.bad_contacts`, a `contact_marked_bad` event on each of the notice's
cases), stops the chase of that notice, and queues each of its cases still online
to the next contact on the ladder of its facts:

    the host's other abuse addresses → the AS / upstream abuse contact
    (`hosting.as_abuse_emails`) → the registrar's → the CDN's

(a case behind a CDN: the CDN's addresses → the registrar's; the host's facts are
then the CDN's edge). The next rung is the first one with an address that is not
marked bad and has not carried this case before; all such addresses of that rung
get it (a `notice_fallback` event). A case that another live notice (queued,
sending or sent, to an address not marked bad) still carries needs no fallback.
A case with nobody left is flagged for the coordinator ("no working abuse
contact"). Partner hotlines are not on this ladder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import REROUTABLE, CaseFacts, flag_case, record_event
from nttd.models import Case, Notice, NoticeCase
from nttd.outbox.bad_contacts import bad_among, mark_bad
from nttd.outbox.queue import queue_notices
from nttd.outbox.recipient import Recipient
from nttd.outbox.status import NoticeStatus
from nttd.settings import Settings

SYSTEM = "system:outbox"
NO_CONTACT = "no working abuse contact"
PARTNER_UNREACHABLE = "partner hotline unreachable"
LIVE = (NoticeStatus.QUEUED.value, NoticeStatus.SENDING.value, NoticeStatus.SENT.value)


@dataclass(frozen=True)
class Rung:
    kind: str                    # the letter: host | registrar | cdn
    name: str
    addresses: tuple[str, ...]


def contact_ladder(facts: CaseFacts) -> list[Rung]:
    """The contacts of a case's facts, in the order they are tried."""
    rungs: list[Rung] = []
    hosting, registrar, cdn = facts.hosting, facts.registrar, facts.cdn
    if cdn is not None:
        rungs.append(Rung("cdn", cdn.name or "CDN", cdn.abuse_emails))
    elif hosting is not None:
        name = hosting.as_name or "hosting provider"
        rungs.append(Rung("host", name, hosting.abuse_emails))
        upstream = f"AS{hosting.asn} {name}" if hosting.asn is not None else name
        rungs.append(Rung("host", upstream, hosting.as_abuse_emails))
    if registrar is not None:
        rungs.append(Rung("registrar", registrar.name or "registrar", registrar.abuse_emails))
    return [r for r in rungs if r.addresses]


def is_provider_contact(notice: Notice) -> bool:
    """Whether `notice` went to a provider's abuse address (the ladder's kind of contact)."""
    return notice.channel == "email" and notice.recipient_kind != "partner"


async def contact_failed(session: AsyncSession, settings: Settings, notice: Notice, *,
                         reason: str, source: str, now: datetime, mark: bool = True) -> None:
    """`notice`'s address failed for good: mark it bad (unless it already is, `mark`
    off) and send the notice's cases still online to the next contact."""
    case_ids = list(await session.scalars(
        select(NoticeCase.case_id).where(NoticeCase.notice_id == notice.id)))
    if mark:
        until = await mark_bad(session, notice.address, reason=reason, source=source, now=now,
                               period=settings.bad_contact_for, notice_id=notice.id)
        for case_id in case_ids:
            record_event(session, case_id, "contact_marked_bad", actor=SYSTEM, now=now,
                         address=notice.address, reason=reason, source=source,
                         until=until.isoformat(), notice_id=notice.id)
    # Nobody chases a dead address: neither this letter nor the one it reminds of.
    notice.next_reminder_at = None
    if notice.reminder_of is not None:
        first = await session.get(Notice, notice.reminder_of)
        if first is not None and first.address == notice.address:
            first.next_reminder_at = None
    cases = list(await session.scalars(
        select(Case).where(Case.id.in_(case_ids), Case.status.in_(REROUTABLE))
        .order_by(Case.id)))
    await fall_back(session, settings, notice, cases, reason=reason, now=now)


async def fall_back(session: AsyncSession, settings: Settings, failed: Notice,
                    cases: Sequence[Case], *, reason: str, now: datetime) -> None:
    """Queue each of `cases` to its next contact (see the module docstring)."""
    by_recipient: dict[Recipient, list[Case]] = {}
    for case in cases:
        carried = list(await session.execute(
            select(Notice.id, Notice.address, Notice.status)
            .join(NoticeCase, NoticeCase.notice_id == Notice.id)
            .where(NoticeCase.case_id == case.id)))
        tried = {address.strip().lower() for _, address, _ in carried}
        ladder = contact_ladder(CaseFacts.from_json(case.facts))
        everyone = {a for _, a, _ in carried} | {a for r in ladder for a in r.addresses}
        bad = {a.strip().lower() for a in await bad_among(session, everyone, now)}
        covered = [nid for nid, address, status in carried
                   if nid != failed.id and status in LIVE and address.strip().lower() not in bad]
        if covered:
            continue
        chosen: list[Recipient] = []
        for rung in ladder:
            fresh = [a for a in rung.addresses
                     if a.strip().lower() not in tried and a.strip().lower() not in bad]
            if fresh:
                chosen = [Recipient(rung.kind, "email", a, rung.name) for a in fresh]
                break
        if not chosen:
            flag_case(session, case, NO_CONTACT, actor=SYSTEM, now=now,
                      notice_id=failed.id, tried=sorted(tried))
            continue
        for recipient in chosen:
            by_recipient.setdefault(recipient, []).append(case)
    queued: dict[int, list[tuple[Recipient, int]]] = {}
    for recipient, group in by_recipient.items():
        notice_id = (await queue_notices(session, group[0], [recipient], now=now,
                                         batch_window=settings.notice_batch_window))[0]
        for case in group[1:]:
            if await session.get(NoticeCase, (notice_id, case.id)) is None:
                session.add(NoticeCase(notice_id=notice_id, case_id=case.id))
        for case in group:
            queued.setdefault(case.id, []).append((recipient, notice_id))
    await session.flush()
    for case_id, targets in queued.items():
        record_event(session, case_id, "notice_fallback", actor=SYSTEM, now=now,
                     notice_id=failed.id, failed=failed.address, reason=reason,
                     to=[r.address for r, _ in targets], to_kind=targets[0][0].kind,
                     notices=[nid for _, nid in targets])
