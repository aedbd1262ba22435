"""The outbox: notices are rows first and messages second. Queueing (gathering
the cases for one recipient), delivery with retries and backoff, bad contacts and
the fallback to the next one, bounces, and the notice lifecycle.

Other packages import from here only.
"""

from nttd.outbox.bad_contacts import bad_among, is_bad, mark_bad, usable
from nttd.outbox.bounces import MAX_BOUNCE, BounceOutcome, BounceRefused, handle_bounce
from nttd.outbox.delivery import deliver_due_notices, dkim_config, retry_delay
from nttd.outbox.fallback import NO_CONTACT, contact_ladder
from nttd.outbox.queue import (
    has_queued_notice,
    queue_notices,
    queue_notices_many,
    withdraw_queued,
)
from nttd.outbox.recipient import Recipient
from nttd.outbox.reminders import queue_due_reminders
from nttd.outbox.status import InvalidNoticeTransition, NoticeStatus, check_notice_transition

__all__ = [
    "MAX_BOUNCE",
    "NO_CONTACT",
    "BounceOutcome",
    "BounceRefused",
    "InvalidNoticeTransition",
    "NoticeStatus",
    "Recipient",
    "bad_among",
    "check_notice_transition",
    "contact_ladder",
    "deliver_due_notices",
    "dkim_config",
    "handle_bounce",
    "has_queued_notice",
    "is_bad",
    "mark_bad",
    "queue_due_reminders",
    "queue_notices",
    "queue_notices_many",
    "retry_delay",
    "usable",
    "withdraw_queued",
]
