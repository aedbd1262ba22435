"""The clocks of a case (DESIGN.md): time to removal and notice to removal.

Time to removal = removed_at - confirmed_at - time on hold; notice to removal =
removed_at - first_notice_at - time on hold. A case still online is censored at
`now` (a closed one at its closure): the duration so far, not observed.
"""

from __future__ import annotations

from datetime import datetime

from nttd.cases.lifecycle import CaseStatus
from nttd.models import Case

Duration = tuple[float, bool]  # seconds, observed (False: right-censored)


def case_times(case: Case, now: datetime) -> tuple[Duration, Duration | None]:
    """(time to removal, notice to removal or None when no notice was sent)."""
    held = case.hold_seconds or 0.0
    if case.hold_started_at is not None:
        held += (now - case.hold_started_at).total_seconds()
    if case.removed_at is not None:
        end, observed = case.removed_at, True
    elif case.status == CaseStatus.CLOSED:
        end, observed = case.updated_at, False
    else:
        end, observed = now, False
    to_removal = (max((end - case.confirmed_at).total_seconds() - held, 0.0), observed)
    notice = None
    if case.first_notice_at is not None:
        notice = (max((end - case.first_notice_at).total_seconds() - held, 0.0), observed)
    return to_removal, notice
