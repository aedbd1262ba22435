from __future__ import annotations

import pytest

from nttd.outbox import InvalidNoticeTransition, NoticeStatus, check_notice_transition
from nttd.outbox.status import TRANSITIONS


def test_every_notice_status_has_transitions_declared() -> None:
    assert set(TRANSITIONS) == set(NoticeStatus)


def test_a_queued_notice_ends_sent_failed_or_cancelled() -> None:
    for end in (NoticeStatus.SENT, NoticeStatus.FAILED, NoticeStatus.CANCELLED):
        assert check_notice_transition("queued", end) is end


def test_a_sent_notice_is_final_and_the_error_says_so() -> None:
    with pytest.raises(InvalidNoticeTransition, match=r"cannot become queued.*final"):
        check_notice_transition("sent", NoticeStatus.QUEUED)
    with pytest.raises(InvalidNoticeTransition):
        check_notice_transition("bogus", NoticeStatus.SENT)
