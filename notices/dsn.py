"""Reading a delivery status notification (RFC 3464) with the standard `email` package.

A DSN is `multipart/report; report-type=delivery-status` with three parts: a text
for people, a `message/delivery-status` part (one block of per-message fields, then
one block per recipient: `Final-Recipient`, `Action`, `Status`, `Diagnostic-Code`),
and the returned message or its headers (`message/rfc822` or `text/rfc822-headers`).

`parse_dsn` gives what nttd needs to act on it:
- the addresses the bounce was delivered to (Delivered-To, X-Original-To, To,
  Return-Path: where a VERP envelope sender turns up);
- per recipient: action (failed, delayed, delivered, relayed, expanded), status
  code (5.x.x permanent, 4.x.x temporary), the recipients, the diagnostic text;
- the Message-ID of the returned message, when its headers came back.

    NotADsn (ValueError)     the message is not a delivery status report
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses

MAX_FIELD = 500
_STATUS = re.compile(r"^([245])\.[0-9]{1,3}\.[0-9]{1,3}$")
_ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "To", "Envelope-To", "Return-Path")


class NotADsn(ValueError):
    """The message is not a delivery status notification (RFC 3464)."""


@dataclass(frozen=True)
class RecipientStatus:
    action: str                    # failed | delayed | delivered | relayed | expanded
    status: str                    # e.g. 5.1.1 (empty if missing or malformed)
    final_recipient: str | None
    original_recipient: str | None
    diagnostic: str | None

    @property
    def permanent(self) -> bool:
        """Failed for good: `Action: failed` with a 5.x.x status (or no usable status)."""
        return self.action == "failed" and not self.status.startswith("4")

    @property
    def temporary(self) -> bool:
        """Not delivered yet, still being tried: `delayed`, or a 4.x.x status."""
        return self.action == "delayed" or (self.action == "failed"
                                            and self.status.startswith("4"))


@dataclass(frozen=True)
class Dsn:
    delivered_to: tuple[str, ...]    # addresses this bounce was sent to (VERP lives here)
    recipients: tuple[RecipientStatus, ...]
    returned_message_id: str | None  # Message-ID of the message that bounced
    reporting_mta: str | None


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text[:MAX_FIELD] or None


def _typed_address(value: object) -> str | None:
    """`rfc822; someone@example.com` → the address."""
    text = _text(value)
    if text is None:
        return None
    kind, sep, address = text.partition(";")
    return (address if sep else kind).strip().strip("<>").strip() or None


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    # Some parsers leave the part as text: read its blocks as header blocks.
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    return [message_from_bytes(chunk.strip().encode() + b"\n", policy=policy.compat32)
            for chunk in re.split(r"\r?\n\s*\r?\n", text) if chunk.strip()]


def _returned_message_id(report: Message) -> str | None:
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                return _text(inner.get("Message-ID"))
        elif kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                headers = message_from_bytes(raw, policy=policy.compat32)
                return _text(headers.get("Message-ID"))
    return None


def parse_dsn(raw: bytes) -> Dsn:
    """The delivery status report in `raw` (a whole message); NotADsn otherwise."""
    message = message_from_bytes(raw, policy=policy.compat32)
    if message.get_content_type() != "multipart/report":
        raise NotADsn(f"not a delivery status notification: the message is "
                      f"{message.get_content_type()}, not multipart/report")
    report_type = str(message.get_param("report-type", "") or "").lower()
    if report_type != "delivery-status":
        raise NotADsn("not a delivery status notification: a multipart/report whose "
                      f"report-type is {report_type or 'missing'}, not delivery-status")
    status_part = next((p for p in message.walk()
                        if p.get_content_type() == "message/delivery-status"), None)
    if status_part is None:
        raise NotADsn("the report has no message/delivery-status part")
    blocks = _blocks(status_part)
    per_message = blocks[0] if blocks else None
    recipients = []
    for block in blocks[1:]:
        action = (_text(block.get("Action")) or "").lower()
        status = (_text(block.get("Status")) or "").split(" ")[0]
        if not action:
            continue
        recipients.append(RecipientStatus(
            action=action,
            status=status if _STATUS.match(status) else "",
            final_recipient=_typed_address(block.get("Final-Recipient")),
            original_recipient=_typed_address(block.get("Original-Recipient")),
            diagnostic=_text(block.get("Diagnostic-Code")),
        ))
    if not recipients:
        raise NotADsn("the delivery status part names no recipient with an Action")
    delivered_to: list[str] = []
    for name in _ADDRESS_HEADERS:
        values = [str(v) for v in message.get_all(name, [])]
        delivered_to.extend(address for _, address in getaddresses(values) if address)
    return Dsn(
        delivered_to=tuple(dict.fromkeys(delivered_to)),
        recipients=tuple(recipients),
        returned_message_id=_returned_message_id(message),
        reporting_mta=_typed_address(per_message.get("Reporting-MTA"))
        if per_message is not None else None,
    )
