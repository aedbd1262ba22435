"""notices: turning a decision into a message and delivering it.

A leaf library (it imports nothing from nttd or resolvers):

- `defang`: URLs written for people, never clickable;
- `render`: jinja2 templates per recipient kind and language -> subject, body, JSON payload;
- `mail`: the email (text/plain + report.json, never HTML) and its SMTP delivery;
- `webhook`: HMAC-signed JSON POSTs to partner hotlines;
- `errors`: NoticeError, TemplateMissing, DeliveryError(temporary=...).
"""

from __future__ import annotations

from notices.defang import defang
from notices.errors import DeliveryError, NoticeError, TemplateMissing
from notices.mail import SmtpConfig, build_message, parse_smtp_url, send_message
from notices.render import NoticeItem, NoticeRenderer, Party, RenderedNotice
from notices.webhook import SIGNATURE_HEADER, encode_payload, post_webhook, sign, verify

__all__ = [
    "SIGNATURE_HEADER",
    "DeliveryError",
    "NoticeError",
    "NoticeItem",
    "NoticeRenderer",
    "Party",
    "RenderedNotice",
    "SmtpConfig",
    "TemplateMissing",
    "build_message",
    "defang",
    "encode_payload",
    "parse_smtp_url",
    "post_webhook",
    "send_message",
    "sign",
    "verify",
]
