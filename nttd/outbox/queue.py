"""Queueing notices: a case joins a gathering notice per recipient.

Cases for one recipient are gathered for `NTTD_NOTICE_BATCH_WINDOW` into one
notice; a notice already attempted or past its window is never added to. On
PostgreSQL a transaction-scoped advisory lock per recipient makes the look-up and the
opening of a gathering notice one step, so concurrent workers open one notice, not two;
joining a notice that is already gathering takes only a share lock on it (`_gathering`),
so workers joining one notice do not wait for each other.
The resolve step queues a whole round of cases at once (`queue_notices_many`): the
locks, one look-up of the gathering notices and one insert of the links per round.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.models import Case, Notice, NoticeCase
from nttd.outbox.recipient import Recipient
from nttd.outbox.status import NoticeStatus


async def queue_notices(
    session: AsyncSession, case: Case, recipients: Sequence[Recipient], *, now: datetime,
    batch_window: timedelta,
) -> list[int]:
    """Attach `case` to a gathering notice per recipient (or open one)."""
    ids = (await queue_notices_many(session, [(case, recipients)], now=now,
                                    batch_window=batch_window))[0]
    await session.flush()
    return ids


async def queue_notices_many(
    session: AsyncSession, items: Sequence[tuple[Case, Sequence[Recipient]]], *,
    now: datetime, batch_window: timedelta,
) -> list[list[int]]:
    """`queue_notices` for many cases at once: per item, the notice ids of its
    recipients (in their order). One look-up of the gathering notices for every
    recipient of every case, one insert of the links: a round of resolved cases
    costs a few statements, not a few per case. Writes through Core (no flush of
    the session's pending changes)."""
    if batch_window <= timedelta(0):
        # Nothing gathers (a notice is due as it opens): each case gets a notice of its
        # own per recipient, as when cases were queued one by one.
        ids = [[await _open(session, r, now, batch_window) for r in recipients]
               for _, recipients in items]
        await _link(session, items, ids)
        return ids
    wanted: dict[tuple[str, str, str], Recipient] = {}
    for _, recipients in items:
        for r in recipients:
            wanted.setdefault(_recipient_key(r), r)
    if not wanted:
        return [[] for _ in items]
    gathering = await _gathering(session, wanted.values(), now)
    missing = [key for key in wanted if key not in gathering]
    if missing:
        # Opening a notice takes the recipient's lock (in one order: no deadlock), then
        # looks again: another worker may have opened one meanwhile, and committed.
        for lock_key in sorted({recipient_lock_key(wanted[key]) for key in missing}):
            await _advisory_lock(session, lock_key)
        gathering.update(await _gathering(session, [wanted[key] for key in missing], now))
    for key in missing:
        if key not in gathering:  # open one (the lock keeps a second one from opening)
            gathering[key] = await _open(session, wanted[key], now, batch_window)
    ids = [[gathering[_recipient_key(r)] for r in recipients] for _, recipients in items]
    await _link(session, items, ids)
    return ids


async def _open(session: AsyncSession, r: Recipient, now: datetime,
                batch_window: timedelta) -> int:
    """A new notice to `r`, gathering until `now + batch_window`; its id."""
    notices = cast(Table, Notice.__table__)
    return int((await session.execute(
        insert(notices).returning(notices.c.id),
        [dict(recipient_kind=r.kind, channel=r.channel, address=r.address,
              recipient_name=r.name, hotline_id=r.hotline_id, language=r.language,
              status=NoticeStatus.QUEUED.value, attempts=0,
              next_attempt_at=now + batch_window, created_at=now, step="notice",
              chase_step="notice")])).scalar_one())


async def _link(session: AsyncSession, items: Sequence[tuple[Case, Sequence[Recipient]]],
                ids: Sequence[Sequence[int]]) -> None:
    """Link each item's case to its notices (the links it has already are kept)."""
    links = {(notice_id, case.id) for (case, _), notice_ids in zip(items, ids, strict=True)
             for notice_id in notice_ids}
    if not links:
        return
    linked = {(n, c) for n, c in await session.execute(
        select(NoticeCase.notice_id, NoticeCase.case_id).where(
            NoticeCase.notice_id.in_({n for n, _ in links}),
            NoticeCase.case_id.in_({c for _, c in links})))}
    fresh = [{"notice_id": n, "case_id": c} for n, c in sorted(links - linked)]
    if fresh:
        await session.execute(insert(cast(Table, NoticeCase.__table__)), fresh)


async def _gathering(session: AsyncSession, recipients: Iterable[Recipient],
                     now: datetime) -> dict[tuple[str, str, str], int]:
    """The notice gathering cases for each of `recipients` that has one, share-locked.

    Delivery locks a notice (FOR UPDATE) before it reads its cases and marks it
    `sending`; the share lock makes a case join a notice only while no delivery is
    reading it, and delivery sees the link once the joining transaction commits.
    Without it, a notice that fell due while a case was joining it went out without
    the case, which then sat on a sent notice with no first notice, for ever. A notice
    that started sending meanwhile no longer matches once delivery's lock is released.
    Joiners do not wait for each other (shared), and delivery's claim skips a notice
    being joined (SKIP LOCKED) until the next round."""
    wanted = {_recipient_key(r) for r in recipients}
    found: dict[tuple[str, str, str], int] = {}
    rows = await session.execute(
        select(Notice.id, Notice.recipient_kind, Notice.channel, Notice.address).where(
            Notice.step == "notice",
            Notice.status == NoticeStatus.QUEUED,
            Notice.attempts == 0,
            Notice.address.in_({address for _, _, address in wanted}),
            Notice.next_attempt_at > now,
        ).order_by(Notice.id).with_for_update(read=True))
    for notice_id, kind, channel, address in rows:
        if (kind, channel, address) in wanted:
            found.setdefault((kind, channel, address), notice_id)
    return found


def _recipient_key(r: Recipient) -> tuple[str, str, str]:
    return r.kind, r.channel, r.address


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
