"""Bounces in: a delivery status notification (RFC 3464) about one of our notices.

`handle_bounce(sessions, settings, raw, now=...)` is what `nttd bounce` (a message
piped in by the mail server) and `POST /api/v1/bounces` both call. The notice is found

1. from the VERP envelope sender it went out with (`notices.verp`), which the
   bounce comes back to: Delivered-To / X-Original-To / To / Return-Path (only
   addresses made from our bounce address, NTTD_BOUNCE_ADDRESS or
   NTTD_NOTICE_FROM). A VERP address whose tag does not verify is refused
   (BounceRefused, `forged`): a made-up bounce must not mark anyone's address bad;
2. else from the Message-ID of the returned message (its message/rfc822 or
   text/rfc822-headers part), which nttd fixed before the first send.

Then, per recipient block of the report:
- `Action: failed` with a 5.x.x status: permanent. The notice becomes `bounced`
  (if it was `sent`), `notice_bounced` on its cases, the address is marked bad and
  the cases still online go to the next contact (`nttd.outbox.fallback`); a
  partner hotline's mailbox is not marked, its cases are flagged for the
  coordinator ("partner hotline unreachable");
- `delayed`, or a 4.x.x status: recorded only (`notice_delayed` on the cases);
- `delivered`, `relayed`, `expanded`: nothing to do (recorded as `notice_dsn`).

A second copy of the same permanent bounce changes nothing more (`duplicate`).
A message that is not a DSN, or names no notice of ours, is refused
(BounceRefused) and nothing is changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notices.dsn import Dsn, NotADsn, parse_dsn
from notices.verp import VerpForged, parse_verp
from nttd.cases import REROUTABLE, flag_case, record_event
from nttd.models import Case, Notice, NoticeCase
from nttd.outbox.fallback import PARTNER_UNREACHABLE, contact_failed, is_provider_contact
from nttd.outbox.status import NoticeStatus, check_notice_transition
from nttd.responses import link_key
from nttd.settings import Settings

SYSTEM = "system:bounce"
MAX_BOUNCE = 5_000_000  # bytes read of one bounce; the returned message may be cut


class BounceRefused(ValueError):
    """Not a bounce we can act on; nothing was changed. `kind`: not_dsn, no_notice,
    forged."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class BounceOutcome:
    notice_id: int
    outcome: str                # permanent | delayed | duplicate | other
    found_by: str               # verp | message_id
    address: str
    statuses: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"notice_id": self.notice_id, "outcome": self.outcome,
                "found_by": self.found_by, "address": self.address,
                "recipients": self.statuses}


async def _find_notice(session: AsyncSession, settings: Settings, dsn: Dsn
                       ) -> tuple[Notice, str] | None:
    key = await link_key(session, settings, create=False)
    ours = (settings.bounce_address or settings.notice_from or "").strip().lower()
    for address in dsn.delivered_to:
        if key is None:
            break
        try:
            verp = parse_verp(address, key, base=ours)
        except VerpForged as exc:
            raise BounceRefused(f"refused: {exc}", "forged") from None
        if verp is not None:
            notice = await session.get(Notice, verp.notice_id, with_for_update=True)
            if notice is None or notice.envelope_from is None:
                raise BounceRefused(f"refused: notice {verp.notice_id} does not exist or "
                                    "never went out by e-mail", "no_notice")
            return notice, "verp"
    if dsn.returned_message_id:
        notice = await session.scalar(
            select(Notice).where(Notice.message_id == dsn.returned_message_id)
            .with_for_update().limit(1))
        if notice is not None:
            return notice, "message_id"
    return None


async def handle_bounce(sessions: async_sessionmaker[AsyncSession], settings: Settings,
                        raw: bytes, *, now: datetime) -> BounceOutcome:
    """Act on one delivery status notification (see the module docstring)."""
    try:
        dsn = parse_dsn(raw[:MAX_BOUNCE])
    except NotADsn as exc:
        raise BounceRefused(str(exc), "not_dsn") from None
    async with sessions() as session, session.begin():
        found = await _find_notice(session, settings, dsn)
        if found is None:
            raise BounceRefused(
                "the report names no notice of ours: no VERP address of ours among "
                "Delivered-To/X-Original-To/To/Return-Path, and no known Message-ID in the "
                "returned headers", "no_notice")
        notice, found_by = found
        statuses = [{"action": r.action, "status": r.status,
                     "recipient": r.original_recipient or r.final_recipient,
                     "diagnostic": r.diagnostic} for r in dsn.recipients]
        case_ids = list(await session.scalars(
            select(NoticeCase.case_id).where(NoticeCase.notice_id == notice.id)))
        permanent = next((r for r in dsn.recipients if r.permanent), None)
        delayed = next((r for r in dsn.recipients if r.temporary), None)
        if permanent is not None:
            if notice.status == NoticeStatus.BOUNCED:
                return BounceOutcome(notice.id, "duplicate", found_by, notice.address, statuses)
            reason = (f"bounced: {permanent.status or 'failed'} "
                      f"{permanent.diagnostic or ''}").strip()
            if notice.status == NoticeStatus.SENT:
                notice.status = check_notice_transition(notice.status,
                                                        NoticeStatus.BOUNCED).value
            notice.last_error = reason[:1000]
            for case_id in case_ids:
                record_event(session, case_id, "notice_bounced", actor=SYSTEM, now=now,
                             notice_id=notice.id, address=notice.address, found_by=found_by,
                             status=permanent.status, diagnostic=permanent.diagnostic,
                             recipient=permanent.final_recipient)
            if is_provider_contact(notice):
                await contact_failed(session, settings, notice, reason=reason,
                                     source="bounce", now=now)
            else:  # a partner hotline's mailbox: nobody else can take its cases
                for case in await session.scalars(select(Case).where(
                        Case.id.in_(case_ids), Case.status.in_(REROUTABLE))):
                    flag_case(session, case, PARTNER_UNREACHABLE, actor=SYSTEM, now=now,
                              notice_id=notice.id, error=reason[:300])
            return BounceOutcome(notice.id, "permanent", found_by, notice.address, statuses)
        kind = "notice_delayed" if delayed is not None else "notice_dsn"
        for case_id in case_ids:
            record_event(session, case_id, kind, actor=SYSTEM, now=now, notice_id=notice.id,
                         address=notice.address, found_by=found_by, recipients=statuses)
        return BounceOutcome(notice.id, "delayed" if delayed is not None else "other",
                             found_by, notice.address, statuses)
