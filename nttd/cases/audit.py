"""The audit trail, sealed into a hash chain: an edited, deleted or reordered event
is found, and named.

Events are written by every part of nttd, in many transactions at once (intake,
workers, the API, the CLI). Chaining them as they are written would make every
one of those transactions wait for the one before; instead a worker step *seals*
them shortly after, one sealer at a time, in the order of their ids:

    digest_n = sha256(the event's content: id, case, time, actor, kind, data)
    chain_n  = sha256(chain_(n-1) | n | digest_n)          (n = seal_seq: 1, 2, 3, ...)

The newest seal (its number and chain hash) is also kept in `audit_head`. An event
that commits late (a lower id than one already sealed) simply gets the next
number. `verify` walks the chain from the start and names the first event whose
content no longer gives its digest (edited), whose number is not the next one
(deleted, reordered) or whose chain hash is wrong (rewritten); the head catches a
deletion at the end. Events not sealed yet (written in the last seconds) are
counted, not judged: the window between a write and its seal is a worker round.

Retention may drop an event's content later: the digest stays, so the chain still
verifies, and such an event is reported as pruned rather than bad.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.models import AuditHead, Event

__all__ = [
    "GENESIS",
    "AuditReport",
    "event_digest",
    "recent_events",
    "seal_events",
    "verify_audit_trail",
]

GENESIS = "0" * 64
SEAL_BATCH = 5000


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def event_digest(event_id: int, case_id: int | None, at: datetime, actor: str, kind: str,
                 data: dict[str, Any] | None) -> str:
    """The digest of one event's content (canonical JSON, sorted keys)."""
    content = json.dumps(
        {"id": event_id, "case": case_id, "at": _iso(at), "actor": actor, "kind": kind,
         "data": data},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(content.encode()).hexdigest()


def _chain(previous: str, seq: int, digest: str) -> str:
    return hashlib.sha256(f"{previous}|{seq}|{digest}".encode()).hexdigest()


async def _head(session: AsyncSession, *, lock: bool) -> AuditHead:
    """The head row (the migration creates it; a database without it has sealed nothing)."""
    query = select(AuditHead).where(AuditHead.id == 1)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    head = await session.scalar(query)
    if head is None:
        head = AuditHead(id=1, seal_seq=0, chain=GENESIS)
        session.add(head)
        await session.flush()
    return head


async def seal_events(session: AsyncSession, *, limit: int = SEAL_BATCH) -> int:
    """Seal up to `limit` unsealed events, oldest id first; returns how many.

    Run inside a transaction. The head row is locked first, so only one sealer
    works at a time on PostgreSQL (SQLite has one writer anyway)."""
    if await session.scalar(select(Event.id).where(Event.seal_seq.is_(None)).limit(1)) is None:
        return 0
    head = await _head(session, lock=True)
    rows = (await session.execute(
        select(Event.id, Event.case_id, Event.at, Event.actor, Event.kind, Event.data)
        .where(Event.seal_seq.is_(None)).order_by(Event.id).limit(limit))).all()
    seq, chain = head.seal_seq, head.chain
    values = []
    for row in rows:
        seq += 1
        digest = event_digest(row.id, row.case_id, row.at, row.actor, row.kind, row.data)
        chain = _chain(chain, seq, digest)
        values.append({"event_id": row.id, "seq": seq, "digest": digest, "chain": chain})
    if values:
        events = cast(Table, Event.__table__)  # Core: one executemany, not the ORM's bulk path
        await session.execute(
            update(events).where(events.c.id == bindparam("event_id"))
            .values(seal_seq=bindparam("seq"), digest=bindparam("digest"),
                    chain=bindparam("chain")),
            values)
        head.seal_seq, head.chain = seq, chain
    return len(values)


@dataclass(frozen=True)
class AuditReport:
    """What `verify_audit_trail` found."""

    sealed: int  # events checked in the chain
    unsealed: int  # written but not sealed yet
    pruned: int  # content dropped by retention (digest kept)
    head_seq: int
    head_chain: str
    bad_event_id: int | None = None  # the first bad event (None: the trail is intact)
    bad_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


async def verify_audit_trail(session: AsyncSession, *, batch: int = 10_000) -> AuditReport:
    """Walk the chain from the start; stop at the first bad event."""
    head = await _head(session, lock=False)
    expected_seq, chain, checked, pruned = 1, GENESIS, 0, 0

    def bad(event_id: int | None, seq: int | None, problem: str) -> AuditReport:
        return AuditReport(checked, unsealed, pruned, head.seal_seq, head.chain,
                           event_id, seq, problem)

    unsealed = await session.scalar(
        select(func.count()).select_from(Event).where(Event.seal_seq.is_(None))) or 0
    while True:
        rows = (await session.execute(
            select(Event).where(Event.seal_seq >= expected_seq)
            .order_by(Event.seal_seq).limit(batch))).scalars().all()
        if not rows:
            break
        for event in rows:
            assert event.seal_seq is not None
            if event.seal_seq != expected_seq:
                return bad(event.id, expected_seq,
                           f"event #{expected_seq} of the chain is missing (deleted or "
                           f"renumbered); the next one found is #{event.seal_seq}, event id "
                           f"{event.id}")
            if event.kind == "pruned" and event.data is None:
                pruned += 1
            else:
                digest = event_digest(event.id, event.case_id, event.at, event.actor,
                                      event.kind, event.data)
                if digest != event.digest:
                    return bad(event.id, event.seal_seq,
                               f"event id {event.id} (#{event.seal_seq}) was edited: its "
                               "content no longer matches its digest")
            chain = _chain(chain, expected_seq, event.digest or "")
            if chain != event.chain:
                return bad(event.id, event.seal_seq,
                           f"event id {event.id} (#{event.seal_seq}) does not follow the one "
                           "before it: the chain was rewritten or reordered")
            checked += 1
            expected_seq += 1
    if head.seal_seq != expected_seq - 1 or head.chain != chain:
        return bad(None, expected_seq,
                   f"the chain ends at #{expected_seq - 1} but the head says "
                   f"#{head.seal_seq}: events were deleted at the end or the head was edited")
    return AuditReport(checked, unsealed, pruned, head.seal_seq, head.chain)


async def recent_events(session: AsyncSession, *, limit: int = 100,
                        before: int | None = None) -> list[Event]:
    """The newest events (all cases and none), newest first, for the admin's audit page."""
    query = select(Event).order_by(Event.id.desc()).limit(limit)
    if before is not None:
        query = query.where(Event.id < before)
    return list(await session.scalars(query))
