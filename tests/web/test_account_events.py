"""Every change to accounts made in the browser is an audit event with who and what
(sealed into the audit chain with the rest)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from nttd.cases import verify_audit_trail
from nttd.models import Event, User
from tests.web.conftest import PASSWORD, web_world


async def account_events(world) -> list[tuple[str, str, dict]]:  # type: ignore[no-untyped-def]
    async with world.svc.sessions() as session:
        rows = await session.execute(select(Event.kind, Event.actor, Event.data)
                                     .where(Event.case_id.is_(None)).order_by(Event.id))
        return [(kind, actor, data or {}) for kind, actor, data in rows]


async def test_account_changes_in_the_browser_are_audit_events(
    database_url: str, tmp_path: Path
) -> None:
    async with web_world(database_url, tmp_path) as ww:
        world = ww.world
        admin = await ww.browser("admin")
        page = await admin.post("/admin/users", {"name": "erin", "role": "analyst"})
        assert page.status == 200 and "erin" in page.text
        async with world.svc.sessions() as session:
            erin = await session.scalar(select(User.id).where(User.name == "erin"))
        assert (await admin.post(f"/admin/users/{erin}/disable")).status == 200
        assert (await admin.post(f"/admin/users/{erin}/enable")).status == 200
        assert (await admin.post(f"/admin/users/{erin}/password")).status == 200

        analyst = await ww.browser("analyst")
        assert (await analyst.post("/account/tokens")).status == 200
        page = await analyst.post("/account/password", {
            "current_password": PASSWORD, "new_password": "a much longer new password",
            "new_password_again": "a much longer new password"})
        assert page.status == 200, page.text[:300]

        events = await account_events(world)
        kinds = [(kind, actor) for kind, actor, _ in events]
        assert ("user_added", "user:admin") in kinds
        assert ("user_disabled", "user:admin") in kinds
        assert ("user_enabled", "user:admin") in kinds
        assert ("password_reset", "user:admin") in kinds
        assert ("token_created", "user:analyst") in kinds
        assert ("password_changed", "user:analyst") in kinds
        added = next(data for kind, _, data in events if kind == "user_added")
        assert added["user"] == "erin" and added["role"] == "analyst"
        assert all(PASSWORD not in str(data) for _, _, data in events)  # never a secret

        await world.run_until_idle()
        async with world.svc.sessions() as session:
            report = await verify_audit_trail(session)
        assert report.ok and report.unsealed == 0


async def test_the_admin_audit_page_shows_events_defanged_and_verifies_the_chain(
    database_url: str, tmp_path: Path
) -> None:
    from sqlalchemy import update

    async with web_world(database_url, tmp_path) as ww:
        world = ww.world
        status, body = await world.api("POST", "/api/v1/cases", json={
            "urls": [world.url("us", "/img/1.jpg?u=http://evil.example.com/x")]})
        assert status == 201, body
        await world.run_until_idle()
        admin = await ww.browser("admin")
        page = await admin.get("/admin/audit?verify=1")
        assert page.status == 200
        assert "Intact:" in page.text
        assert "evil.example.com" not in page.text and "us-files.example.com" not in page.text
        assert "us-files[.]example[.]com" in page.text or "evil[.]example[.]com" in page.text
        async with world.svc.sessions() as session, session.begin():
            victim = await session.scalar(select(Event.id).where(Event.case_id.is_not(None))
                                          .order_by(Event.id).limit(1))
            await session.execute(update(Event).where(Event.id == victim)
                                  .values(actor="user:nobody"))
        page = await admin.get("/admin/audit?verify=1")
        assert "Broken:" in page.text and f"event id {victim} " in page.text


async def test_the_admin_loads_a_partner_file_and_edits_one_partner(
    database_url: str, tmp_path: Path
) -> None:
    from nttd.models import Hotline

    async def hotlines(world) -> dict[str, Hotline]:  # type: ignore[no-untyped-def]
        async with world.svc.sessions() as session:
            return {h.code: h for h in await session.scalars(select(Hotline))}

    async with web_world(database_url, tmp_path) as ww:
        world = ww.world
        admin = await ww.browser("admin")
        before = await hotlines(world)

        # A bad file changes nothing and says why.
        page = await admin.post("/admin/partners", {"toml": "[[hotline]]\ncode = 'fr-partner'\n"})
        assert page.status == 400 and "Nothing was loaded" in page.text and "name" in page.text
        # A country another partner covers is refused too.
        page = await admin.post("/admin/partners", {"toml": (
            "[[hotline]]\ncode = 'fr-partner'\nname = 'Partner FR'\ncountries = ['FR', 'NL']\n"
            "email = 'reports@partner-fr.example'\n")})
        assert page.status == 400 and "country NL is covered by both" in page.text
        assert (await hotlines(world)).keys() == before.keys()

        page = await admin.post("/admin/partners", {"toml": (
            "[[hotline]]\ncode = 'fr-partner'\nname = 'Partner FR'\ncountries = ['FR']\n"
            "language = 'fr'\nemail = 'reports@partner-fr.example'\n")})
        assert page.status == 200 and "1 created, 0 updated" in page.text
        assert (await hotlines(world))["fr-partner"].countries == ["FR"]

        # Edit one: language and countries; a blank secret keeps the stored one.
        secret = before["nl-partner"].webhook_secret
        page = await admin.post("/admin/partners/nl-partner", {
            "name": "Partner Hotline NL", "countries": "NL, BE", "language": "nl",
            "email": "", "webhook_url": before["nl-partner"].webhook_url, "webhook_secret": ""})
        assert page.status == 200 and "Partner nl-partner saved." in page.text, page.text[:500]
        nl = (await hotlines(world))["nl-partner"]
        assert nl.countries == ["NL", "BE"] and nl.webhook_secret == secret
        page = await admin.post("/admin/partners/nl-partner", {
            "name": "Partner Hotline NL", "countries": "FR", "language": "nl"})
        assert page.status == 400 and "country FR is covered by both" in page.text
        assert (await admin.post("/admin/partners/no-such", {"name": "x"})).status == 404
        assert secret is None or secret not in (await admin.get("/admin/partners")).text

        kinds = [kind for kind, _, _ in await account_events(world)]
        assert kinds.count("partners_loaded") == 1 and kinds.count("partner_edited") == 1
