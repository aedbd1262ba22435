"""Email notices: the message shape, the SMTP URL, and delivery to a loopback sink."""

from __future__ import annotations

import json
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from notices.errors import DeliveryError
from notices.mail import SmtpConfig, build_message, parse_smtp_url, send_message
from notices.render import NoticeItem, NoticeRenderer, Party, RenderedNotice
from nttd.demo.standins.smtp_sink import SmtpSink

from .conftest import NOW

FROM = "notices@home.example"
TO = ["abuse@hosting.example", "noc@hosting.example"]


@pytest.fixture
def rendered(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party
) -> RenderedNotice:
    return renderer.render("host", "en", items=items, sender=sender, recipient=recipient, now=NOW)


def _leaf_types(message: EmailMessage) -> list[str]:
    return [part.get_content_type() for part in message.walk() if not part.is_multipart()]


def test_message_has_text_and_json_parts_only(rendered: RenderedNotice) -> None:
    message = build_message(rendered, from_addr=FROM, to_addrs=TO)
    assert message.get_content_type() == "multipart/mixed"
    assert _leaf_types(message) == ["text/plain", "application/json"]
    assert all(part.get_content_type() != "text/html" for part in message.walk())
    body, attachment = (part for part in message.walk() if not part.is_multipart())
    assert body.get_content_charset() == "utf-8"
    assert body.get_content() == rendered.body
    assert attachment.get_filename() == "report.json"
    assert attachment.get_content_disposition() == "attachment"
    assert json.loads(attachment.get_content()) == rendered.payload


def test_message_headers(rendered: RenderedNotice) -> None:
    message = build_message(rendered, from_addr=FROM, to_addrs=TO,
                            message_id_domain="nttd.example")
    assert message["Subject"] == rendered.subject
    assert message["From"] == FROM
    assert message["To"] == ", ".join(TO)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@nttd.example>")
    assert message["Date"].datetime == NOW


def test_exact_urls_are_not_readable_in_the_raw_message(
    rendered: RenderedNotice, items: list[NoticeItem]
) -> None:
    raw = build_message(rendered, from_addr=FROM, to_addrs=TO).as_bytes()
    assert b"http://" not in raw and b"https://" not in raw
    for item in items:
        assert item.url.encode() not in raw
    reparsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(reparsed, EmailMessage)
    assert _leaf_types(reparsed) == ["text/plain", "application/json"]


