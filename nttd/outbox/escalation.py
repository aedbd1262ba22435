"""The escalation ladder: when reminders to a provider have had no effect, tell the next
party that can act, then the next, then the coordinator.

`NTTD_ESCALATION_LADDER` (default `registrar,upstream,cdn,coordinator`) names the
rungs. The chase of a first notice to a host, registrar or CDN (`nttd.outbox.reminders`)
climbs it once its last reminder has gone out and the schedule's last step has passed
with cases still online; after that, one rung per gap (each rung is told once and is
not reminded: the next rung is the reminder that matters). On each rung:

* registrar: the registrar abuse e-mails of each case's domain (a `registrar` letter);
* upstream: the abuse e-mails of the autonomous system announcing the host's address
  (`hosting.as_abuse_emails`, from RDAP autnum), less the host's own addresses (a
  `host` letter: the upstream is a network too). Not for a case behind a CDN: its
  address is the CDN's edge, whose AS is the CDN's;
* cdn: the CDN's abuse e-mails (a `cdn` letter);
* coordinator: no letter; each case still online is flagged
  (`flag_case(..., reason="escalation ladder exhausted")`) for a person to take over.

A rung that has nobody for any of the cases still online, or whose party is the one
the first notice went to, is skipped at once (the next rung is tried in the same
round). Cases are grouped per recipient: one escalation notice per address, listing
only its cases still online (`step = "escalation"`, `reminder_of` = the first notice,
`chase_step = "escalation-<party>"`; escalations on the same rung to the same address
gather for NTTD_NOTICE_BATCH_WINDOW, across chases), with an `escalation_queued` event
on each case
(`escalation_sent` when delivered). A held or removed case is no longer online and
drops out, as with reminders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import CaseFacts, flag_case, record_event
from nttd.models import Case, Notice, NoticeCase
from nttd.outbox.queue import lock_recipient, recipient_lock_key
from nttd.outbox.recipient import Recipient
from nttd.outbox.status import NoticeStatus
from nttd.settings import Settings

SYSTEM = "system:outbox"
EXHAUSTED = "escalation ladder exhausted"


@dataclass(frozen=True)
class _To:
    kind: str      # the letter: host | registrar | cdn
    address: str
    name: str


def _addresses(emails: Sequence[str], *, leave_out: Sequence[str]) -> list[str]:
    skip = {e.lower() for e in leave_out}
    return [e for e in dict.fromkeys(emails) if e.lower() not in skip]


def recipients_on_rung(party: str, first: Notice, cases: Sequence[Case]) -> dict[_To, list[Case]]:
    """Who the rung `party` tells about `cases` (chased by `first`), grouped per address."""
    groups: dict[_To, list[Case]] = {}
    if party == first.recipient_kind:  # the party already told (and reminded)
        return groups
    for case in cases:
        facts = CaseFacts.from_json(case.facts)
        kind, name = party, party
        emails: tuple[str, ...] = ()
        if party == "registrar" and facts.registrar is not None:
            name = facts.registrar.name or "registrar"
            emails = facts.registrar.abuse_emails
        elif party == "cdn" and facts.cdn is not None:
            name = facts.cdn.name or "CDN"
            emails = facts.cdn.abuse_emails
        elif party == "upstream" and facts.hosting is not None and facts.cdn is None:
            hosting = facts.hosting
            kind = "host"
            name = f"{hosting.as_name or 'network'} (AS{hosting.asn})" if hosting.asn else (
                hosting.as_name or "upstream network")
            emails = tuple(_addresses(hosting.as_abuse_emails, leave_out=hosting.abuse_emails))
        for email in _addresses(emails, leave_out=[first.address]):
            groups.setdefault(_To(kind, email, name[:200]), []).append(case)
    return groups


async def escalate(session: AsyncSession, settings: Settings, first: Notice,
                   online: Sequence[Case], now: datetime, *, gap: timedelta,
                   at: Callable[[datetime], datetime]) -> None:
    """Climb the ladder of the chase of `first` by one rung that has someone to tell
    (skipping those that have nobody), and set when the next rung is due (`at` moves a
    time off quiet days). `online`: the chase's cases still online, none held."""
    ladder = settings.escalation_ladder
    rung = first.ladder_rung
    while rung < len(ladder):
        party = ladder[rung]
        rung += 1
        if party == "coordinator":
            for case in online:
                flag_case(session, case, EXHAUSTED, actor=SYSTEM, now=now,
                          notice_id=first.id)
        else:
            groups = recipients_on_rung(party, first, online)
            if not groups:
                continue
            await _queue(session, settings, first, party, groups, now)
        first.ladder_rung = rung
        first.next_reminder_at = at(now + gap) if rung < len(ladder) else None
        return
    first.ladder_rung = rung
    first.next_reminder_at = None  # the ladder has nobody left


async def _queue(session: AsyncSession, settings: Settings, first: Notice, party: str,
                 groups: dict[_To, list[Case]], now: datetime) -> None:
    """One escalation notice per recipient. Escalations to the same recipient on the same
    rung gather for NTTD_NOTICE_BATCH_WINDOW, as first notices do: chases that reach a
    registrar at the same time (several hosts' cases under its domains) make one letter."""
    def recipient(to: _To) -> Recipient:
        return Recipient(to.kind, "email", to.address, to.name)

    # Locked in one order (as queue_notices does), so two workers cannot deadlock.
    for to in sorted(groups, key=lambda t: recipient_lock_key(recipient(t))):
        cases = groups[to]
        await lock_recipient(session, recipient(to))
        notice = await session.scalar(
            select(Notice).where(
                Notice.step == "escalation", Notice.chase_step == f"escalation-{party}",
                Notice.status == NoticeStatus.QUEUED, Notice.attempts == 0,
                Notice.channel == "email", Notice.address == to.address,
                Notice.recipient_kind == to.kind, Notice.next_attempt_at >= now,
            ).order_by(Notice.id).limit(1))
        if notice is None:
            notice = Notice(
                recipient_kind=to.kind, channel="email", address=to.address,
                recipient_name=to.name, hotline_id=None, language=first.language,
                status=NoticeStatus.QUEUED.value, attempts=0,
                next_attempt_at=now + settings.notice_batch_window, created_at=now,
                step="escalation", reminder_of=first.id, chase_step=f"escalation-{party}",
            )
            session.add(notice)
            await session.flush()
        for case in cases:
            if await session.get(NoticeCase, (notice.id, case.id)) is not None:
                continue  # already on it (the case is chased by two first notices)
            session.add(NoticeCase(notice_id=notice.id, case_id=case.id))
            record_event(session, case.id, "escalation_queued", actor=SYSTEM, now=now,
                         notice_id=notice.id, escalation_of=first.id, party=party,
                         recipient_kind=to.kind, address=to.address)
        await session.flush()
