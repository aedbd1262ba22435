"""The audit trail is sealed into a hash chain by the workers, and `nttd audit verify`
finds an edited, deleted or reordered event and names the first bad one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, update

from nttd.models import AuditHead, Event
from tests.cli import nttd
from tests.integration.world import World, running_world


@pytest.fixture
async def sealed_world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    """A world whose cases went through intake, routing, notices and a partner
    report, with every event sealed."""
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h") as world:
        _, body = await world.api("POST", "/api/v1/cases", json={
            "urls": [world.url("nl"), world.url("us"), world.url("de")]})
        await world.run_until_idle()
        nl_case = body["cases"][0]["id"]
        status, _ = await world.api("POST", f"/api/v1/cases/{nl_case}/status", user="nl",
                                    json={"status": "acknowledged", "note": "on it"})
        assert status == 200
        await world.run_until_idle()
        yield world


async def verify(world: World, tmp_path: Path) -> tuple[int, str]:
    code, out, err = await nttd("audit", "verify", cwd=tmp_path,
                                env={"NTTD_DATABASE_URL": world.settings.database_url})
    return code, out + err


async def event_ids(world: World) -> list[int]:
    async with world.svc.sessions() as session:
        return list(await session.scalars(select(Event.id).order_by(Event.seal_seq)))


async def test_the_workers_seal_every_event_and_the_trail_verifies(
    sealed_world: World, tmp_path: Path
) -> None:
    async with sealed_world.svc.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Event))
        unsealed = await session.scalar(
            select(func.count()).select_from(Event).where(Event.seal_seq.is_(None)))
        kinds = set(await session.scalars(select(Event.kind)))
    assert total and total > 6 and unsealed == 0
    # Intake, the resolver, the outbox and a partner's report all wrote events.
    expected = {"received", "status", "resolved", "notice_sent", "reported_acknowledged"}
    assert expected <= kinds, kinds
    code, out = await verify(sealed_world, tmp_path)
    assert code == 0, out
    assert "audit trail intact" in out and f"sealed events checked: {total}" in out


async def test_an_edited_event_is_named(sealed_world: World, tmp_path: Path) -> None:
    ids = await event_ids(sealed_world)
    victim = ids[len(ids) // 2]
    async with sealed_world.svc.sessions() as session, session.begin():
        await session.execute(update(Event).where(Event.id == victim)
                              .values(actor="user:someone-else"))
    code, out = await verify(sealed_world, tmp_path)
    assert code == 1
    assert f"event id {victim} " in out and "was edited" in out


async def test_an_edited_event_with_its_digest_recomputed_breaks_the_chain(
    sealed_world: World, tmp_path: Path
) -> None:
    # A careful forger recomputes the digest too: the chain hash then gives it away.
    from nttd.cases.audit import event_digest

    ids = await event_ids(sealed_world)
    victim = ids[3]
    async with sealed_world.svc.sessions() as session, session.begin():
        event = await session.get(Event, victim)
        assert event is not None
        event.data = {"forged": True}
        await session.flush()
        event.digest = event_digest(event.id, event.case_id, event.at, event.actor,
                                    event.kind, event.data)
    code, out = await verify(sealed_world, tmp_path)
    assert code == 1
    assert f"event id {victim} " in out and "chain was rewritten or reordered" in out


async def test_a_deleted_event_is_named(sealed_world: World, tmp_path: Path) -> None:
    ids = await event_ids(sealed_world)
    async with sealed_world.svc.sessions() as session, session.begin():
        seq = await session.scalar(select(Event.seal_seq).where(Event.id == ids[2]))
        await session.execute(delete(Event).where(Event.id == ids[2]))
    code, out = await verify(sealed_world, tmp_path)
    assert code == 1
    assert f"event #{seq} of the chain is missing" in out
    assert f"event id {ids[3]}" in out


async def test_a_deleted_last_event_is_found_by_the_head(
    sealed_world: World, tmp_path: Path
) -> None:
    ids = await event_ids(sealed_world)
    async with sealed_world.svc.sessions() as session, session.begin():
        await session.execute(delete(Event).where(Event.id == ids[-1]))
    code, out = await verify(sealed_world, tmp_path)
    assert code == 1
    assert "events were deleted at the end or the head was edited" in out


async def test_reordered_events_are_named(sealed_world: World, tmp_path: Path) -> None:
    # Swap the places of two events in the chain (their sequence numbers).
    ids = await event_ids(sealed_world)
    first, second = ids[4], ids[5]
    async with sealed_world.svc.sessions() as session, session.begin():
        a = await session.scalar(select(Event.seal_seq).where(Event.id == first))
        b = await session.scalar(select(Event.seal_seq).where(Event.id == second))
        await session.execute(update(Event).where(Event.id == first).values(seal_seq=-1))
        await session.execute(update(Event).where(Event.id == second).values(seal_seq=a))
        await session.execute(update(Event).where(Event.id == first).values(seal_seq=b))
    code, out = await verify(sealed_world, tmp_path)
    assert code == 1
    assert f"event id {second} " in out


async def test_a_late_commit_joins_the_chain_and_unsealed_events_are_counted(
    sealed_world: World, tmp_path: Path
) -> None:
    # An event whose id is lower than one already sealed (its transaction committed
    # later) is sealed next, with the next number; one not sealed yet is counted.
    ids = await event_ids(sealed_world)
    high = max(ids) + 10
    async with sealed_world.svc.sessions() as session, session.begin():
        now = sealed_world.svc.clock()
        await session.execute(insert(Event).values(id=high, case_id=None, at=now,
                                                   actor="test", kind="late", data=None))
    await sealed_world.run_until_idle()
    async with sealed_world.svc.sessions() as session, session.begin():
        await session.execute(insert(Event).values(id=high - 5, case_id=None, at=now,
                                                   actor="test", kind="late", data={"n": 1}))
        await session.execute(insert(Event).values(id=high + 1, case_id=None, at=now,
                                                   actor="test", kind="late", data={"n": 2}))
    code, out = await verify(sealed_world, tmp_path)
    assert code == 0, out
    assert "not sealed yet: 2" in out
    await sealed_world.run_until_idle()
    async with sealed_world.svc.sessions() as session:
        late = await session.scalar(select(Event.seal_seq).where(Event.id == high - 5))
        head = await session.scalar(select(AuditHead.seal_seq))
        higher = await session.scalar(select(Event.seal_seq).where(Event.id == high))
    assert late is not None and higher is not None and late > higher and head == late + 1
    code, out = await verify(sealed_world, tmp_path)
    assert code == 0 and "not sealed yet: 0" in out, out
