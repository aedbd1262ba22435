"""Real notices through the outbox: the recipient's language, X-ARF reports per URL to
providers (none to partners), and a missing sender address that waits instead of
failing. On the manual clock, against the loopback SMTP sink, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import xarf
from sqlalchemy import select

from nttd.models import Notice
from nttd.outbox import NoticeStatus
from tests.integration.world import SITES, World, running_world

SECOND = "/img/2.jpg"


def _mail_to(world: World, address: str) -> Any:
    mails = [m for m in world.smtp.messages if address in m.rcpt_tos]
    assert len(mails) == 1, [m.rcpt_tos for m in world.smtp.messages]
    return mails[0].message


def _json_parts(message: Any) -> dict[str, dict[str, Any]]:
    parts = {}
    for part in message.walk():
        if part.get_content_type() == "application/json":
            content = part.get_content()
            parts[part.get_filename()] = json.loads(
                content if isinstance(content, str) else content.decode())
    return parts


def _text(message: Any) -> str:
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    return str(part.get_content())


async def _notices(world: World) -> list[Notice]:
    async with world.svc.sessions() as session:
        return list(await session.scalars(select(Notice).order_by(Notice.id)))


async def test_host_letter_in_the_country_language_with_one_xarf_report_per_url(
    database_url: str, tmp_path: Path
) -> None:
    # US hosts are told in German here, so the test sees the table at work.
    async with running_world(database_url, tmp_path, NTTD_COUNTRY_LANGUAGES="US=de",
                             NTTD_NOTICE_BATCH_WINDOW="1h",
                             NTTD_RECHECK_SCHEDULE="1h") as world:
        world.hosts["us"].route(SECOND, status=200, headers={"Content-Type": "image/jpeg"})
        urls = [world.url("us"), world.url("us", SECOND) + "?a=1&b=www.example.org",
                world.url("de"), world.url("cdn")]
        ids = []
        for url in urls:  # one by one: each joins the notice gathering for its recipient
            status, body = await world.api("POST", "/api/v1/cases", json={
                "urls": [url], "classification": "baseline", "content_type": "image"})
            assert status == 201, body
            ids.append(body["cases"][0]["id"])
            await world.run_until_idle()
        gathered = await world.end_gathering()
        assert gathered == 3, [(n.recipient_kind, n.address) for n in await _notices(world)]
        await world.run_until_idle()
        assert all(n.status == NoticeStatus.SENT for n in await _notices(world))

        host = _mail_to(world, SITES["us"].abuse)
        assert host["Subject"].startswith("Löschersuchen")
        assert "Sehr geehrte Damen und Herren" in _text(host)
        parts = _json_parts(host)
        assert sorted(parts) == ["report.json", "xarf-1.json", "xarf-2.json"]
        assert parts["report.json"]["language"] == "de"
        assert [r["url"] for r in parts["report.json"]["reports"]] == urls[:2]
        for number, (case_id, url) in enumerate(zip(ids[:2], urls[:2], strict=True), start=1):
            report = parts[f"xarf-{number}.json"]
            parsed = xarf.parse(report)
            assert parsed.errors == [] and parsed.report is not None
            assert (report["category"], report["type"]) == ("content", "csam")
            assert report["url"] == url
            assert report["classification"] == "baseline"
            assert f"NTTD-{case_id}" in report["description"]
            assert report["reporter"]["contact"] == "hotline@home-hotline.example"
            assert report["reporter"]["org"] == "Home Hotline"
            assert report["source_identifier"] == SITES["us"].ip
            assert not {"evidence", "hash_values", "screenshot_url"} & set(report)

        # The CDN's own country is not known: English, and its X-ARF report.
        (cdn_address,) = [n.address for n in await _notices(world) if n.recipient_kind == "cdn"]
        cdn = _mail_to(world, cdn_address)
        assert cdn["Subject"].startswith("Removal request")
        cdn_parts = _json_parts(cdn)
        assert sorted(cdn_parts) == ["report.json", "xarf-1.json"]
        assert cdn_parts["xarf-1.json"]["url"] == urls[3]
        assert xarf.parse(cdn_parts["xarf-1.json"]).errors == []

        # A partner hotline gets its own language setting and no X-ARF report.
        partner = _mail_to(world, "reports@partner-de.example")
        assert sorted(_json_parts(partner)) == ["report.json"]
        languages = {n.address: n.language for n in await _notices(world)}
        assert languages[SITES["us"].abuse] == "de"
        assert languages["reports@partner-de.example"] == "en"  # its directory entry


async def test_partner_language_setting_comes_first(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h") as world:
        await world.api("POST", "/api/v1/cases", json={"urls": [world.url("nl")]})
        await world.run_until_idle()
        (hook,) = world.webhook.requests
        assert hook.json["language"] == "nl"  # nl-partner says language = "nl"
        assert hook.json["kind"] == "partner"


async def test_a_missing_sender_address_keeps_the_notice_queued_until_it_is_set(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_NOTICE_FROM="",
                             NTTD_RECHECK_SCHEDULE="1h") as world:
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
        case_id = body["cases"][0]["id"]
        await world.run_until_idle()
        (notice,) = await _notices(world)
        assert notice.status == NoticeStatus.QUEUED  # not failed
        assert "NTTD_NOTICE_FROM" in (notice.last_error or "")
        assert notice.subject is None and notice.payload is None  # not rendered
        assert not world.smtp.messages
        case = await world.case(case_id)
        assert not [e for e in case["timeline"] if e["kind"] == "notice_failed"]

        world.svc.settings = world.svc.settings.replace(
            notice_from="hotline@home-hotline.example")
        await world.advance(world.svc.settings.notice_retry_schedule[-1] * 2)
        (notice,) = await _notices(world)
        assert notice.status == NoticeStatus.SENT
        mail = _mail_to(world, SITES["us"].abuse)
        assert mail["Message-ID"] == notice.message_id  # the outbox's own Message-ID
        assert sorted(_json_parts(mail)) == ["report.json", "xarf-1.json"]
