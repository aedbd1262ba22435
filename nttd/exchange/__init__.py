"""Hotline-to-hotline exchange between nttd instances, and the partner acknowledgement
deadline.

Another nttd instance is a partner like any other on the sending side (its webhook_url
is its `/api/v1/exchange`); here it is received (`receive`), our status changes flow
back to it through an outbox (`statuses`), and partners that do not acknowledge a
routed case in time are flagged (`deadline`).

Other packages import from here only.
"""

from nttd.exchange.deadline import REASON as ACK_DEADLINE_REASON
from nttd.exchange.deadline import flag_unacknowledged, next_deadline
from nttd.exchange.receive import (
    MAX_BODY,
    MAX_REPORTS,
    SENDER_HEADER,
    ExchangeRefused,
    Received,
    receive_cases,
    sender_case_id,
)
from nttd.exchange.statuses import (
    deliver_exchange_reports,
    exchange_statuses,
    next_report_due,
    queue_exchange_statuses,
    statuses_due,
)

__all__ = [
    "ACK_DEADLINE_REASON",
    "MAX_BODY",
    "MAX_REPORTS",
    "SENDER_HEADER",
    "ExchangeRefused",
    "Received",
    "deliver_exchange_reports",
    "exchange_statuses",
    "flag_unacknowledged",
    "next_deadline",
    "next_report_due",
    "queue_exchange_statuses",
    "receive_cases",
    "sender_case_id",
    "statuses_due",
]
