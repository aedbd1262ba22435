"""The notice lifecycle: states, and the one place where their changes are checked.

    queued → sent
       │  → failed      (permanently: a template error, a refused address)
       └  → cancelled   (every case it carried went on hold or was withdrawn)

A temporary failure leaves a notice queued with a later `next_attempt_at`.
"""

from __future__ import annotations

from enum import StrEnum


class NoticeStatus(StrEnum):
    QUEUED = "queued"        # gathering cases, or waiting for its (next) attempt
    SENT = "sent"            # handed to the SMTP server or accepted by the webhook
    FAILED = "failed"        # failed permanently; its cases carry a notice_failed event
    CANCELLED = "cancelled"  # nothing left to send: its cases were held or withdrawn


class InvalidNoticeTransition(ValueError):
    """A notice status change the lifecycle does not allow."""


_N = NoticeStatus
TRANSITIONS: dict[NoticeStatus, frozenset[NoticeStatus]] = {
    _N.QUEUED: frozenset({_N.SENT, _N.FAILED, _N.CANCELLED}),
    _N.SENT: frozenset(),
    _N.FAILED: frozenset(),
    _N.CANCELLED: frozenset(),
}


def check_notice_transition(current: str, new: NoticeStatus) -> NoticeStatus:
    """Return `new`, or raise InvalidNoticeTransition saying what is allowed."""
    try:
        old = NoticeStatus(current)
    except ValueError as exc:
        raise InvalidNoticeTransition(str(exc)) from None
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "nothing (final)"
        raise InvalidNoticeTransition(
            f"a notice that is {old} cannot become {new}; it may become: {allowed}")
    return new
