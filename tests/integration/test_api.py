"""The HTTP API's promises: dedup, validation, access control, the outbox, holds."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import func, select

from nttd.models import ApiToken, Case, Notice
from tests.integration.world import PATH, SITES, World, running_world


async def count_cases(world: World) -> int:
    async with world.svc.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Case)) or 0)


async def test_duplicates_come_back_with_duplicate_of(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path) as world:
        url = world.url("us")
        status, first = await world.api("POST", "/api/v1/cases", json={"urls": [url]})
        assert status == 201
        case_id = first["cases"][0]["id"]
        # Same URL written differently: scheme and host case, default port, fragment.
        variant = url.replace("http://", "HTTP://").replace(
            SITES["us"].hostname, SITES["us"].hostname.upper()) + "#frag"
        status, again = await world.api("POST", "/api/v1/cases", json={"urls": [variant, url]})
        assert status == 201
        assert [c["duplicate_of"] for c in again["cases"]] == [case_id, case_id]
        assert [c["id"] for c in again["cases"]] == [case_id, case_id]
        assert await count_cases(world) == 1
        # Within one request, the second copy is a duplicate of the first.
        other = world.url("gb")
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [other, other]})
        assert body["cases"][1]["duplicate_of"] == body["cases"][0]["id"]
        assert await count_cases(world) == 2
        timeline = (await world.case(case_id))["timeline"]
        assert sum(e["kind"] == "duplicate_submitted" for e in timeline) == 2


async def test_invalid_urls_give_422_and_store_nothing(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path) as world:
        status, body = await world.api("POST", "/api/v1/cases", json={
            "urls": [world.url("us"), "ftp://files.example.com/a.jpg", "not a url",
                     "http://"]})
        assert status == 422
        assert [p["index"] for p in body["problems"]] == [1, 2, 3]
        assert all(p["reason"] for p in body["problems"])
        assert "ftp" in body["problems"][0]["reason"]
        assert await count_cases(world) == 0
        for bad in ({}, {"urls": []}, {"urls": "http://x.example.com/"},
                    {"urls": [world.url("us")], "confirmed_at": "yesterday"},
                    {"urls": [world.url("us")], "colour": "red"}):
            status, body = await world.api("POST", "/api/v1/cases", json=bad)
            assert status == 400, (bad, body)
            assert body["error"]
        assert await count_cases(world) == 0


async def test_access_control(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path) as world:
        assert (await world.api("GET", "/api/v1/cases", user=None))[0] == 401
        assert (await world.api("GET", "/api/v1/cases", token="nttd_wrong"))[0] == 401
        # Wrong roles.
        assert (await world.api("POST", "/api/v1/cases", user="coordinator",
                                json={"urls": [world.url("us")]}))[0] == 403
        assert (await world.api("POST", "/api/v1/cases", user="nl",
                                json={"urls": [world.url("us")]}))[0] == 403
        assert (await world.api("GET", "/api/v1/cases", user="nl"))[0] == 403
        assert (await world.api("GET", "/api/v1/stats", user="nl"))[0] == 403
        assert (await world.api("GET", "/api/v1/inbox", user="analyst"))[0] == 403
        assert (await world.api("GET", "/api/v1/stats", user="coordinator"))[0] == 200
        assert (await world.api("GET", "/api/v1/openapi.json", user=None))[0] == 200
        # Tokens are stored only as their SHA-256.
        async with world.svc.sessions() as session:
            stored = set(await session.scalars(select(ApiToken.token_hash)))
        assert not set(world.tokens.values()) & stored
        assert {hashlib.sha256(t.encode()).hexdigest() for t in world.tokens.values()} == stored

        status, body = await world.api("POST", "/api/v1/cases",
                                       json={"urls": [world.url("nl"), world.url("de")]})
        nl_id, de_id = (c["id"] for c in body["cases"])
        await world.wait_status(nl_id, "routed", "monitoring")
        await world.wait_status(de_id, "routed", "monitoring")
        # A partner sees its own case, and someone else's case does not exist for it.
        assert (await world.api("GET", f"/api/v1/cases/{nl_id}", user="nl"))[0] == 200
        assert (await world.api("GET", f"/api/v1/cases/{de_id}", user="nl"))[0] == 404
        assert (await world.api("POST", f"/api/v1/cases/{de_id}/status", user="nl",
                                json={"status": "removed"}))[0] == 404
        assert (await world.api("GET", "/api/v1/cases/999999", user="analyst"))[0] == 404
        # ... and may report status on its own.
        status, _ = await world.api("POST", f"/api/v1/cases/{nl_id}/status", user="nl",
                                    json={"status": "acknowledged", "note": "seen"})
        assert status == 200
        status, body = await world.api("POST", f"/api/v1/cases/{nl_id}/status", user="nl",
                                       json={"status": "deleted"})
        assert status == 400
        timeline = (await world.case(nl_id))["timeline"]
        assert [e["actor"] for e in timeline if e["kind"] == "reported_acknowledged"] == [
            "user:nl"]


async def test_outbox_keeps_notices_through_an_smtp_outage(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path) as world:
        await world.smtp.stop()
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
        case_id = body["cases"][0]["id"]

        async def failed_twice() -> bool:
            notices = (await world.case(case_id))["notices"]
            return bool(notices) and notices[0]["attempts"] >= 2

        await world.wait_for("two failed delivery attempts", failed_twice)
        notice = (await world.case(case_id))["notices"][0]
        assert notice["status"] == "queued"
        assert notice["last_error"]
        assert (await world.case(case_id))["clocks"]["first_notice_at"] is None

        await world.smtp.restart()

        async def sent() -> bool:
            return (await world.case(case_id))["notices"][0]["status"] == "sent"

        await world.wait_for("the notice to be sent after the outage", sent)
        assert [m.rcpt_tos for m in world.smtp.messages] == [[SITES["us"].abuse]]
        assert (await world.case(case_id))["clocks"]["first_notice_at"] is not None


async def test_a_case_checked_before_its_hold_gets_its_notice_on_release(
    database_url: str, tmp_path: Path
) -> None:
    # The first check (200 ms) comes while the notice is still gathering (60 s), so the
    # case is already monitoring when it is held; release must still send its notice.
    async with running_world(database_url, tmp_path, NTTD_NOTICE_BATCH_WINDOW="60s") as world:
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
        case_id = body["cases"][0]["id"]
        await world.wait_status(case_id, "monitoring")
        status, held = await world.api("POST", f"/api/v1/cases/{case_id}/hold")
        assert status == 200 and held["status"] == "hold"
        assert await world.end_gathering() == 1

        async def notice_dropped_it() -> bool:
            async with world.svc.sessions() as session:
                return list(await session.scalars(select(Notice.status))) == ["cancelled"]

        await world.wait_for("the gathered notice to drop the held case", notice_dropped_it)
        assert world.smtp.messages == []
        status, released = await world.api("POST", f"/api/v1/cases/{case_id}/release")
        assert status == 200 and released["status"] == "monitoring"
        assert await world.end_gathering() == 1  # queued again

        async def mailed() -> bool:
            return len(world.smtp.messages) == 1

        await world.wait_for("the notice after release", mailed)
        await world.pause(0.5)
        assert len(world.smtp.messages) == 1  # once
        assert (await world.case(case_id))["clocks"]["first_notice_at"] is not None


async def test_hold_stops_notices_and_checks_and_pauses_the_clock(
    database_url: str, tmp_path: Path
) -> None:
    # A long batch window: the notice is still gathering when the hold comes.
    async with running_world(database_url, tmp_path, NTTD_NOTICE_BATCH_WINDOW="60s") as world:
        status, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
        case_id = body["cases"][0]["id"]
        await world.wait_status(case_id, "notified")
        status, held = await world.api("POST", f"/api/v1/cases/{case_id}/hold",
                                       json={"note": "police investigation"})
        assert status == 200 and held["status"] == "hold"
        assert (await world.api("POST", f"/api/v1/cases/{case_id}/hold"))[0] == 409
        assert await world.end_gathering() == 1

        async def notice_handled() -> bool:
            async with world.svc.sessions() as session:
                statuses = list(await session.scalars(select(Notice.status)))
            return statuses == ["cancelled"]

        await world.wait_for("the gathered notice to drop the held case", notice_handled)
        checks_during_hold = len((await world.case(case_id))["checks"])
        world.hosts["us"].route(PATH, status=404)
        await world.pause(0.8)
        case = await world.case(case_id)
        assert case["status"] == "hold"
        assert len(case["checks"]) == checks_during_hold
        assert world.smtp.messages == []

        status, released = await world.api("POST", f"/api/v1/cases/{case_id}/release")
        assert status == 200 and released["status"] in ("notified", "monitoring")
        await world.wait_status(case_id, "removed")
        case = await world.case(case_id)
        assert case["clocks"]["hold_seconds"] >= 0.8
        # Time on hold is not counted as time to removal.
        assert case["clocks"]["time_to_removal_seconds"] < 0.8 + 5
        async with world.svc.sessions() as session:
            row = await session.get(Case, case_id)
            assert row is not None and row.removed_at is not None
            wall = (row.removed_at - row.confirmed_at).total_seconds()
        assert abs(wall - case["clocks"]["hold_seconds"]
                   - case["clocks"]["time_to_removal_seconds"]) < 0.01
        # After release, the notice that the hold stopped is sent.
        async def mailed() -> bool:
            return len(world.smtp.messages) == 1

        assert await world.end_gathering() == 1
        await world.wait_for("the notice after release", mailed)

