"""Cases: the lifecycle, intake, hold and release, partner reports, events (the
audit trail), when a case is next checked, and the queries that list and show
cases for a principal (the access rules live there, for the API and the web UI).

Other packages import from here only.
"""

from nttd.cases import schedule
from nttd.cases.audit import AuditReport, recent_events, seal_events, verify_audit_trail
from nttd.cases.clocks import Duration, case_times
from nttd.cases.events import record_event, transition
from nttd.cases.facts import CaseFacts, Contact, Hosting, store_facts
from nttd.cases.flags import clear_flag, flag_case
from nttd.cases.hold import hold, release
from nttd.cases.intake import (
    MAX_URLS_PER_REQUEST,
    IntakeError,
    Submission,
    Submitted,
    parse_instant,
    parse_submission,
    submit,
)
from nttd.cases.lifecycle import (
    CHECKED_STATUSES,
    HOLDABLE,
    OPEN_STATUSES,
    REROUTABLE,
    TRANSITIONS,
    CaseStatus,
    InvalidTransition,
    check_transition,
)
from nttd.cases.queries import (
    MAX_PAGE,
    CaseFilter,
    CaseNotFound,
    QueryError,
    case_detail,
    case_summary,
    inbox_answered,
    list_cases,
    may_see,
    notice_texts,
    partner_inbox,
    visible_case,
)
from nttd.cases.reports import PARTNER_STATUSES, ReportError, repeated_report, report_status
from nttd.cases.retention import anonymise_due
from nttd.cases.text import MAX_NOTE, clean_text, text_problem

__all__ = [
    "CHECKED_STATUSES",
    "HOLDABLE",
    "MAX_NOTE",
    "MAX_PAGE",
    "MAX_URLS_PER_REQUEST",
    "OPEN_STATUSES",
    "PARTNER_STATUSES",
    "REROUTABLE",
    "TRANSITIONS",
    "AuditReport",
    "CaseFacts",
    "CaseFilter",
    "CaseNotFound",
    "CaseStatus",
    "Contact",
    "Duration",
    "Hosting",
    "IntakeError",
    "InvalidTransition",
    "QueryError",
    "ReportError",
    "Submission",
    "Submitted",
    "anonymise_due",
    "case_detail",
    "case_summary",
    "case_times",
    "check_transition",
    "clean_text",
    "clear_flag",
    "flag_case",
    "hold",
    "inbox_answered",
    "list_cases",
    "may_see",
    "notice_texts",
    "parse_instant",
    "parse_submission",
    "partner_inbox",
    "recent_events",
    "record_event",
    "release",
    "repeated_report",
    "report_status",
    "schedule",
    "seal_events",
    "store_facts",
    "submit",
    "text_problem",
    "transition",
    "verify_audit_trail",
    "visible_case",
]
