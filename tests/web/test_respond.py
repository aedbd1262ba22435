"""A provider answers a notice through the signed link in it (nttd.responses,
nttd.web.respond): the link is in the mail, its page shows the cases defanged and
changes nothing, each action is taken once and only with the page's CSRF token, a
tampered link is a 403 and an expired one a 410, and a reported removal makes us
check at once - our check decides. Manual clock; SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from notices.defang import defang
from nttd.models import Case, Check, Event, InstanceSecret, Notice, NoticeResponse
from nttd.web.base import CSP, RESPOND_COOKIE
from tests.integration.world import SITES, World
from tests.web.conftest import Browser, web_world

PUBLIC = "https://nttd.example"
LINK = re.compile(re.escape(PUBLIC) + r"/respond/([A-Za-z0-9_.-]+)")


def _text(message: Any) -> str:
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    return str(part.get_content())


async def _notice_link(world: World, site: str = "us") -> tuple[int, str]:
    """Submit the site's URL, let its notice go out; the case and the link's path."""
    status, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url(site)]})
    assert status == 201, body
    await world.run_until_idle()
    kind = "cdn" if site == "cdn" else "host"
    async with world.svc.sessions() as session:
        (address,) = await session.scalars(select(Notice.address).where(
            Notice.recipient_kind == kind))
    mails = [m.message for m in world.smtp.messages if address in m.rcpt_tos]
    assert len(mails) == 1
    (token,) = LINK.findall(_text(mails[0]))
    return int(body["cases"][0]["id"]), f"/respond/{token}"


async def _state(world: World) -> dict[str, Any]:
    """Everything a GET must leave as it was."""
    async with world.svc.sessions() as session:
        cases = [(c.id, c.status, c.acknowledged_at, c.next_check_at, c.updated_at)
                 for c in await session.scalars(select(Case).order_by(Case.id))]
        return {
            "cases": cases,
            "events": list(await session.execute(
                select(Event.id, Event.kind, Event.actor).order_by(Event.id))),
            "responses": await session.scalar(select(func.count()).select_from(NoticeResponse)),
            "secrets": await session.scalar(select(func.count()).select_from(InstanceSecret)),
            "checks": await session.scalar(select(func.count()).select_from(Check)),
        }


async def _provider_events(world: World, case_id: int) -> list[tuple[str, str]]:
    case = await world.case(case_id)
    return [(e["kind"], e["actor"]) for e in case["timeline"]
            if e["kind"].startswith("provider_")]


def _respond_form(page_text: str, action: str) -> dict[str, str]:
    forms = re.findall(r'<form method="post" action="(/respond/[^"]+)">(.*?)</form>',
                       page_text, re.S)
    for _, inner in forms:
        if f'name="action" value="{action}"' in inner:
            token = re.search(r'name="csrf_token" value="([^"]+)"', inner)
            assert token
            return {"action": action, "csrf_token": token.group(1)}
    raise AssertionError(f"no form for {action}")


async def test_link_in_the_mail_page_changes_nothing_acknowledged_once(
    database_url: str, tmp_path: Path
) -> None:
    async with web_world(database_url, tmp_path, NTTD_PUBLIC_URL=PUBLIC) as ww:
        world = ww.world
        assert world.clock is not None
        case_id, path = await _notice_link(world)
        before = await _state(world)
        assert before["cases"][0][2] is None  # not acknowledged yet

        provider: Browser = await ww.browser()
        page = await provider.get(path)
        assert page.status == 200, page.text
        # The case is shown defanged, never as a link or a live URL.
        assert defang(world.url("us")) in page.text
        assert SITES["us"].hostname not in page.text
        assert "http://" not in page.text and "https://" not in page.text
        assert f"NTTD-{case_id}" in page.text
        # The strict headers of every page.
        assert page.headers["Content-Security-Policy"] == CSP
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert provider.cookie(RESPOND_COOKIE)
        # A mail scanner opening the link twice changes nothing.
        await provider.get(path)
        assert await _state(world) == before

        # A POST without the page's token (a forged form) is refused, nothing runs.
        forger = await ww.browser()
        refused = await forger.post(path, {"action": "acknowledged"}, csrf="x" * 43)
        assert refused.status == 403
        assert await _state(world) == before

        world.clock.advance(timedelta(minutes=7))
        answered = await provider.post(path, {**_respond_form(page.text, "acknowledged"),
                                              "note": "Looking into it."})
        assert answered.status == 200, answered.text
        assert "acknowledgement is recorded" in answered.text
        async with world.svc.sessions() as session:
            case = await session.get(Case, case_id)
            assert case is not None
            assert case.acknowledged_at == world.clock()
        actor = f"provider:{SITES['us'].abuse}"
        assert await _provider_events(world, case_id) == [("provider_acknowledged", actor)]
        (event,) = [e for e in (await world.case(case_id))["timeline"]
                    if e["kind"] == "provider_acknowledged"]
        assert event["data"]["note"] == "Looking into it."

        # The same action again: refused, nothing more recorded.
        world.clock.advance(timedelta(minutes=1))
        again = await provider.post(path, _respond_form(page.text, "acknowledged"))
        assert again.status == 409
        assert await _provider_events(world, case_id) == [("provider_acknowledged", actor)]
        async with world.svc.sessions() as session:
            case = await session.get(Case, case_id)
            assert case is not None and case.acknowledged_at == world.clock() - timedelta(
                minutes=1)
        # The page now shows the answer instead of its form.
        shown = await provider.get(path)
        assert 'value="acknowledged"' not in shown.text
        assert 'value="disputed"' in shown.text


async def test_tampered_link_403_expired_link_410(database_url: str, tmp_path: Path) -> None:
    async with web_world(database_url, tmp_path, NTTD_PUBLIC_URL=PUBLIC,
                         NTTD_RESPONSE_LINK_TTL="2d") as ww:
        world = ww.world
        assert world.clock is not None
        case_id, path = await _notice_link(world)
        notice_id, expires, signature = path.removeprefix("/respond/").split(".")
        provider = await ww.browser()
        good = await provider.get(path)
        assert good.status == 200
        form = _respond_form(good.text, "disputed")
        before = await _state(world)
        flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
        for tampered in (f"{notice_id}.{expires}.{flipped}",
                         f"{notice_id}.{int(expires) + 86400}.{signature}",  # longer life
                         f"{int(notice_id) + 1}.{expires}.{signature}",       # another notice
                         f"{notice_id}.{expires}", "nonsense"):
            page = await provider.get(f"/respond/{tampered}")
            assert page.status == 403, tampered
            assert "not valid" in page.text
            assert page.headers["Content-Security-Policy"] == CSP
            posted = await provider.post(f"/respond/{tampered}", form)
            assert posted.status == 403, tampered
        assert await _state(world) == before

        world.clock.advance(timedelta(days=2, seconds=1))
        expired = await provider.get(path)
        assert expired.status == 410
        assert "expired" in expired.text
        assert expired.headers["Content-Security-Policy"] == CSP
        late = await provider.post(path, form)
        assert late.status == 410
        assert await _state(world) == before
        assert await _provider_events(world, case_id) == []


async def test_reported_removal_is_checked_at_once_and_only_the_check_decides(
    database_url: str, tmp_path: Path
) -> None:
    async with web_world(database_url, tmp_path, NTTD_PUBLIC_URL=PUBLIC,
                         NTTD_RECHECK_SCHEDULE="6h",
                         NTTD_REAPPEARANCE_SCHEDULE="12h") as ww:
        world = ww.world
        assert world.clock is not None
        case_id, path = await _notice_link(world)
        provider = await ww.browser()
        page = await provider.get(path)
        checks_before = (await _state(world))["checks"]
        async with world.svc.sessions() as session:
            case = await session.get(Case, case_id)
            assert case is not None and case.next_check_at is not None
            assert case.next_check_at > world.clock() + timedelta(hours=5)
            status_before = case.status

        # The provider says it is gone, but it is still online.
        answered = await provider.post(path, {**_respond_form(page.text, "removal_reported"),
                                              "note": "Deleted."})
        assert answered.status == 200, answered.text
        async with world.svc.sessions() as session:
            case = await session.get(Case, case_id)
            assert case is not None
            assert case.next_check_at == world.clock()  # checked at once
            assert case.status == status_before       # the report alone moves nothing
            assert case.acknowledged_at == world.clock()
        await world.run_until_idle()
        state = await _state(world)
        assert state["checks"] == checks_before + 1
        detail = await world.case(case_id)
        assert detail["status"] == "monitoring"  # our check found it online
        assert await _provider_events(world, case_id) == [
            ("provider_removal_reported", f"provider:{SITES['us'].abuse}")]

        # Once it is really gone, our checks (not the report) confirm the removal.
        world.hosts["us"].route("/img/1.jpg", status=404)
        for _ in range(10):  # from one scheduled check to the next
            async with world.svc.sessions() as session:
                case = await session.get(Case, case_id)
                assert case is not None and case.next_check_at is not None
                if case.status == "removed":
                    break
                world.clock.set(max(case.next_check_at, world.clock()))
            await world.run_until_idle()
        assert (await world.case(case_id))["status"] == "removed"


async def test_a_cdn_gets_a_link_too(database_url: str, tmp_path: Path) -> None:
    async with web_world(database_url, tmp_path, NTTD_PUBLIC_URL=PUBLIC) as ww:
        case_id, path = await _notice_link(ww.world, "cdn")
        page = await (await ww.browser()).get(path)
        assert page.status == 200 and f"NTTD-{case_id}" in page.text


async def test_no_public_url_means_no_link(database_url: str, tmp_path: Path) -> None:
    async with web_world(database_url, tmp_path) as ww:
        world = ww.world
        status, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
        assert status == 201, body
        await world.run_until_idle()
        (mail,) = [m.message for m in world.smtp.messages if SITES["us"].abuse in m.rcpt_tos]
        assert "/respond/" not in _text(mail)
        # The key exists all the same: it also keys the VERP envelope sender of every
        # e-mail notice (nttd.outbox.delivery), made when the first one goes out.
        assert (await _state(world))["secrets"] == 1
