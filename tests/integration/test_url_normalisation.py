"""Spellings of one address are one case over HTTP (RFC 3986 6.2.2 in the canonical URL),
while notices still carry the URL exactly as the analyst submitted it; on SQLite and
PostgreSQL, on the loopback internet of `world.py`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from nttd.models import Case
from tests.integration.world import SITES, World, running_world

LIVE_LINK = re.compile(r"https?://", re.IGNORECASE)

# (first, second, canonical): the second is the same address written another way.
PAIRS = [
    ("/%7Ea", "/~a", "/~a"),
    ("/%41", "/A", "/A"),
    ("/a/../b", "/b", "/b"),
    ("", "/", "/"),
    ("/ä", "/%c3%a4", "/%C3%A4"),
    ("/x/./%2e%2E/y?q=%7e", "/y?q=~", "/y?q=~"),
]


async def count_cases(world: World) -> int:
    async with world.svc.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Case)) or 0)


@pytest.mark.parametrize(("first", "second", "canonical"), PAIRS)
async def test_two_spellings_of_one_address_are_one_case(
    database_url: str, tmp_path: Path, first: str, second: str, canonical: str,
) -> None:
    async with running_world(database_url, tmp_path) as world:
        status, body = await world.api("POST", "/api/v1/cases",
                                       json={"urls": [world.url("us", first)]})
        assert status == 201, body
        case_id = body["cases"][0]["id"]
        assert body["cases"][0]["duplicate_of"] is None
        status, again = await world.api("POST", "/api/v1/cases",
                                        json={"urls": [world.url("us", second)]})
        assert status == 201, again
        assert again["cases"][0]["duplicate_of"] == case_id
        assert await count_cases(world) == 1
        case = await world.case(case_id)
        assert case["url"] == world.url("us", first)  # as submitted
        assert case["canonical_url"] == world.url("us", canonical)


async def test_reserved_characters_encoded_stay_a_different_case(
    database_url: str, tmp_path: Path,
) -> None:
    async with running_world(database_url, tmp_path) as world:
        urls = [world.url("us", "/a%2Fb"), world.url("us", "/a/b")]
        status, body = await world.api("POST", "/api/v1/cases", json={"urls": urls})
        assert status == 201, body
        assert [c["duplicate_of"] for c in body["cases"]] == [None, None]
        assert await count_cases(world) == 2


def json_part(mail, name: str = "report.json") -> dict:  # type: ignore[no-untyped-def]
    # By name: notices to providers also carry X-ARF reports (xarf-1.json, ...).
    parts = [p for p in mail.message.walk() if p.get_content_type() == "application/json"
             and p.get_filename() == name]
    assert len(parts) == 1
    content = parts[0].get_content()
    return dict(json.loads(content if isinstance(content, str) else content.decode()))


def text_part(mail) -> str:  # type: ignore[no-untyped-def]
    parts = [p for p in mail.message.walk() if p.get_content_type() == "text/plain"]
    assert len(parts) == 1
    return str(parts[0].get_content())


async def test_notices_carry_the_url_exactly_as_submitted(
    database_url: str, tmp_path: Path,
) -> None:
    async with running_world(database_url, tmp_path) as world:
        # Both name the resource the stand-ins serve (/img/1.jpg), written otherwise.
        submitted = {
            "us": world.url("us", "/img/%7Ex/../%31.jpg").replace(
                SITES["us"].hostname, SITES["us"].hostname.upper()),
            "nl": world.url("nl", "/img/./1.jpg?%41=%e2%82%ac#frag"),
        }
        canonical = {"us": world.url("us", "/img/1.jpg"),
                     "nl": world.url("nl", "/img/1.jpg?A=%E2%82%AC")}
        status, body = await world.api("POST", "/api/v1/cases",
                                       json={"urls": list(submitted.values())})
        assert status == 201, body
        ids = {name: c["id"] for name, c in zip(submitted, body["cases"], strict=True)}
        for name, case_id in ids.items():
            case = await world.case(case_id)
            assert case["canonical_url"] == canonical[name]
            assert case["url"] == submitted[name]

        async def all_sent() -> bool:
            for case_id in ids.values():
                notices = (await world.case(case_id))["notices"]
                if not notices or any(n["status"] != "sent" for n in notices):
                    return False
            return True

        await world.wait_for("every notice sent", all_sent)
        # US: a mail to the host, its JSON part with the exact URL, its text defanged.
        mails = [m for m in world.smtp.messages if SITES["us"].abuse in m.rcpt_tos]
        assert len(mails) == 1
        assert [r["url"] for r in json_part(mails[0])["reports"]] == [submitted["us"]]
        assert json_part(mails[0], "xarf-1.json")["url"] == submitted["us"]  # X-ARF too
        assert LIVE_LINK.search(text_part(mails[0])) is None
        # NL: the partner's webhook body is the JSON part.
        hooks = world.webhook.requests
        assert len(hooks) == 1
        assert [r["url"] for r in hooks[0].json["reports"]] == [submitted["nl"]]
