"""The notice lifecycle: states, and the one place where their changes are checked.

    queued → sending → sent → bounced   (a bounce came back later: nttd.outbox.bounces)
       │        ├────→ queued    (a temporary failure: tried again later)
       │        └────→ failed    (a permanent failure: a refused address)
       ├──────────────→ failed   (a template error)
       └──────────────→ cancelled (every case it carried went on hold)

`sending` is committed before the notice is handed to SMTP or the webhook, and
`sent` right after, one notice per transaction: a worker killed in between
leaves only that notice in `sending`; when its lease expires another worker sends
it again, with the same Message-ID (the webhook: the same Idempotency-Key).
"""

from __future__ import annotations

from enum import StrEnum


class NoticeStatus(StrEnum):
    QUEUED = "queued"        # gathering cases, or waiting for its (next) attempt
    SENDING = "sending"      # rendered and being handed over; sent again if the worker died
    SENT = "sent"            # handed to the SMTP server or accepted by the webhook
    BOUNCED = "bounced"      # sent, then a permanent bounce came back (the contact is bad)
    FAILED = "failed"        # failed permanently; its cases carry a notice_failed event
    CANCELLED = "cancelled"  # nothing left to send: its cases were held or withdrawn


class InvalidNoticeTransition(ValueError):
    """A notice status change the lifecycle does not allow."""


_N = NoticeStatus
TRANSITIONS: dict[NoticeStatus, frozenset[NoticeStatus]] = {
    _N.QUEUED: frozenset({_N.SENDING, _N.FAILED, _N.CANCELLED}),
    _N.SENDING: frozenset({_N.SENT, _N.QUEUED, _N.FAILED}),
    _N.SENT: frozenset({_N.BOUNCED}),
    _N.BOUNCED: frozenset(),
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
