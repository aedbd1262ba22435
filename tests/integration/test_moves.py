"""Move detection: a URL whose hosting changes is recorded as moved and re-routed."""

from __future__ import annotations

from pathlib import Path

from tests.integration.world import SITES, running_world


async def test_a_move_is_recorded_and_rerouted(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path, NTTD_RERESOLVE_INTERVAL="300ms") as world:
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
        case_id = body["cases"][0]["id"]
        await world.wait_status(case_id, "notified", "monitoring")
        before = await world.case(case_id)
        assert before["route"]["kind"] == "direct"

        # The content moves to a network in Germany, where a partner works.
        world.zone.replace(SITES["us"].hostname, "A", SITES["de"].ip)

        async def moved() -> bool:
            case = await world.case(case_id)
            return any(e["kind"] == "moved" for e in case["timeline"])

        await world.wait_for("the move to be detected", moved)
        case = await world.case(case_id)
        move = next(e for e in case["timeline"] if e["kind"] == "moved")
        assert move["data"]["old"]["country"] == "US" and move["data"]["new"]["country"] == "DE"
        assert move["data"]["new"]["ips"] == [SITES["de"].ip]
        assert move["data"]["rerouted"] is True
        assert case["route"] == {"kind": "partner", "hotline": "de-partner"}
        assert case["country"] == "DE"
        # The clocks keep running: confirmation time and first notice are unchanged.
        assert case["clocks"]["confirmed_at"] == before["clocks"]["confirmed_at"]

        async def partner_mailed() -> bool:
            return any("reports@partner-de.example" in m.rcpt_tos for m in world.smtp.messages)

        await world.wait_for("the case at the new country's partner", partner_mailed)
        # No second move while nothing changes.
        await world.pause(1.0)  # several more re-resolutions
        case = await world.case(case_id)
        assert sum(e["kind"] == "moved" for e in case["timeline"]) == 1

