"""Rendering a notice: plain-text subject and body from templates, plus a JSON payload.

Templates live in `<template_dir>/notices/<kind>/<language>/{subject.txt,body.txt}`;
a language without its own folder falls back to `en`. Kinds shipped: `host`,
`cdn`, `registrar`, `partner`.

What the templates see (and what they do not): the exact URLs are NEVER in the
template context, so no template can print a live link by mistake. Templates get

    items      list of {"reference", "url_defanged", "host_defanged", "ip",
               "ip_defanged", "classification", "content_type", "confirmed_at"}
               (confirmed_at as ISO 8601, UTC)
    count      len(items)
    sender     {"name", "email", "country"}       (the hotline that sends)
    recipient  {"name", "email", "country"}
    reply_url  our own link where the recipient answers, or None
    sent_at    ISO 8601, UTC
    step       "notice" (the first letter), "reminder" (a letter chasing it) or
               "escalation" (to the next party on the ladder, once reminders failed)
    respond_by ISO 8601, UTC: by when the recipient is asked to act (default sent_at + 24h)
    legal_basis the legal-basis paragraph in the letter's language (notices.texts)
    signature  the closing above the sender's name, in the letter's language

One template pair per kind and language serves every step: a letter branches on
`step` where the reminder's or escalation's words differ, so hotline staff edit whole letters.

Undefined names fail loudly (StrictUndefined). The subject is made one line.

The payload (the machine-readable part, sent as report.json or as a webhook body):

    {"format": "nttd-notice/1", "kind": str, "language": str, "sent_at": ISO-8601,
     "sender": {"name", "email", "country"}, "recipient": {"name", "email", "country"},
     "reports": [{"reference", "url", "host", "ip", "classification",
                  "content_type", "confirmed_at"}]}

`url` there is the exact URL. `language` is the language actually rendered (after
any fallback to `en`). Times are ISO 8601 in UTC.

Failures: an unknown kind (or one without an `en` template) is `TemplateMissing`,
a fact about the installation. A template error (a typo'd name) is raised as jinja2
raises it: it is a bug to fix, not something to retry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2

from notices.defang import defang
from notices.errors import TemplateMissing
from notices.texts import LetterTexts

PAYLOAD_FORMAT = "nttd-notice/1"
FALLBACK_LANGUAGE = "en"
STEPS = ("notice", "reminder", "escalation")
DEFAULT_RESPONSE_TIME = timedelta(hours=24)
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class NoticeItem:
    """One reported URL in a notice."""

    reference: str  # our case reference, e.g. "NTTD-42"
    url: str  # the exact URL: goes ONLY into the JSON payload
    host: str
    ip: str | None
    classification: str | None
    content_type: str | None
    confirmed_at: datetime  # aware


@dataclass(frozen=True)
class Party:
    """The sender or the recipient of a notice."""

    name: str
    email: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class RenderedNotice:
    """A notice ready to send: subject and body for people, payload for machines."""

    kind: str
    language: str
    subject: str
    body: str  # plain text; URLs only defanged
    payload: dict[str, Any]  # exact URLs, references, metadata (see module doc)


def _iso(value: datetime, what: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC).isoformat()


def _party(party: Party) -> dict[str, str | None]:
    return {"name": party.name, "email": party.email, "country": party.country}


def _template_item(item: NoticeItem) -> dict[str, str | None]:
    # Deliberately no "url" key: templates never see the exact URL.
    return {
        "reference": item.reference,
        "url_defanged": defang(item.url),
        "host_defanged": defang(item.host),
        "ip": item.ip,
        "ip_defanged": defang(item.ip) if item.ip is not None else None,
        "classification": item.classification,
        "content_type": item.content_type,
        "confirmed_at": _iso(item.confirmed_at, "confirmed_at"),
    }


def _payload_item(item: NoticeItem) -> dict[str, str | None]:
    return {
        "reference": item.reference,
        "url": item.url,
        "host": item.host,
        "ip": item.ip,
        "classification": item.classification,
        "content_type": item.content_type,
        "confirmed_at": _iso(item.confirmed_at, "confirmed_at"),
    }


def _one_line(text: str) -> str:
    return " ".join(text.split())


class NoticeRenderer:
    """Renders notices from a template folder; one instance can be shared."""

    def __init__(self, template_dir: Path) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(Path(template_dir) / "notices"),
            undefined=jinja2.StrictUndefined,
            # Plain text only: nothing rendered here is ever HTML, and HTML escaping
            # would corrupt names such as "Smith & Co".
            autoescape=False,  # noqa: S701
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._languages: dict[str, frozenset[str]] = {}

    def languages(self, kind: str) -> frozenset[str]:
        """The languages that have a complete letter (subject and body) for `kind`.
        Read once per renderer: a new language folder is seen after a restart."""
        if kind not in self._languages:
            self._languages[kind] = self._find_languages(kind)
        return self._languages[kind]

    def _find_languages(self, kind: str) -> frozenset[str]:
        if not _NAME_RE.match(kind):
            return frozenset()
        found: dict[str, set[str]] = {}
        for name in self._env.list_templates():
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == kind and _NAME_RE.match(parts[1]):
                found.setdefault(parts[1], set()).add(parts[2])
        return frozenset(lang for lang, files in found.items()
                         if {"subject.txt", "body.txt"} <= files)

    def _templates(self, kind: str, language: str) -> tuple[str, jinja2.Template, jinja2.Template]:
        if not _NAME_RE.match(kind):
            raise TemplateMissing(f"invalid notice kind {kind!r}")
        languages = [language] if language == FALLBACK_LANGUAGE else [language, FALLBACK_LANGUAGE]
        for lang in languages:
            if not _NAME_RE.match(lang):
                continue
            try:
                subject = self._env.get_template(f"{kind}/{lang}/subject.txt")
                body = self._env.get_template(f"{kind}/{lang}/body.txt")
            except jinja2.TemplateNotFound:
                continue
            return lang, subject, body
        raise TemplateMissing(
            f"no templates for notice kind {kind!r} in {language!r} or {FALLBACK_LANGUAGE!r}"
        )

    def render(
        self,
        kind: str,
        language: str,
        *,
        items: Sequence[NoticeItem],
        sender: Party,
        recipient: Party,
        reply_url: str | None = None,
        now: datetime,
        step: str = "notice",
        respond_by: datetime | None = None,
        texts: LetterTexts | None = None,
    ) -> RenderedNotice:
        """Render one notice about `items` from `sender` to `recipient`."""
        if not items:
            raise ValueError("a notice needs at least one item")
        if step not in STEPS:
            raise ValueError(f"step must be one of {', '.join(STEPS)}, not {step!r}")
        used_language, subject_template, body_template = self._templates(kind, language)
        sent_at = _iso(now, "now")
        texts = texts or LetterTexts()
        context: dict[str, Any] = {
            "items": [_template_item(item) for item in items],
            "count": len(items),
            "sender": _party(sender),
            "recipient": _party(recipient),
            "reply_url": reply_url,
            "sent_at": sent_at,
            "step": step,
            "respond_by": _iso(respond_by or now + DEFAULT_RESPONSE_TIME, "respond_by"),
            "legal_basis": texts.legal_basis_for(used_language),
            "signature": texts.signature_for(used_language),
        }
        payload: dict[str, Any] = {
            "format": PAYLOAD_FORMAT,
            "kind": kind,
            "language": used_language,
            "sent_at": sent_at,
            "sender": _party(sender),
            "recipient": _party(recipient),
            "reports": [_payload_item(item) for item in items],
        }
        return RenderedNotice(
            kind=kind,
            language=used_language,
            subject=_one_line(subject_template.render(context)),
            body=body_template.render(context),
            payload=payload,
        )
