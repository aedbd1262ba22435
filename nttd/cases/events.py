"""Events: the append-only audit trail. Every change of a case leaves one, and a
status change goes through `transition`, which validates it against the lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases.lifecycle import CaseStatus, check_transition
from nttd.models import Case, Event


def record_event(
    session: AsyncSession,
    case_id: int | None,
    kind: str,
    *,
    actor: str,
    now: datetime,
    **data: Any,
) -> None:
    session.add(Event(case_id=case_id, at=now, actor=actor, kind=kind, data=data or None))


def transition(
    session: AsyncSession, case: Case, new: CaseStatus, *, actor: str, now: datetime, **data: Any
) -> None:
    """Change the status of `case` (InvalidTransition if the lifecycle refuses) and
    record it as a `status` event."""
    old = case.status
    check_transition(old, new)
    case.status = new.value
    case.updated_at = now
    record_event(session, case.id, "status", actor=actor, now=now, old=old, new=new.value, **data)
