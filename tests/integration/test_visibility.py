"""What each party may see of a case, decided in one place (the query layer) and
checked per role for every route: a partner sees what it needs to act and its own
events, never another partner's identity, contacts or notes, nor the analysts'."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.world import World, running_world

ANALYST_NOTE = "analyst-only: the reseller told us on the phone"


async def submit(world: World, site: str) -> int:
    _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url(site)]})
    return int(body["cases"][0]["id"])


async def test_each_role_sees_what_it_may_on_every_route(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h") as world:
        moved = await submit(world, "de")      # e-mail partner DE first, then partner NL
        direct = await submit(world, "us")     # a notice to the host
        webhook = await submit(world, "nl")    # partner NL by webhook
        await world.run_until_idle()
        await world.api("POST", f"/api/v1/cases/{moved}/status", user="de",
                        json={"status": "acknowledged", "note": "de-partner internal note"})
        status, _ = await world.api("PATCH", f"/api/v1/cases/{moved}/facts", json={
            "hosting": {"country": "NL"}, "note": ANALYST_NOTE})
        assert status == 200
        await world.run_until_idle()
        await world.api("POST", f"/api/v1/cases/{moved}/status", user="nl",
                        json={"status": "notice_sent", "note": "nl note"})

        # The analyst sees everything, notes and notices included.
        full = await world.case(moved)
        text = json.dumps(full)
        assert ANALYST_NOTE in text and "de-partner internal note" in text
        assert "reports@partner-de.example" in text and full["notices"]

        # The partner it was routed to now sees the case, its own events, milestones.
        nl = await world.case(moved, user="nl")
        text = json.dumps(nl)
        for secret in (ANALYST_NOTE, "de-partner internal note", "reports@partner-de.example",
                       "de-partner", "Partner Hotline DE", "user:analyst", "user:de",
                       world.webhook.url):
            assert secret not in text, secret
        assert "notices" not in nl and "last_error" not in nl
        assert any(e["kind"] == "reported_notice_sent" and e["data"]["note"] == "nl note"
                   for e in nl["timeline"])
        assert {e["kind"] for e in nl["timeline"]} <= {
            "received", "status", "resolved", "moved", "reappeared", "reported_notice_sent"}
        assert nl["facts"]["hosting"]["country"] == "NL"
        assert "detail" not in nl["facts"]["provenance"]["hosting.country"]

        # The partner it was routed away from, and partners on other routes, see nothing.
        for user, case_id in [("de", moved), ("de", direct), ("nl", direct), ("de", webhook)]:
            status, body = await world.api("GET", f"/api/v1/cases/{case_id}", user=user)
            assert (status, body) == (404, {"error": "no such case"}), (user, case_id)
        assert (await world.api("GET", f"/api/v1/cases/{webhook}", user="nl"))[0] == 200

        # The inbox lists only the partner's own cases; coordinators read only the cases
        # flagged for them (none here: tests/web/test_flags.py has flagged ones).
        _, inbox = await world.api("GET", "/api/v1/inbox", user="nl")
        assert sorted(c["id"] for c in inbox["cases"]) == sorted([moved, webhook])
        _, inbox = await world.api("GET", "/api/v1/inbox", user="de")
        assert inbox["cases"] == []
        status, body = await world.api("GET", f"/api/v1/cases/{moved}", user="coordinator")
        assert (status, body) == (404, {"error": "no such case"})
        assert await world.api("GET", "/api/v1/cases", user="coordinator") == (
            200, {"total": 0, "cases": []})
