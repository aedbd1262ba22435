"""Rendering: defanged URLs for people, exact URLs only in the payload."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import jinja2
import pytest

from notices.defang import defang
from notices.errors import TemplateMissing
from notices.render import NoticeItem, NoticeRenderer, Party

from .conftest import NOW

KINDS = ["host", "cdn", "registrar", "partner"]
REPLY_URL = "https://nttd.example/answer/abc123"
SCHEME = re.compile(r"https?://", re.IGNORECASE)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reply_url", [None, REPLY_URL])
def test_each_kind_renders_defanged_urls_only(
    renderer: NoticeRenderer,
    items: list[NoticeItem],
    sender: Party,
    recipient: Party,
    kind: str,
    reply_url: str | None,
) -> None:
    notice = renderer.render(
        kind, "en", items=items, sender=sender, recipient=recipient, reply_url=reply_url, now=NOW
    )
    assert notice.kind == kind
    assert notice.language == "en"
    assert notice.subject and "\n" not in notice.subject and "\r" not in notice.subject
    assert notice.subject == notice.subject.strip()
    for item in items:
        assert item.reference in notice.body
        assert defang(item.url) in notice.body
        assert item.url not in notice.body
        assert item.url not in notice.subject
    # The only live link a notice may carry is our own reply link.
    body_without_reply = notice.body.replace(REPLY_URL, "") if reply_url else notice.body
    assert not SCHEME.search(body_without_reply)
    assert not re.search(r"www\.\w", notice.body, re.IGNORECASE)
    assert not SCHEME.search(notice.subject)
    if reply_url:
        assert REPLY_URL in notice.body
    assert "report.json" in notice.body
    assert "hxxp" in notice.body and "[.]" in notice.body  # the read-back instructions
    assert sender.name in notice.body


@pytest.mark.parametrize("kind", KINDS)
def test_payload_holds_exact_urls_and_metadata(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party, kind: str
) -> None:
    notice = renderer.render(kind, "en", items=items, sender=sender, recipient=recipient, now=NOW)
    payload = notice.payload
    assert payload == {
        "format": "nttd-notice/1",
        "kind": kind,
        "language": "en",
        "sent_at": "2024-05-06T07:08:09+00:00",
        "sender": {"name": "Home Hotline", "email": "reports@home.example", "country": "GB"},
        "recipient": {"name": "Example Hosting", "email": "abuse@hosting.example", "country": "NL"},
        "reports": [
            {
                "reference": item.reference,
                "url": item.url,
                "host": item.host,
                "ip": item.ip,
                "classification": item.classification,
                "content_type": item.content_type,
                "confirmed_at": "2024-05-06T06:00:00+00:00",
            }
            for item in items
        ],
    }
    json.dumps(payload)  # serialisable as it is


def test_body_lists_item_metadata(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    body = renderer.render("host", "en", items=items, sender=sender, recipient=recipient,
                           now=NOW).body
    assert "127[.]0[.]0[.]2" in body
    assert "baseline" in body and "image" in body
    assert "2024-05-06T06:00:00+00:00" in body


def test_subject_counts_the_items(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    one = renderer.render("host", "en", items=items[:1], sender=sender, recipient=recipient,
                          now=NOW)
    two = renderer.render("host", "en", items=items, sender=sender, recipient=recipient, now=NOW)
    assert "NTTD-42" in one.subject and "more" not in one.subject
    assert "NTTD-42 and 1 more" in two.subject


def test_language_falls_back_to_english(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    # "it": a language nttd ships no letters in (de, fr, nl and es have their own).
    notice = renderer.render("host", "it", items=items, sender=sender, recipient=recipient,
                             now=NOW)
    english = renderer.render("host", "en", items=items, sender=sender, recipient=recipient,
                              now=NOW)
    assert notice.language == "en"
    assert notice.payload["language"] == "en"
    assert (notice.subject, notice.body) == (english.subject, english.body)


def test_partner_notice_in_dutch(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    notice = renderer.render("partner", "nl", items=items, sender=sender, recipient=recipient,
                             now=NOW)
    assert notice.language == "nl"
    assert "Overdracht" in notice.subject
    assert all(defang(item.url) in notice.body for item in items)
    assert not SCHEME.search(notice.body)


@pytest.mark.parametrize("kind", ["takedown", "", "../host", "host/en", "Host"])
def test_unknown_kind_is_template_missing(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party, kind: str
) -> None:
    with pytest.raises(TemplateMissing):
        renderer.render(kind, "en", items=items, sender=sender, recipient=recipient, now=NOW)


def test_kind_without_english_template_is_template_missing(
    tmp_path: Path, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    (tmp_path / "notices" / "host" / "fr").mkdir(parents=True)
    (tmp_path / "notices" / "host" / "fr" / "subject.txt").write_text("Avis\n")
    (tmp_path / "notices" / "host" / "fr" / "body.txt").write_text("Bonjour\n")
    renderer = NoticeRenderer(tmp_path)
    assert renderer.render("host", "fr", items=items, sender=sender, recipient=recipient,
                           now=NOW).body == "Bonjour\n"
    with pytest.raises(TemplateMissing):
        renderer.render("host", "de", items=items, sender=sender, recipient=recipient, now=NOW)


def _write_templates(root: Path, subject: str, body: str) -> NoticeRenderer:
    folder = root / "notices" / "host" / "en"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text(subject)
    (folder / "body.txt").write_text(body)
    return NoticeRenderer(root)


def test_template_typo_fails_loudly(
    tmp_path: Path, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    renderer = _write_templates(tmp_path, "Notice\n", "{{ recipent.name }}\n")
    with pytest.raises(jinja2.UndefinedError):
        renderer.render("host", "en", items=items, sender=sender, recipient=recipient, now=NOW)


def test_templates_cannot_reach_the_exact_url(
    tmp_path: Path, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    renderer = _write_templates(tmp_path, "Notice\n", "{{ items[0].url }}\n")
    with pytest.raises(jinja2.UndefinedError):
        renderer.render("host", "en", items=items, sender=sender, recipient=recipient, now=NOW)


def test_subject_is_one_line_and_body_is_not_escaped(
    tmp_path: Path, items: list[NoticeItem], recipient: Party
) -> None:
    renderer = _write_templates(
        tmp_path, "Notice\n  for {{ sender.name }}\n\n", "From {{ sender.name }}\n"
    )
    notice = renderer.render("host", "en", items=items, sender=Party("Smith & <Co>"),
                             recipient=recipient, now=NOW)
    assert notice.subject == "Notice for Smith & <Co>"
    assert notice.body == "From Smith & <Co>\n"  # plain text: no HTML escaping, newline kept


def test_naive_datetimes_are_refused(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    with pytest.raises(ValueError, match="aware"):
        renderer.render("host", "en", items=items, sender=sender, recipient=recipient,
                        now=datetime(2024, 1, 1))


def test_a_notice_needs_items(renderer: NoticeRenderer, sender: Party, recipient: Party) -> None:
    with pytest.raises(ValueError, match="at least one"):
        renderer.render("host", "en", items=[], sender=sender, recipient=recipient, now=NOW)
