from __future__ import annotations

import pytest

from nttd.outbox import InvalidNoticeTransition, NoticeStatus, check_notice_transition
from nttd.outbox.status import TRANSITIONS


def test_every_notice_status_has_transitions_declared() -> None:
    assert set(TRANSITIONS) == set(NoticeStatus)


def test_a_notice_is_sending_before_it_is_sent() -> None:
    for end in (NoticeStatus.SENDING, NoticeStatus.FAILED, NoticeStatus.CANCELLED):
        assert check_notice_transition("queued", end) is end
    for end in (NoticeStatus.SENT, NoticeStatus.QUEUED, NoticeStatus.FAILED):
        assert check_notice_transition("sending", end) is end
    with pytest.raises(InvalidNoticeTransition, match="cannot become sent"):
        check_notice_transition("queued", NoticeStatus.SENT)


def test_a_sent_notice_can_only_bounce_and_the_error_says_so() -> None:
    with pytest.raises(InvalidNoticeTransition, match=r"cannot become queued.*: bounced$"):
        check_notice_transition("sent", NoticeStatus.QUEUED)
    assert check_notice_transition("sent", NoticeStatus.BOUNCED) is NoticeStatus.BOUNCED
    with pytest.raises(InvalidNoticeTransition, match=r"cannot become sent.*final"):
        check_notice_transition("bounced", NoticeStatus.SENT)
    with pytest.raises(InvalidNoticeTransition):
        check_notice_transition("bogus", NoticeStatus.SENT)
