"""One bad result never poisons the rest: whatever a hosting server sends is stored
safely, and a failure to record, resolve or deliver one case is isolated to it,
which is retried later with a backoff."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import nttd.checks.removal
import nttd.outbox.delivery
import nttd.routing.resolve
from nttd.models import Case, Check, Notice
from tests.integration.world import PATH, World, running_world


async def case_ids(world: World, *sites: str) -> dict[str, int]:
    ids = {}
    for site in sites:
        _, body = await world.api("POST", "/api/v1/cases", json={"urls": [world.url(site)]})
        ids[site] = body["cases"][0]["id"]
    return ids


async def checks_of(world: World, case_id: int) -> list[Check]:
    async with world.svc.sessions() as session:
        return list(await session.scalars(select(Check).where(Check.case_id == case_id)))


async def test_whatever_a_host_sends_is_stored_safely(database_url: str, tmp_path: Path) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h") as world:
        # Raw bytes that are not UTF-8 (the stand-in writes headers as latin-1).
        world.hosts["us"].route(PATH, status=302,
                                headers={"Location": "http://us-files.example.com/\xff\xfe/x"})
        world.hosts["gb"].route(PATH, status=302,
                                headers={"Location": "javascript:alert(1)//" + "A" * 8000})
        ids = await case_ids(world, "us", "gb", "de")
        await world.advance(timedelta(hours=1))
        us, gb, de = [await checks_of(world, ids[s]) for s in ("us", "gb", "de")]
        assert us and gb and de  # every case was checked and recorded
        assert us[0].location == "http://us-files.example.com/\\xff\\xfe/x"
        assert gb[0].location is not None and len(gb[0].location) < 2100
        assert gb[0].location.endswith("more characters]")
        case = await world.case(ids["gb"])
        assert case["checks"][0]["location"].startswith("javascript:alert(1)")  # as data only


async def test_a_check_that_cannot_be_recorded_is_set_aside_alone(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h,6h") as world:
        ids = await case_ids(world, "us", "gb", "de")
        await world.run_until_idle()
        real = nttd.checks.removal.apply_check

        async def poisoned(session: Any, case: Case, check: Check, **kw: Any) -> None:
            if case.id == ids["gb"]:
                raise RuntimeError("poisoned")
            await real(session, case, check, **kw)

        monkeypatch.setattr(nttd.checks.removal, "apply_check", poisoned)
        await world.advance(timedelta(hours=1))
        assert await checks_of(world, ids["us"]) and await checks_of(world, ids["de"])
        assert await checks_of(world, ids["gb"]) == []
        async with world.svc.sessions() as session:
            gb = await session.get(Case, ids["gb"])
            assert gb is not None
            assert gb.check_schedule is not None and gb.check_schedule.lease_owner is None
            assert "poisoned" in (gb.last_error or "")
            assert gb.next_check_at is not None
            assert gb.next_check_at >= world.svc.clock() + timedelta(hours=5)  # backed off
        monkeypatch.setattr(nttd.checks.removal, "apply_check", real)
        await world.advance(timedelta(hours=6))
        assert await checks_of(world, ids["gb"])  # checked again after the backoff


async def test_a_case_that_cannot_be_resolved_or_delivered_is_retried_alone(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h") as world:
        # Resolved cases are stored together (one transaction per write): a case that
        # cannot be stored fails the whole write, which is then done case by case.
        real_store = nttd.routing.resolve.settle_resolution
        real_send = nttd.outbox.delivery._send
        ids: dict[str, int] = {}

        def store(session: Any, case: Any, resolution: Any, **kw: Any) -> bool:
            if case.id == ids.get("gb"):
                raise RuntimeError("cannot store")
            return real_store(session, case, resolution, **kw)

        async def send(svc: Any, channel: str, address: str, *args: Any) -> None:
            if address == "abuse@us-host.example":
                raise RuntimeError("the transport blew up")
            await real_send(svc, channel, address, *args)

        monkeypatch.setattr(nttd.routing.resolve, "settle_resolution", store)
        monkeypatch.setattr(nttd.outbox.delivery, "_send", send)
        ids.update(await case_ids(world, "us", "gb", "de"))
        await world.run_until_idle()
        assert (await world.case(ids["gb"]))["status"] == "received"  # set aside
        assert (await world.case(ids["de"]))["status"] in ("routed", "monitoring")
        async with world.svc.sessions() as session:
            states = {n.address: n.status for n in await session.scalars(select(Notice))}
        assert states["abuse@us-host.example"] == "queued"  # to be retried
        assert states["reports@partner-de.example"] == "sent"  # not held up
        monkeypatch.setattr(nttd.routing.resolve, "settle_resolution", real_store)
        monkeypatch.setattr(nttd.outbox.delivery, "_send", real_send)
        await world.advance(timedelta(minutes=5))
        assert (await world.case(ids["gb"]))["status"] in ("notified", "monitoring")
        async with world.svc.sessions() as session:
            assert all(n.status == "sent" for n in await session.scalars(select(Notice)))
