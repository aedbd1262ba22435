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
