"""The outbox: notices are rows first and messages second. Queueing (gathering
the cases for one recipient), delivery with retries, and the notice lifecycle.

Other packages import from here only.
"""

from nttd.outbox.delivery import deliver_due_notices, retry_delay
from nttd.outbox.queue import has_queued_notice, queue_notices, withdraw_queued
from nttd.outbox.recipient import Recipient
from nttd.outbox.reminders import queue_due_reminders
from nttd.outbox.status import InvalidNoticeTransition, NoticeStatus, check_notice_transition

__all__ = [
    "InvalidNoticeTransition",
    "NoticeStatus",
    "Recipient",
    "check_notice_transition",
    "deliver_due_notices",
    "has_queued_notice",
    "queue_due_reminders",
    "queue_notices",
    "retry_delay",
    "withdraw_queued",
]
