"""The pure rules of delivery: the retry waits, the fallback ladder's order, reading
a delivery status notification."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from notices.dsn import NotADsn, parse_dsn
from nttd.cases import CaseFacts
from nttd.outbox import contact_ladder, retry_delay

M = timedelta(minutes=1)


def test_without_a_schedule_waits_double_from_1m_up_to_4h_with_jitter() -> None:
    rng = random.Random(7)
    for attempts, base in [(1, M), (2, 2 * M), (3, 4 * M), (8, 128 * M), (9, 240 * M),
                           (40, 240 * M)]:
        waits = [retry_delay(attempts, (), rng) for _ in range(200)]
        assert all(base <= w <= base * 1.2 for w in waits), (attempts, min(waits), max(waits))
        assert len(set(waits)) > 100  # jittered, not one fixed value
    assert retry_delay(0, (), rng) >= M


def test_an_explicit_schedule_is_kept_exactly() -> None:
    schedule = (timedelta(seconds=30), 5 * M, 60 * M)
    assert [retry_delay(n, schedule) for n in (1, 2, 3, 4, 10)] == [
        timedelta(seconds=30), 5 * M, 60 * M, 60 * M, 60 * M]


def test_the_ladder_goes_host_then_upstream_then_registrar_and_cdn_first_when_in_front(
) -> None:
    data = {
        "hosting": {"asn": 64500, "as_name": "EXAMPLE-NET",
                    "abuse_emails": ["abuse@host.example", "noc@host.example"],
                    "as_abuse_emails": ["abuse@upstream.example"]},
        "registrar": {"name": "Registrar", "abuse_emails": ["abuse@registrar.example"]},
    }
    ladder = contact_ladder(CaseFacts.from_json(data))
    assert [(r.kind, r.addresses) for r in ladder] == [
        ("host", ("abuse@host.example", "noc@host.example")),
        ("host", ("abuse@upstream.example",)),
        ("registrar", ("abuse@registrar.example",))]
    assert ladder[1].name == "AS64500 EXAMPLE-NET"
    behind = contact_ladder(CaseFacts.from_json(
        {**data, "cdn": {"name": "CDN", "abuse_emails": ["abuse@cdn.example"]}}))
    assert [r.kind for r in behind] == ["cdn", "registrar"]


DSN = b"""From: MAILER-DAEMON@mx.example.net
To: hotline+n7-0123abcd@home.example
Delivered-To: hotline+n7-0123abcd@home.example
Subject: Delivery Status Notification (Failure)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Delivery to the following recipient failed permanently.
--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; abuse@host.example
Action: failed
Status: 5.2.2 (mailbox full)
Diagnostic-Code: smtp; 552 5.2.2 mailbox full

Final-Recipient: rfc822; noc@host.example
Action: delayed
Status: 4.4.1

--b1
Content-Type: message/rfc822

From: hotline@home.example
Message-ID: <nttd-notice-7.abc@home.example>
Subject: x

body
--b1--
"""


def test_a_dsn_is_read_with_every_recipient_and_the_returned_message_id() -> None:
    report = parse_dsn(DSN)
    assert report.delivered_to == ("hotline+n7-0123abcd@home.example",)
    assert report.reporting_mta == "mx.example.net"
    assert report.returned_message_id == "<nttd-notice-7.abc@home.example>"
    first, second = report.recipients
    assert (first.action, first.status, first.final_recipient) == (
        "failed", "5.2.2", "abuse@host.example")
    assert first.permanent and not first.temporary
    assert second.temporary and not second.permanent
    assert "552" in (first.diagnostic or "")


@pytest.mark.parametrize("raw, reason", [
    (b"From: a@example.org\nSubject: hi\n\nhello\n", "not multipart/report"),
    (DSN.replace(b"report-type=delivery-status", b"report-type=feedback-report"),
     "feedback-report"),
    (DSN.replace(b"message/delivery-status", b"text/plain"), "no message/delivery-status"),
    (b"", "not multipart/report"),
])
def test_what_is_not_a_dsn_says_why(raw: bytes, reason: str) -> None:
    with pytest.raises(NotADsn, match=reason):
        parse_dsn(raw)
