"""NTTD_PARTNER_ACK_DEADLINE: a partner that has not acknowledged a routed case in time
is flagged to the coordinator, once per case, on the injected clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from nttd.exchange import ACK_DEADLINE_REASON
from nttd.models import Case, Event
from tests.integration.world import World, running_world

PATHS = ("/img/1.jpg", "/img/2.jpg", "/img/3.jpg")


async def flags(world: World, case_id: int) -> list[dict[str, object]]:
    async with world.svc.sessions() as session:
        found = await session.scalars(select(Event.data).where(
            Event.case_id == case_id, Event.kind == "coordinator_flagged"))
        return [dict(d or {}) for d in found]


async def flagged_at(world: World, case_id: int) -> object:
    async with world.svc.sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case.flagged_at


async def test_an_unacknowledged_partner_is_flagged_once(database_url: str,
                                                        tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path, NTTD_PARTNER_ACK_DEADLINE="48h",
                             NTTD_RECHECK_SCHEDULE="6h") as world:
        for path in PATHS:
            world.hosts["nl"].route(path, status=200, headers={"Content-Type": "image/jpeg"})
        status, body = await world.api("POST", "/api/v1/cases", json={
            "urls": [world.url("nl", path) for path in PATHS]})
        assert status == 201, body
        acked, silent, held = (c["id"] for c in body["cases"])
        await world.run_until_idle()
        for case_id in (acked, silent, held):
            case = await world.case(case_id)
            assert case["route"] == {"kind": "partner", "hotline": "nl-partner"}
        assert len(world.webhook.requests) == 3  # the routes went out (no batch window)

        await world.advance(timedelta(hours=10))
        status, _ = await world.api("POST", f"/api/v1/cases/{acked}/status", user="nl",
                                    json={"status": "acknowledged"})
        assert status == 200
        status, _ = await world.api("POST", f"/api/v1/cases/{held}/hold", json={})
        assert status == 200

        # Just before the deadline: nobody is flagged.
        await world.advance(timedelta(hours=37, minutes=59))
        assert [await flags(world, c) for c in (acked, silent, held)] == [[], [], []]

        # Past it: only the case the partner left unacknowledged (and not on hold).
        await world.advance(timedelta(minutes=2))
        raised = await flags(world, silent)
        assert len(raised) == 1 and raised[0]["reason"] == ACK_DEADLINE_REASON
        assert raised[0]["partner"] == "nl-partner"
        assert await flagged_at(world, silent) is not None
        assert await flags(world, acked) == [] and await flags(world, held) == []

        # Days later: still the one flag (once per case), nothing else raised.
        await world.advance(timedelta(days=3))
        assert len(await flags(world, silent)) == 1
        assert await flags(world, acked) == [] and await flags(world, held) == []
