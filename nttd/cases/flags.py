"""Flags for the network coordinator: a case nobody acts on needs a person.

A case is flagged when the escalation ladder has run out while it is still online, or
when the partner hotline it was routed to has not acknowledged it in time. The flag
keeps the first time it was raised and the latest reason; each raise and each clearing
is an event on the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases.events import record_event
from nttd.models import Case


def flag_case(session: AsyncSession, case: Case, reason: str, *, actor: str, now: datetime,
              **data: Any) -> None:
    """Flag `case` for the coordinator with `reason` (a `coordinator_flagged` event)."""
    if case.flagged_at is None:
        case.flagged_at = now
    case.flag_reason = reason
    case.updated_at = now
    record_event(session, case.id, "coordinator_flagged", actor=actor, now=now,
                 reason=reason, **data)


def clear_flag(session: AsyncSession, case: Case, *, actor: str, now: datetime,
               note: str | None = None) -> bool:
    """Clear the coordinator flag of `case`; False if it was not flagged."""
    if case.flagged_at is None:
        return False
    case.flagged_at = None
    case.flag_reason = None
    case.updated_at = now
    record_event(session, case.id, "coordinator_flag_cleared", actor=actor, now=now,
                 **({"note": note} if note else {}))
    return True
