"""Retention: closed cases are anonymised once `NTTD_RETENTION` has passed since
they closed.

What goes: the URL's path, query and user-info (the URL becomes
`scheme://registrable-domain/`; an address-only host is kept as its /24 or /48
network), the hosting facts (addresses, CNAME chain, contacts), the checks, the
notices' text and machine part (once every case of a notice is anonymised), and
the content of the case's events (each becomes a `pruned` tombstone that keeps its
place and digest in the audit chain). What stays: the columns the statistics are
computed from (times, country, network, registrar, CDN, TLD, route, partner,
classification, counts), so every figure is the same before and after; and an
`anonymised` event saying when and under which retention.

`updated_at` is not touched: a closed case that was never removed is censored at
its closing time, and moving that would change the statistics.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases.events import record_event
from nttd.cases.lifecycle import CaseStatus
from nttd.models import Case, Check, Event, Notice, NoticeCase
from resolvers.domain import registered_domain

__all__ = ["RETENTION_ACTOR", "anonymise_due", "anonymous_host"]

RETENTION_ACTOR = "system:retention"
BATCH = 500


def anonymous_host(host: str) -> str:
    """What is kept of a host: its registrable domain, or the network of an address."""
    name = host.strip().strip("[]").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return registered_domain(name) or name.rsplit(".", 1)[-1]
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def _anonymous_url(url: str, host: str) -> str:
    scheme = urlsplit(url).scheme.lower() or "http"
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}/"


async def anonymise_due(session: AsyncSession, *, now: datetime, retention: timedelta,
                        limit: int = BATCH) -> int:
    """Anonymise up to `limit` cases closed more than `retention` ago; returns how many."""
    cases = list(await session.scalars(
        select(Case).where(Case.status == CaseStatus.CLOSED.value,
                           Case.updated_at < now - retention,
                           Case.anonymised_at.is_(None))
        .order_by(Case.id).limit(limit)))
    for case in cases:
        host = anonymous_host(case.host)
        case.url = case.canonical_url = _anonymous_url(case.url, host)
        case.host = host
        case.facts = None
        case.last_error = None
        case.reference = None
        case.anonymised_at = now
        await session.execute(delete(Check).where(Check.case_id == case.id))
        await session.execute(
            update(Event).where(Event.case_id == case.id)
            .values(kind="pruned", data=None, actor=RETENTION_ACTOR)
            .execution_options(synchronize_session=False))
        record_event(session, case.id, "anonymised", actor=RETENTION_ACTOR, now=now,
                     retention_days=round(retention.total_seconds() / 86400, 3))
    if cases:
        await session.flush()
        ids = [case.id for case in cases]
        # A notice's text goes once none of its cases still needs it.
        still_needed = exists().where(
            NoticeCase.notice_id == Notice.id, NoticeCase.case_id == Case.id,
            Case.anonymised_at.is_(None))
        touched = select(NoticeCase.notice_id).where(NoticeCase.case_id.in_(ids))
        await session.execute(
            update(Notice).where(Notice.id.in_(touched), ~still_needed)
            .values(subject=None, body=None, payload=None, last_error=None)
            .execution_options(synchronize_session=False))
    return len(cases)
