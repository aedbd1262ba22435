"""X-ARF v4 reports: one valid content/csam report per URL, URLs and metadata only."""

from __future__ import annotations

import json

import pytest
import xarf

from notices.mail import build_message
from notices.render import NoticeItem, NoticeRenderer, Party, RenderedNotice
from notices.xarf_reports import build_reports

from .conftest import CONFIRMED, NOW

FROM = "reports@home.example"
EVIDENCE_KEYS = {"evidence", "hash_values", "screenshot_url", "evidence_source"}


def _notice(renderer: NoticeRenderer, kind: str, items: list[NoticeItem], sender: Party,
            recipient: Party) -> RenderedNotice:
    return renderer.render(kind, "en", items=items, sender=sender, recipient=recipient, now=NOW)


def _attachments(message: object) -> dict[str, dict[str, object]]:
    found = {}
    for part in message.walk():  # type: ignore[attr-defined]
        if part.get_content_type() == "application/json":
            found[part.get_filename()] = json.loads(part.get_content())
    return found


@pytest.mark.parametrize("kind", ["host", "registrar", "cdn"])
def test_one_valid_report_per_url_to_a_provider(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party,
    kind: str,
) -> None:
    rendered = _notice(renderer, kind, items, sender, recipient)
    message = build_message(rendered, from_addr=FROM, to_addrs=["abuse@hosting.example"],
                            xarf_reports=build_reports(rendered.payload))
    attached = _attachments(message)
    assert sorted(attached) == ["report.json", "xarf-1.json", "xarf-2.json"]
    assert attached["report.json"] == rendered.payload  # our own part, unchanged
    for number, item in enumerate(items, start=1):
        report = attached[f"xarf-{number}.json"]
        parsed = xarf.parse(report)
        assert parsed.errors == [], parsed.errors
        assert parsed.report is not None
        assert type(parsed.report).__name__ == "CsamReport"
        assert report["xarf_version"].startswith("4.")
        assert (report["category"], report["type"]) == ("content", "csam")
        assert report["url"] == item.url  # the exact URL, as submitted
        assert report["classification"] == "baseline"
        assert report["detection_method"] == "manual_review"
        assert item.reference in report["description"]
        assert report["tags"] == [f"case:{item.reference.lower()}"]
        assert report["timestamp"] == CONFIRMED.isoformat()
        assert report["source_identifier"] == item.ip
        expected = {"org": "Home Hotline", "contact": "reports@home.example",
                    "domain": "home.example"}
        assert report["reporter"] == report["sender"] == expected
        assert not EVIDENCE_KEYS & set(report)  # no media, hash or other evidence
    assert attached["xarf-1.json"]["domain"] == "www.example.com"
    assert attached["xarf-1.json"]["media_type"] == "image"
    assert "media_type" not in attached["xarf-2.json"]
    ids = {attached[name]["report_id"] for name in ("xarf-1.json", "xarf-2.json")}
    assert len(ids) == 2


def test_exact_urls_stay_out_of_the_readable_message(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    rendered = _notice(renderer, "host", items, sender, recipient)
    raw = build_message(rendered, from_addr=FROM, to_addrs=["abuse@hosting.example"],
                        xarf_reports=build_reports(rendered.payload)).as_bytes()
    assert b"http://" not in raw and b"https://" not in raw  # JSON parts are base64


def test_partner_notices_carry_no_report(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    rendered = _notice(renderer, "partner", items, sender, recipient)
    assert build_reports(rendered.payload) == []


def test_reports_are_the_same_when_the_notice_is_sent_again(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    rendered = _notice(renderer, "host", items, sender, recipient)
    again = json.loads(json.dumps(rendered.payload))  # as stored and read back
    assert build_reports(rendered.payload) == build_reports(again)


def test_a_classification_outside_the_xarf_scale(
    renderer: NoticeRenderer, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    odd = [NoticeItem(reference="NTTD-9", url="http://files.example.com/x",
                      host="files.example.com", ip=None, classification="national-illegal",
                      content_type=None,
                      confirmed_at=CONFIRMED),
           NoticeItem(reference="NTTD-10", url="http://files.example.com/y",
                      host="files.example.com", ip=None, classification="b2",
                      content_type="video", confirmed_at=CONFIRMED)]
    first, second = build_reports(_notice(renderer, "host", odd, sender, recipient).payload)
    assert first["classification"] == "baseline"
    assert "national-illegal" in first["description"]
    assert first["source_identifier"] == "files.example.com"  # no address known
    assert second["classification"] == "B2"
    assert all(xarf.parse(report).errors == [] for report in (first, second))


def test_a_report_needs_the_sender_address(
    renderer: NoticeRenderer, items: list[NoticeItem], recipient: Party
) -> None:
    rendered = _notice(renderer, "host", items, Party(name="Home Hotline"), recipient)
    with pytest.raises(ValueError, match="NTTD_NOTICE_FROM"):
        build_reports(rendered.payload)