def test_message_needs_recipients(rendered: RenderedNotice) -> None:
    with pytest.raises(ValueError, match="recipient"):
        build_message(rendered, from_addr=FROM, to_addrs=[])
    with pytest.raises(TypeError):
        build_message(rendered, from_addr=FROM, to_addrs="abuse@hosting.example")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1", SmtpConfig("127.0.0.1", 25, False, False, None, None)),
        ("smtp://mail.example:2525", SmtpConfig("mail.example", 2525, False, False, None, None)),
        ("smtp://mail.example:587", SmtpConfig("mail.example", 587, False, True, None, None)),
        ("SMTP://mail.example/", SmtpConfig("mail.example", 25, False, False, None, None)),
        ("smtps://mail.example", SmtpConfig("mail.example", 465, True, False, None, None)),
        (
            "smtps://bot%40home.example:p%3Ass@mail.example:4650",
            SmtpConfig("mail.example", 4650, True, False, "bot@home.example", "p:ss"),
        ),
        (
            "smtp://bot:pw@mail.example",
            SmtpConfig("mail.example", 25, False, True, "bot", "pw"),
        ),
        (
            "smtp://bot:pw@127.0.0.1:25?starttls=no",
            SmtpConfig("127.0.0.1", 25, False, False, "bot", "pw"),
        ),
        (
            "smtp://mail.example?starttls=yes",
            SmtpConfig("mail.example", 25, False, True, None, None),
        ),
        ("smtp://[::1]:2525", SmtpConfig("::1", 2525, False, False, None, None)),
    ],
)
def test_parse_smtp_url(url: str, expected: SmtpConfig) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example", "scheme"),
        ("mail.example:25", "scheme"),
        ("smtp://", "host"),
        ("smtp://mail.example:notaport", "port"),
        ("smtp://mail.example:70000", "port"),
        ("smtp://mail.example/inbox", "path"),
        ("smtp://mail.example?tls=1", "unknown option"),
        ("smtp://mail.example?starttls=maybe", "starttls"),
        ("smtps://mail.example?starttls=yes", "already uses TLS"),
    ],
)
def test_parse_smtp_url_errors(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_smtp_url(url)


def test_password_never_shown() -> None:
    config = parse_smtp_url("smtps://bot:s3cr3t-pw@mail.example")
    assert "s3cr3t-pw" not in repr(config)
    assert "s3cr3t-pw" not in str(config)
    assert "***" in repr(config)
    with pytest.raises(ValueError) as caught:
        parse_smtp_url("smtp://bot:s3cr3t-pw@mail.example:bad")
    assert "s3cr3t-pw" not in str(caught.value)


async def test_send_message_reaches_the_sink(
    rendered: RenderedNotice, smtp_sink: SmtpSink
) -> None:
    message = build_message(rendered, from_addr=FROM, to_addrs=TO)
    await send_message(message, parse_smtp_url(smtp_sink.url), timeout=5)
    assert len(smtp_sink.messages) == 1
    received = smtp_sink.messages[0]
    assert received.mail_from == FROM
    assert received.rcpt_tos == TO
    assert received.message["Subject"] == rendered.subject
    assert _leaf_types(received.message) == ["text/plain", "application/json"]
    attachment = next(received.message.iter_attachments())
    assert json.loads(attachment.get_content()) == rendered.payload
    assert b"text/html" not in received.raw


async def test_refused_connection_is_temporary(
    rendered: RenderedNotice, refused_port: int
) -> None:
    message = build_message(rendered, from_addr=FROM, to_addrs=TO)
    with pytest.raises(DeliveryError) as caught:
        await send_message(message, parse_smtp_url(f"smtp://127.0.0.1:{refused_port}"), timeout=5)
    assert caught.value.temporary is True


async def test_outage_then_recovery(rendered: RenderedNotice, smtp_sink: SmtpSink) -> None:
    message = build_message(rendered, from_addr=FROM, to_addrs=TO)
    config = parse_smtp_url(smtp_sink.url)
    await smtp_sink.stop()
    with pytest.raises(DeliveryError) as caught:
        await send_message(message, config, timeout=5)
    assert caught.value.temporary is True
    await smtp_sink.restart()
    await send_message(message, config, timeout=5)
    assert len(smtp_sink.messages) == 1


@pytest.mark.parametrize(
    ("rcpt_reply", "temporary"),
    [("550 5.1.1 No such mailbox", False), ("451 4.3.0 Try again later", True)],
)
async def test_recipients_refused(
    rendered: RenderedNotice, smtp_sink: SmtpSink, rcpt_reply: str, temporary: bool
) -> None:
    smtp_sink.rcpt_reply = rcpt_reply
    message = build_message(rendered, from_addr=FROM, to_addrs=TO)
    with pytest.raises(DeliveryError) as caught:
        await send_message(message, parse_smtp_url(smtp_sink.url), timeout=5)
    assert caught.value.temporary is temporary
    assert rcpt_reply.split()[0] in str(caught.value)
    assert smtp_sink.messages == []


@pytest.mark.parametrize(
    ("data_reply", "temporary"),
    [("554 5.7.1 Rejected as spam", False), ("452 4.3.1 Insufficient storage", True)],
)
async def test_data_refused(
    rendered: RenderedNotice, smtp_sink: SmtpSink, data_reply: str, temporary: bool
) -> None:
    smtp_sink.data_reply = data_reply
    message = build_message(rendered, from_addr=FROM, to_addrs=TO)
    with pytest.raises(DeliveryError) as caught:
        await send_message(message, parse_smtp_url(smtp_sink.url), timeout=5)
    assert caught.value.temporary is temporary


async def test_required_starttls_missing_is_permanent(
    rendered: RenderedNotice, smtp_sink: SmtpSink
) -> None:
    message = build_message(rendered, from_addr=FROM, to_addrs=TO)
    config = parse_smtp_url(f"{smtp_sink.url}?starttls=yes")
    with pytest.raises(DeliveryError) as caught:
        await send_message(message, config, timeout=5)
    assert caught.value.temporary is False
    assert smtp_sink.messages == []


async def test_non_ascii_notice_travels_intact(
    renderer: NoticeRenderer, smtp_sink: SmtpSink, recipient: Party
) -> None:
    item = NoticeItem("NTTD-7", "http://bücher.example/straße.jpg", "bücher.example", None,
                      None, None, NOW)
    rendered = renderer.render("partner", "nl", items=[item], sender=Party("Meldpunt Ünited"),
                               recipient=recipient, now=NOW)
    message = build_message(rendered, from_addr=FROM, to_addrs=TO)
    await send_message(message, parse_smtp_url(smtp_sink.url), timeout=5)
    received = smtp_sink.messages[0].message
    assert received["Subject"] == rendered.subject
    body = next(part for part in received.walk() if part.get_content_type() == "text/plain")
    assert body.get_content().replace("\r\n", "\n") == rendered.body  # CRLF on the wire
    assert "hxxp://bücher[.]example/straße.jpg" in body.get_content()
    attachment = next(received.iter_attachments())
    assert json.loads(attachment.get_content())["reports"][0]["url"] == item.url
