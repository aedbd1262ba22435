"""Every letter in every language and step: present, complete, defanged, translated.

The shipped templates are rendered with StrictUndefined (a missing key fails), for
each kind x language x step, with one and with two items and with and without a
reply link. A non-English letter fails when it keeps an English sentence (the same
sentence as the English letter) or an English marker word.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notices.defang import defang
from notices.language import (
    DEFAULT_COUNTRY_LANGUAGES,
    format_country_languages,
    language_for,
    parse_country_languages,
)
from notices.render import STEPS, NoticeItem, NoticeRenderer, Party, RenderedNotice
from notices.texts import DEFAULT_LEGAL_BASIS, DEFAULT_SIGNATURE, LetterTexts

from .conftest import NOW, TEMPLATE_DIR

KINDS = ("host", "registrar", "cdn", "partner")
LANGUAGES = ("en", "de", "fr", "nl", "es")
REPLY_URL = "https://nttd.example/respond/t0ken"
LIVE = re.compile(r"https?://|www\.", re.IGNORECASE)
# Words an English sentence left in a translated letter would almost surely carry
# (and that none of de/fr/nl/es uses as a word of its own).
ENGLISH_MARKERS = ("the", "please", "removal", "request", "your", "you", "dear", "regards",
                   "attached", "reply", "below", "reminder", "notice", "latest", "still",
                   "which", "been", "have", "when", "through")
# Sample data free of English words, so that only the letter's own words are judged.
SENDER = Party(name="Meldestelle Musterland", email="meldungen@hotline.example", country="DE")
RECIPIENT = Party(name="Beispiel Datacenter", email="abuse@hosting.example", country="NL")
ITEMS = [
    NoticeItem(reference="NTTD-7", url="http://www.files.example.com/a/b.jpg?u=https://x.example.net/",
               host="www.files.example.com", ip="192.0.2.7", classification="baseline",
               content_type="image", confirmed_at=NOW - timedelta(hours=2)),
    NoticeItem(reference="NTTD-8", url="https://cdn.example.org/v/c.mp4", host="cdn.example.org",
               ip="2001:db8::8", classification="A1", content_type="video",
               confirmed_at=NOW - timedelta(hours=1)),
]
RESPOND_BY = datetime(2024, 5, 7, 7, 8, 9, tzinfo=UTC)


def _render(kind: str, language: str, step: str, count: int = 2,
            reply_url: str | None = None) -> RenderedNotice:
    return NoticeRenderer(TEMPLATE_DIR).render(
        kind, language, items=ITEMS[:count], sender=SENDER, recipient=RECIPIENT,
        reply_url=reply_url, now=NOW, step=step, respond_by=RESPOND_BY)


def _strip_data(text: str) -> str:
    for item in ITEMS:
        for value in (defang(item.url), defang(item.host), item.reference):
            text = text.replace(value, " ")
    for value in (SENDER.name, SENDER.email or "", RECIPIENT.name, REPLY_URL):
        text = text.replace(value, " ")
    # The file names, the format name and the defanging instructions are not sentences.
    return re.sub(r"report\.json|xarf-\d\.json|X-ARF|\"?hxxps?\"?|\"?https?\"?", " ", text)


def _sentences(text: str) -> set[str]:
    flat = " ".join(_strip_data(text).split())
    return {s.strip() for s in re.split(r"(?<=[.:;!?])\s+", flat) if len(s.split()) >= 4}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_letter_exists(kind: str, language: str) -> None:
    folder = TEMPLATE_DIR / "notices" / kind / language
    assert (folder / "subject.txt").is_file(), folder
    assert (folder / "body.txt").is_file(), folder
    assert language in NoticeRenderer(TEMPLATE_DIR).languages(kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("count", [1, 2])
@pytest.mark.parametrize("reply_url", [None, REPLY_URL])
def test_every_kind_language_and_step_renders(
    kind: str, language: str, step: str, count: int, reply_url: str | None
) -> None:
    notice = _render(kind, language, step, count, reply_url)  # StrictUndefined: no missing key
    assert notice.language == language
    assert notice.subject and "\n" not in notice.subject
    text = notice.subject + "\n" + notice.body.replace(REPLY_URL, "")
    assert LIVE.search(text) is None, text
    for item in ITEMS[:count]:
        assert item.reference in notice.body
        assert defang(item.url) in notice.body
        assert item.url not in notice.body
    assert ITEMS[0].reference in notice.subject
    assert "2024-05-07T07:08:09+00:00" in notice.body  # by when
    assert "report.json" in notice.body  # how machines read it
    assert ("xarf-1.json" in notice.body) == (kind != "partner")
    assert (REPLY_URL in notice.body) == (reply_url is not None)  # how to answer
    assert SENDER.name in notice.body
    assert DEFAULT_SIGNATURE[language] in notice.body
    if kind != "partner":
        assert DEFAULT_LEGAL_BASIS[language] in " ".join(notice.body.split())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", ["reminder", "escalation"])
def test_reminder_and_escalation_are_worded_differently(
    kind: str, language: str, step: str
) -> None:
    first, later = _render(kind, language, "notice"), _render(kind, language, step)
    assert first.subject != later.subject
    assert first.subject in later.subject  # the same letter, marked as a reminder/escalation
    assert _sentences(later.body) - _sentences(first.body)
    if step == "escalation":  # nor is an escalation worded like a reminder
        reminder = _render(kind, language, "reminder")
        assert reminder.subject != later.subject
        assert _sentences(later.body) - _sentences(reminder.body)


def test_steps_include_escalation() -> None:
    assert set(STEPS) == {"notice", "reminder", "escalation"}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
@pytest.mark.parametrize("step", STEPS)
def test_no_english_left_in_a_translated_letter(kind: str, language: str, step: str) -> None:
    english, notice = _render(kind, "en", step), _render(kind, language, step)
    shared = _sentences(english.subject + "\n" + english.body) & _sentences(
        notice.subject + "\n" + notice.body)
    assert not shared, shared
    words = set(re.findall(r"[a-z]+", _strip_data(notice.subject + " " + notice.body).lower()))
    assert not words & set(ENGLISH_MARKERS), sorted(words & set(ENGLISH_MARKERS))


def test_the_marker_check_would_catch_english() -> None:
    english = _render("host", "en", "notice")
    words = set(re.findall(r"[a-z]+", _strip_data(english.body).lower()))
    assert len(words & set(ENGLISH_MARKERS)) >= 8


def test_settings_texts_replace_the_defaults() -> None:
    texts = LetterTexts(legal_basis={"de": "Rechtsgrundlage: Paragraf 1."},
                        signature={"de": "Herzliche Grüße\nIhr Team"})
    body = NoticeRenderer(TEMPLATE_DIR).render(
        "host", "de", items=ITEMS, sender=SENDER, recipient=RECIPIENT, now=NOW,
        texts=texts).body
    assert "Rechtsgrundlage: Paragraf 1." in body
    assert DEFAULT_LEGAL_BASIS["de"] not in body
    assert "Herzliche Grüße\nIhr Team\nMeldestelle Musterland" in body
    # A language the settings say nothing about keeps its built-in texts.
    french = NoticeRenderer(TEMPLATE_DIR).render(
        "host", "fr", items=ITEMS, sender=SENDER, recipient=RECIPIENT, now=NOW, texts=texts).body
    assert DEFAULT_LEGAL_BASIS["fr"] in " ".join(french.split())


def test_unknown_step_is_refused() -> None:
    with pytest.raises(ValueError, match="step"):
        _render("host", "en", "final-warning")


def test_a_missing_letter_falls_back_to_english(tmp_path: Path) -> None:
    for lang in ("en", "de"):
        folder = tmp_path / "notices" / "host" / lang
        folder.mkdir(parents=True)
        (folder / "subject.txt").write_text(f"{lang}\n")
        if lang == "en":
            (folder / "body.txt").write_text("{{ legal_basis }}\n")
    renderer = NoticeRenderer(tmp_path)
    assert renderer.languages("host") == {"en"}  # de has no body: not a letter
    notice = renderer.render("host", "de", items=ITEMS, sender=SENDER, recipient=RECIPIENT,
                             now=NOW)
    assert notice.language == "en"
    assert " ".join(notice.body.split()) == DEFAULT_LEGAL_BASIS["en"]
    assert max(len(line) for line in notice.body.splitlines()) <= 78


AVAILABLE = frozenset(LANGUAGES)


@pytest.mark.parametrize(("partner", "country", "expected"), [
    ("nl", "DE", "nl"),          # the partner's own setting wins
    ("NL", None, "nl"),
    ("nl-be", "FR", "nl"),       # a regional variant without its own letter
    ("it", "DE", "de"),          # no letter in the partner's language: its country's
    (None, "DE", "de"), (None, "at", "de"), (None, "CH", "de"),
    (None, "FR", "fr"), (None, "LU", "fr"),
    (None, "NL", "nl"), (None, "BE", "nl"),
    (None, "ES", "es"), (None, "MX", "es"), (None, "AR", "es"), (None, "CO", "es"),
    (None, "CL", "es"), (None, "PE", "es"),
    (None, "GB", "en"), (None, "US", "en"), (None, "IE", "en"), (None, "CA", "en"),
    (None, "AU", "en"), (None, "NZ", "en"),
    (None, "JP", "en"),          # not in the table: English
    (None, None, "en"),
    ("", "", "en"),
])
def test_language_for(partner: str | None, country: str | None, expected: str) -> None:
    assert language_for(partner, country, DEFAULT_COUNTRY_LANGUAGES, AVAILABLE) == expected


def test_language_for_falls_back_when_the_letter_is_missing() -> None:
    assert language_for(None, "DE", DEFAULT_COUNTRY_LANGUAGES, {"en", "fr"}) == "en"
    assert language_for("de", None, DEFAULT_COUNTRY_LANGUAGES, {"en"}) == "en"


def test_country_language_table_round_trips_and_rejects_nonsense() -> None:
    text = format_country_languages(DEFAULT_COUNTRY_LANGUAGES)
    assert parse_country_languages(text) == dict(DEFAULT_COUNTRY_LANGUAGES)
    assert parse_country_languages(" be = FR , ") == {"BE": "fr"}
    for bad in ("BE", "BEL=fr", "BE=french", "=fr"):
        with pytest.raises(ValueError, match="COUNTRY=language"):
            parse_country_languages(bad)
