"""Queueing notices: a case joins a gathering notice per recipient.

Cases for one recipient are gathered for `NTTD_NOTICE_BATCH_WINDOW` into one
notice; a notice already attempted or past its window is never added to. On
PostgreSQL a transaction-scoped advisory lock per recipient makes the look-up and the
opening of a gathering notice one step, so concurrent workers open one notice, not two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.models import Case, Notice, NoticeCase
from nttd.outbox.recipient import Recipient
from nttd.outbox.status import NoticeStatus


async def queue_notices(
    session: AsyncSession, case: Case, recipients: Sequence[Recipient], *, now: datetime,
    batch_window: timedelta,
) -> list[int]:
    """Attach `case` to a gathering notice per recipient (or open one)."""
    ids = []
    for key in sorted({recipient_lock_key(r) for r in recipients}):  # in one order: no deadlock
        await _advisory_lock(session, key)
    for r in recipients:
        notice = await session.scalar(
            select(Notice).where(
                Notice.step == "notice",
                Notice.status == NoticeStatus.QUEUED,
                Notice.attempts == 0,
                Notice.channel == r.channel,
                Notice.address == r.address,
                Notice.recipient_kind == r.kind,
                Notice.next_attempt_at > now,
            ).limit(1)
        )
        if notice is None:
            notice = Notice(
                recipient_kind=r.kind, channel=r.channel, address=r.address,
                recipient_name=r.name, hotline_id=r.hotline_id, language=r.language,
                status=NoticeStatus.QUEUED.value, attempts=0, next_attempt_at=now + batch_window,
                created_at=now, step="notice", chase_step="notice",
            )
            session.add(notice)
            await session.flush()
        linked = await session.get(NoticeCase, (notice.id, case.id))
        if linked is None:
            session.add(NoticeCase(notice_id=notice.id, case_id=case.id))
        ids.append(notice.id)
    await session.flush()
    return ids


def recipient_lock_key(r: Recipient) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks, from (kind, channel, address)."""
    digest = hashlib.blake2b(f"nttd-gather|{r.kind}|{r.channel}|{r.address}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_recipient(session: AsyncSession, r: Recipient) -> None:
    """On PostgreSQL, serialise the gathering for one recipient until the transaction
    ends: two workers routing cases for the same recipient at the same moment would
    otherwise both find no gathering notice and open one each. (SQLite has one writer.)"""
    await _advisory_lock(session, recipient_lock_key(r))


async def _advisory_lock(session: AsyncSession, key: int) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(key)))


async def withdraw_queued(session: AsyncSession, case: Case) -> None:
    """Take `case` out of the notices not sent yet (before it is routed again)."""
    queued = select(Notice.id).where(Notice.status == NoticeStatus.QUEUED)
    await session.execute(delete(NoticeCase).where(
        NoticeCase.case_id == case.id, NoticeCase.notice_id.in_(queued)))
    await session.flush()


async def has_queued_notice(session: AsyncSession, case: Case) -> bool:
    """Whether a notice not sent yet still carries `case`."""
    pending = await session.scalar(
        select(NoticeCase.notice_id).join(Notice, Notice.id == NoticeCase.notice_id)
        .where(NoticeCase.case_id == case.id, Notice.status == NoticeStatus.QUEUED).limit(1))
    return pending is not None
