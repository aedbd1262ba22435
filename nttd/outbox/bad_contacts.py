"""Abuse addresses that refused a notice, and are skipped for a while.

A permanent failure of a contact - an SMTP 5xx at RCPT TO, a bounce that comes back
later (`nttd.outbox.bounces`), or a notice that gave up after failing temporarily for
`NTTD_NOTICE_GIVE_UP` - marks that address bad for `NTTD_BAD_CONTACT_FOR` (one row
per address in `bad_contacts`, lower case, with the reason, the source and the time).
Marking it again renews the period. Routing, reminders and escalation ask here
before they write to an address:

    await is_bad(session, "abuse@host.example", now)          -> bool
    await bad_among(session, addresses, now)                   -> set of the bad ones
    await usable(session, addresses, now)                      -> the others, in order

Only e-mail addresses of providers are marked; a partner hotline's webhook or
mailbox is never skipped (nothing else could take its cases).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.models import BadContact

SOURCES = ("smtp", "bounce", "give_up")


def _key(address: str) -> str:
    return address.strip().lower()


async def bad_among(session: AsyncSession, addresses: Iterable[str], now: datetime) -> set[str]:
    """The addresses among `addresses` (as given) that are marked bad at `now`."""
    given = {a: _key(a) for a in addresses}
    if not given:
        return set()
    rows = set(await session.scalars(
        select(BadContact.address).where(BadContact.address.in_(set(given.values())),
                                         BadContact.bad_until > now)))
    return {a for a, key in given.items() if key in rows}


async def is_bad(session: AsyncSession, address: str, now: datetime) -> bool:
    return bool(await bad_among(session, [address], now))


async def usable(session: AsyncSession, addresses: Iterable[str], now: datetime) -> list[str]:
    """`addresses` without the ones marked bad at `now`, in their order."""
    wanted = list(addresses)
    bad = await bad_among(session, wanted, now)
    return [a for a in wanted if a not in bad]


async def bad_until(session: AsyncSession, address: str, now: datetime) -> datetime | None:
    row = await session.get(BadContact, _key(address))
    return row.bad_until if row is not None and row.bad_until > now else None


async def mark_bad(session: AsyncSession, address: str, *, reason: str, source: str,
                   now: datetime, period: timedelta, notice_id: int | None = None,
                   ) -> datetime:
    """Mark `address` bad from `now` for `period` (renewed if it already is); returns
    until when. The caller records the `contact_marked_bad` events on the cases."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    key, until = _key(address), now + period
    for _ in range(2):  # a concurrent first mark by another worker: update theirs
        row = await session.get(BadContact, key, with_for_update=True,
                                populate_existing=True)
        if row is not None:
            row.reason, row.source, row.marked_at = reason[:1000], source, now
            row.bad_until, row.notice_id = max(row.bad_until, until), notice_id
            await session.flush()
            return row.bad_until
        try:
            async with session.begin_nested():
                session.add(BadContact(address=key, reason=reason[:1000], source=source,
                                       marked_at=now, bad_until=until, notice_id=notice_id))
            return until
        except IntegrityError:
            continue
    raise RuntimeError(f"could not mark {address} bad")  # pragma: no cover
