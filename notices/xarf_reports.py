"""X-ARF v4 reports for providers' abuse desks: one `content`/`csam` report per URL.

Built with the `xarf` package (X-ARF schema 4.2.0) from a rendered notice's payload,
so a notice sent again after a crash carries the very same reports (the report id is
derived from the notice, not drawn at random). Only notices to a provider carry them
(`host`, `registrar`, `cdn`); a partner hotline gets our own JSON only.

What a report holds: the exact URL as submitted, the classification (the X-ARF
scale; a hotline classification outside it is sent as `baseline`, the Interpol
baseline of material illegal everywhere, with the hotline's own word in the
description), the case reference (description and a `case:` tag), the reporter and
sender (the hotline's name and its notice address), the time the content was
confirmed (`timestamp`), how it was found (`manual_review` by an analyst), the host
name and the address it resolved to. What it never holds: media, hashes, screenshots
or any other evidence of the content (`evidence`, `hash_values`, `screenshot_url`).

Failure: a payload without a sender e-mail address is a ValueError (X-ARF requires a
reporter contact): the outbox refuses to send e-mail notices without NTTD_NOTICE_FROM
before it renders anything.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import Any

XARF_KINDS = frozenset({"host", "registrar", "cdn"})
CLASSIFICATIONS = {"baseline": "baseline", "a1": "A1", "a2": "A2", "b1": "B1", "b2": "B2"}
MEDIA_TYPES = frozenset({"image", "video", "audio", "text", "mixed"})
_DOMAIN_RE = re.compile(r"^([a-z0-9]+(-[a-z0-9]+)*\.)+[a-z]{2,}$")
_TAG_VALUE_RE = re.compile(r"^[a-z0-9][a-z0-9_+-]*$")


def _report_id(payload: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    """A UUID in the version-4 layout the schema asks for, fixed by the notice and URL."""
    recipient = payload.get("recipient") or {}
    seed = "|".join(str(part) for part in (
        payload.get("sent_at"), recipient.get("email"), recipient.get("name"),
        report.get("reference"), report.get("url")))
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _contact(sender: Mapping[str, Any]) -> dict[str, str]:
    address = sender.get("email")
    if not address or "@" not in address:
        raise ValueError("an X-ARF report needs the sender's e-mail address (NTTD_NOTICE_FROM)")
    return {"org": str(sender.get("name") or "nttd")[:200], "contact": address,
            "domain": address.rpartition("@")[2].lower()}


def build_report(payload: Mapping[str, Any], report: Mapping[str, Any]) -> dict[str, Any]:
    """One X-ARF v4 content/csam report (a JSON-ready dict) for one entry of `reports`."""
    # Imported on first use: xarf builds its pydantic models and JSON schemas at import
    # (~1 s here), which every `nttd` command would otherwise pay at start.
    import xarf

    contact = _contact(payload.get("sender") or {})
    own = report.get("classification")
    classification = CLASSIFICATIONS.get(str(own or "").strip().lower(), "baseline")
    reference = str(report["reference"])
    description = f"Case reference {reference}."
    if own and CLASSIFICATIONS.get(str(own).strip().lower()) is None:
        description += f" Classification by the reporting hotline: {own}."
    extra: dict[str, Any] = {}
    host = str(report.get("host") or "").lower()
    if _DOMAIN_RE.match(host):
        extra["domain"] = host
    media = str(report.get("content_type") or "").strip().lower()
    if media in MEDIA_TYPES:
        extra["media_type"] = media
    tag = reference.lower()
    if _TAG_VALUE_RE.match(tag):
        extra["tags"] = [f"case:{tag}"]
    result = xarf.create_report(
        category="content",
        type="csam",
        source_identifier=report.get("ip") or host or str(report["url"]),
        reporter=contact,
        sender=contact,
        url=report["url"],
        classification=classification,
        detection_method="manual_review",
        verification_method="manual",
        confidence=1.0,
        description=description[:1000],
        **extra,
    )
    if result.errors or result.report is None:
        problems = "; ".join(error.message for error in result.errors)
        raise ValueError(f"X-ARF report for {reference} is invalid: {problems}")
    built: dict[str, Any] = result.report.model_dump(mode="json", by_alias=True,
                                                     exclude_none=True)
    # The generator stamps a random id and the current time; ours are stable, and the
    # timestamp is when the content was confirmed online.
    built["report_id"] = _report_id(payload, report)
    built["timestamp"] = report["confirmed_at"]
    return built


def build_reports(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The X-ARF reports a notice carries: one per URL to a provider, none to a partner."""
    if payload.get("kind") not in XARF_KINDS:
        return []
    return [build_report(payload, report) for report in payload.get("reports", [])]
