"""Analysts correct hosting facts through the API; the case is routed again."""

from __future__ import annotations

from pathlib import Path

from tests.integration.world import SITES, running_world


async def test_override_reroutes_and_is_audited(database_url: str, tmp_path: Path) -> None:
    # A long batch window: the override comes while the notice to the host is gathering,
    # however slow the machine; end_gathering() then lets the notices go.
    async with running_world(database_url, tmp_path, NTTD_NOTICE_BATCH_WINDOW="60s") as world:
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
        case_id = body["cases"][0]["id"]
        await world.wait_status(case_id, "notified", "monitoring")
        before = await world.case(case_id)
        assert before["route"]["kind"] == "direct"

        # Invalid overrides change nothing.
        for bad in ({"hosting": {"country": "Netherlands"}}, {"hosting": {"colour": "red"}},
                    {"hosting": {"abuse_emails": ["not-an-email"]}}, {"owner": "x"}, {}):
            status, answer = await world.api("PATCH", f"/api/v1/cases/{case_id}/facts",
                                             json=bad)
            assert status == 400, (bad, answer)
        assert (await world.case(case_id))["facts"] == before["facts"]
        assert (await world.api("PATCH", f"/api/v1/cases/{case_id}/facts", user="coordinator",
                                json={"hosting": {"country": "NL"}}))[0] == 403

        # The analyst knows the server is really in the Netherlands.
        status, answer = await world.api("PATCH", f"/api/v1/cases/{case_id}/facts", json={
            "hosting": {"country": "NL"}, "note": "reseller; server in Amsterdam"})
        assert status == 200, answer
        assert answer["changes"] == [{"field": "hosting.country", "old": "US", "new": "NL"}]
        case = await world.case(case_id)
        assert case["route"] == {"kind": "partner", "hotline": "nl-partner"}
        assert case["country"] == "NL"
        assert case["facts"]["provenance"]["hosting.country"]["source"] == "manual"
        assert case["facts"]["provenance"]["hosting.country"]["detail"] == "user:analyst"
        kinds = [e["kind"] for e in case["timeline"]]
        assert "facts_overridden" in kinds and "rerouted" in kinds
        override = next(e for e in case["timeline"] if e["kind"] == "facts_overridden")
        assert override["actor"] == "user:analyst"
        assert override["data"]["note"] == "reseller; server in Amsterdam"

        async def partner_got_it() -> bool:
            return len(world.webhook.requests) == 1

        assert await world.end_gathering() >= 1
        await world.wait_for("the re-routed case at the partner", partner_got_it)
        # The notice to the old host was withdrawn before it was sent.
        assert [m for m in world.smtp.messages if SITES["us"].abuse in m.rcpt_tos] == []
        status, inbox = await world.api("GET", "/api/v1/inbox", user="nl")
        assert [c["id"] for c in inbox["cases"]] == [case_id]


async def test_override_rescues_an_unresolvable_case(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path) as world:
        url = f"http://gone-files.example.com:{world.hosts['gb'].port}/a.jpg"
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [url]})
        case_id = body["cases"][0]["id"]
        await world.wait_status(case_id, "unresolvable")
        status, answer = await world.api("PATCH", f"/api/v1/cases/{case_id}/facts", json={
            "hosting": {"country": "GB", "abuse_emails": ["abuse@gb-host.example"]}})
        assert status == 200, answer
        await world.wait_status(case_id, "notified", "monitoring", "removed")

        async def mailed() -> bool:
            return any("abuse@gb-host.example" in m.rcpt_tos for m in world.smtp.messages)

        await world.wait_for("the notice to the corrected contact", mailed)
