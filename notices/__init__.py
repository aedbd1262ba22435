"""notices: turning a decision into a message and delivering it.

A leaf library (it imports nothing from nttd or resolvers):

- `defang`: URLs written for people, never clickable;
- `render`: jinja2 templates per recipient kind and language -> subject, body, JSON payload;
- `mail`: the email (text/plain + report.json, never HTML) and its SMTP delivery;
- `webhook`: HMAC-signed JSON POSTs to partner hotlines;
- `language`: which language a notice is written in (a pure decision);
- `texts`: the legal-basis paragraph and the signature per language;
- `xarf_reports`: X-ARF v4 content/csam reports, one per URL, for providers;
- `errors`: NoticeError, TemplateMissing, DeliveryError(temporary=...).
"""

from __future__ import annotations

from notices.defang import defang
from notices.errors import DeliveryError, NoticeError, TemplateMissing
from notices.language import DEFAULT_COUNTRY_LANGUAGES, language_for
from notices.mail import SmtpConfig, build_message, parse_smtp_url, send_message
from notices.render import NoticeItem, NoticeRenderer, Party, RenderedNotice
from notices.texts import LetterTexts
from notices.webhook import SIGNATURE_HEADER, encode_payload, post_webhook, sign, verify
from notices.xarf_reports import build_reports

__all__ = [
    "DEFAULT_COUNTRY_LANGUAGES",
    "SIGNATURE_HEADER",
    "DeliveryError",
    "LetterTexts",
    "NoticeError",
    "NoticeItem",
    "NoticeRenderer",
    "Party",
    "RenderedNotice",
    "SmtpConfig",
    "TemplateMissing",
    "build_message",
    "build_reports",
    "defang",
    "encode_payload",
    "language_for",
    "parse_smtp_url",
    "post_webhook",
    "send_message",
    "sign",
    "verify",
]
