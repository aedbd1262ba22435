"""A confirmed URL travels from intake to a measured removal, over HTTP, against
the loopback internet of `world.py`, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

from notices.webhook import verify
from tests.integration.world import PATH, SITES, WEBHOOK_SECRET, World, running_world

LIVE_LINK = re.compile(r"https?://", re.IGNORECASE)


def mails_to(world: World, address: str) -> list:
    return [m for m in world.smtp.messages if address in m.rcpt_tos]


def json_part(mail) -> dict:  # type: ignore[no-untyped-def]
    # Our own machine part, by name: notices to providers also carry X-ARF reports
    # (xarf-1.json, ...), JSON as well.
    parts = [p for p in mail.message.walk() if p.get_content_type() == "application/json"
             and p.get_filename() == "report.json"]
    assert len(parts) == 1
    return json.loads(parts[0].get_content() if isinstance(parts[0].get_content(), str)
                      else parts[0].get_content().decode())


def text_part(mail) -> str:  # type: ignore[no-untyped-def]
    types = [p.get_content_type() for p in mail.message.walk()]
    assert "text/html" not in types
    parts = [p for p in mail.message.walk() if p.get_content_type() == "text/plain"]
    assert len(parts) == 1
    return str(parts[0].get_content())


async def test_intake_to_measured_removal(database_url: str, tmp_path: Path) -> None:
    # One or two cases per country: every group is under the default minimum.
    async with running_world(database_url, tmp_path, wall_clock=True,
                             NTTD_STATS_MIN_GROUP="1") as world:
        # The DE host refuses HEAD and streams a large body slowly to a GET: the
        # checker must take the status line and headers and close the connection.
        world.hosts["de"].route(PATH, status=200, head_status=405, body_size=50_000_000,
                                trickle=True, headers={"Content-Type": "image/jpeg"})
        urls = {name: world.url(name) for name in SITES}
        status, body = await world.api("POST", "/api/v1/cases", json={
            "urls": list(urls.values()), "classification": "baseline",
            "content_type": "image", "reference": "REF-1"})
        assert status == 201, body
        ids = {name: case["id"] for name, case in zip(urls, body["cases"], strict=True)}
        assert all(case["duplicate_of"] is None for case in body["cases"])

        for case_id in ids.values():
            await world.wait_status(case_id, "monitoring")

        # Routes and notices.
        nl = await world.case(ids["nl"])
        assert nl["route"] == {"kind": "partner", "hotline": "nl-partner"}
        assert nl["facts"]["hosting"]["country"] == "NL"
        assert nl["facts"]["hosting"]["asn"] == 64501
        de = await world.case(ids["de"])
        assert de["route"] == {"kind": "partner", "hotline": "de-partner"}
        for name in ("us", "gb", "cdn"):
            assert (await world.case(ids[name]))["route"]["kind"] == "direct"
        cdn = await world.case(ids["cdn"])
        assert cdn["facts"]["cdn"]["name"] == "Cloudflare"
        assert [n["recipient_kind"] for n in cdn["notices"]] == ["cdn"]

        async def all_sent() -> bool:
            for case_id in ids.values():
                case = await world.case(case_id)
                if not case["notices"] or any(n["status"] != "sent" for n in case["notices"]):
                    return False
            return True

        await world.wait_for("every notice sent", all_sent)

        # NL: a signed webhook carrying the exact URL.
        hooks = world.webhook.requests
        assert len(hooks) == 1
        assert verify(hooks[0].body, WEBHOOK_SECRET, hooks[0].headers["X-NTTD-Signature"])
        assert [r["url"] for r in hooks[0].json["reports"]] == [urls["nl"]]
        # DE: e-mail to the partner; US and GB: to the hosts; CDN: to Cloudflare.
        expected = {
            "de": "reports@partner-de.example",
            "us": SITES["us"].abuse,
            "gb": SITES["gb"].abuse,
            "cdn": cdn["notices"][0]["address"],
        }
        for name, address in expected.items():
            mails = mails_to(world, address)
            assert len(mails) == 1, (name, [m.rcpt_tos for m in world.smtp.messages])
            body_text = text_part(mails[0])
            assert LIVE_LINK.search(body_text) is None, body_text
            assert urls[name] not in body_text
            assert f"NTTD-{ids[name]}" in body_text
            assert [r["url"] for r in json_part(mails[0])["reports"]] == [urls[name]]
        assert len(world.smtp.messages) == 4
        for case_id in ids.values():
            assert (await world.case(case_id))["clocks"]["first_notice_at"] is not None

        # The checker read headers only: HEAD refused, GET closed at the headers.
        de = await world.case(ids["de"])
        assert de["checks"][0]["method"] == "GET"
        assert de["checks"][0]["verdict"] == "online"
        host = world.hosts["de"]
        assert host.connections and all(c.closed_early for c in host.connections
                                        if c.body_bytes_sent)
        assert max(host.body_bytes_sent) < 1_000_000

        # Two hosts take the content down.
        world.hosts["us"].route(PATH, status=404)
        world.hosts["nl"].route(PATH, status=410)
        await world.wait_status(ids["us"], "removed")
        await world.wait_status(ids["nl"], "removed")
        for name in ("us", "nl"):
            case = await world.case(ids[name])
            gone = [c for c in case["checks"] if c["verdict"] == "gone"]
            assert len(gone) >= 2
            # removed_at is the first check of the confirming streak.
            assert case["clocks"]["removed_at"] == gone[0]["checked_at"]
            assert case["clocks"]["time_to_removal_seconds"] > 0
            assert case["clocks"]["notice_to_removal_seconds"] is not None
        for name in ("de", "gb", "cdn"):
            case = await world.case(ids[name])
            assert case["status"] == "monitoring"
            assert case["clocks"]["removed_at"] is None

        # Statistics: removed cases measured, open ones censored, not dropped.
        status, stats = await world.api("GET", "/api/v1/stats?group_by=country",
                                        user="coordinator")
        assert status == 200, stats
        groups = {g["group"]: g for g in stats["groups"]}
        assert groups["NL"]["removed"] == 1 and groups["NL"]["open"] == 0
        assert groups["NL"]["median_time_to_removal_seconds"] > 0
        assert groups["DE"]["removed"] == 0 and groups["DE"]["open"] == 1
        assert groups["DE"]["median_time_to_removal_seconds"] is None
        # US holds the direct host case (removed) and the CDN case (open): the
        # median is reached at the one removal (KM: S drops to 0.5).
        assert groups["US"]["cases"] == 2 and groups["US"]["removed"] == 1
        assert groups["US"]["median_time_to_removal_seconds"] is not None

        # The partner sees its case in its inbox, and only its case.
        status, inbox = await world.api("GET", "/api/v1/inbox", user="nl")
        assert status == 200
        assert [c["id"] for c in inbox["cases"]] == [ids["nl"]]
        assert inbox["cases"][0]["url_defanged"].startswith("hxxp://")
