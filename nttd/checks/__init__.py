"""Checks: the headers-only probe, the network guard, the removal rule and the
check step's scheduler.

Other packages import from here only.
"""

from nttd.checks.guard import (
    AddressNotAllowed,
    DnsLookupFailed,
    DnsNameNotFound,
    GuardedResolver,
    is_public_address,
    parse_ip_literal,
)
from nttd.checks.probe import GONE_VERDICTS, Checker, CheckResult, Verdict
from nttd.checks.removal import Outcome, apply_check, prune_check_history, record_outcomes
from nttd.checks.scheduler import CheckScheduler, HostState

__all__ = [
    "GONE_VERDICTS",
    "AddressNotAllowed",
    "CheckResult",
    "CheckScheduler",
    "Checker",
    "DnsLookupFailed",
    "DnsNameNotFound",
    "GuardedResolver",
    "HostState",
    "Outcome",
    "Verdict",
    "apply_check",
    "is_public_address",
    "parse_ip_literal",
    "prune_check_history",
    "record_outcomes",
]
