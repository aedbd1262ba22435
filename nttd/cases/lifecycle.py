"""The case lifecycle: states, and the one place where transitions are checked.

    received → resolving → resolved → routed | notified → monitoring → removed → closed

with side states `hold` (law-enforcement hold: no notices, no checks, the removal
clock is paused), `unresolvable` (needs an analyst) and `reappeared` (the URL
came back after removal: the case is open again).
"""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    RECEIVED = "received"          # accepted, waiting to be resolved
    RESOLVING = "resolving"        # a worker holds a lease and is resolving it
    RESOLVED = "resolved"          # hosting facts known, route not yet decided
    ROUTED = "routed"              # handed to a partner hotline
    NOTIFIED = "notified"          # notices to host / CDN / registrar queued or sent
    MONITORING = "monitoring"      # checked on schedule until removal is confirmed
    REMOVED = "removed"            # removal confirmed; watched for reappearance
    CLOSED = "closed"              # finished; nothing more happens
    HOLD = "hold"                  # law-enforcement hold: no notices, no checks, clock paused
    UNRESOLVABLE = "unresolvable"  # hosting could not be established; needs an analyst
    REAPPEARED = "reappeared"      # back online after removal; open again


class InvalidTransition(ValueError):
    """A status change the lifecycle does not allow."""


OPEN_STATUSES = frozenset(
    {
        CaseStatus.RECEIVED,
        CaseStatus.RESOLVING,
        CaseStatus.RESOLVED,
        CaseStatus.ROUTED,
        CaseStatus.NOTIFIED,
        CaseStatus.MONITORING,
        CaseStatus.HOLD,
        CaseStatus.UNRESOLVABLE,
        CaseStatus.REAPPEARED,
    }
)
# Statuses in which a case's URL is checked on schedule.
CHECKED_STATUSES = frozenset(
    {CaseStatus.ROUTED, CaseStatus.NOTIFIED, CaseStatus.MONITORING, CaseStatus.REAPPEARED,
     CaseStatus.REMOVED}
)
# Statuses a case may be put on hold from (and is released back to).
HOLDABLE = frozenset(OPEN_STATUSES - {CaseStatus.HOLD})
# Statuses of a routed case that is still online: it may be routed again (after an
# override or a move), and it is owed a notice until its first one goes out.
REROUTABLE = frozenset(
    {CaseStatus.ROUTED, CaseStatus.NOTIFIED, CaseStatus.MONITORING, CaseStatus.REAPPEARED}
)

_S = CaseStatus
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    _S.RECEIVED: frozenset({_S.RESOLVING, _S.HOLD, _S.CLOSED}),
    _S.RESOLVING: frozenset({_S.RESOLVED, _S.RECEIVED, _S.UNRESOLVABLE, _S.HOLD, _S.CLOSED}),
    _S.RESOLVED: frozenset({_S.ROUTED, _S.NOTIFIED, _S.UNRESOLVABLE, _S.HOLD, _S.CLOSED}),
    _S.ROUTED: frozenset({_S.MONITORING, _S.REMOVED, _S.HOLD, _S.CLOSED}),
    _S.NOTIFIED: frozenset({_S.MONITORING, _S.REMOVED, _S.HOLD, _S.CLOSED}),
    _S.MONITORING: frozenset({_S.REMOVED, _S.HOLD, _S.CLOSED}),
    _S.REMOVED: frozenset({_S.REAPPEARED, _S.CLOSED}),
    _S.REAPPEARED: frozenset({_S.MONITORING, _S.REMOVED, _S.HOLD, _S.CLOSED}),
    # An analyst may correct the facts of an unresolvable case (then it is resolved).
    _S.UNRESOLVABLE: frozenset({_S.RECEIVED, _S.RESOLVED, _S.HOLD, _S.CLOSED}),
    _S.HOLD: HOLDABLE | {_S.CLOSED},
    _S.CLOSED: frozenset(),
}


def check_transition(current: str, new: str) -> CaseStatus:
    """Return `new` as a CaseStatus, or raise InvalidTransition saying why not."""
    try:
        old_status, new_status = CaseStatus(current), CaseStatus(new)
    except ValueError as exc:
        raise InvalidTransition(str(exc)) from None
    if new_status not in TRANSITIONS[old_status]:
        allowed = ", ".join(sorted(TRANSITIONS[old_status])) or "nothing (final)"
        raise InvalidTransition(
            f"a case that is {old_status} cannot become {new_status}; it may become: {allowed}"
        )
    return new_status
