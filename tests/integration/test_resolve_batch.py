"""Resolved cases are written a round at a time (nttd.routing.resolve.store_resolutions):
as many statements for eight cases as for one, the same events, routes and notices
as one by one, and a case that cannot be written is set aside alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.util.concurrency import await_only

import nttd.routing.resolve
from nttd.cases import CaseStatus, transition
from nttd.models import Case, Event, Notice, NoticeCase
from nttd.outbox import deliver_due_notices
from nttd.routing.resolve import _store_batch, settle_resolution, store_resolutions
from nttd.routing.route import route_cases
from resolvers.resolve import Resolution, resolve_url
from tests.integration.world import SITES, World, mails_to, running_world


async def submitted(world: World, site: str, count: int, first: int = 0) -> list[int]:
    urls = [world.url(site, f"/img/{first + n}.jpg") for n in range(count)]
    status, body = await world.api("POST", "/api/v1/cases", json={"urls": urls})
    assert status == 201, body
    return [int(c["id"]) for c in body["cases"]]


async def leased(world: World, ids: list[int]) -> list[tuple[int, Resolution]]:
    """Claim the cases as the resolve step does, and resolve them (not stored yet)."""
    now = world.svc.clock()
    async with world.svc.sessions() as session, session.begin():
        cases = list(await session.scalars(select(Case).where(Case.id.in_(ids))))
        for case in cases:
            transition(session, case, CaseStatus.RESOLVING, actor="system:resolver", now=now)
            case.lease_owner, case.lease_until = world.svc.worker_id, now + timedelta(minutes=1)
    return [(case.id, await resolve_url(case.canonical_url, world.svc.resolver_context))
            for case in sorted(cases, key=lambda c: c.id)]


class Statements:
    """Counts the statements sent to the database while it is open."""

    def __init__(self, world: World) -> None:
        self.engine = world.svc.engine.sync_engine
        self.sql: list[str] = []

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.sql.append(statement)

    def count(self, *, events: bool = True) -> int:
        """How many; without `events`, the inserts of events left out (SQLite gets them
        one row a statement from the ORM, in its own process; PostgreSQL in one)."""
        return sum(1 for s in self.sql if events or not s.startswith("INSERT INTO events"))

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


async def kinds_of(world: World, case_id: int) -> list[tuple[str, Any, Any]]:
    async with world.svc.sessions() as session:
        events = await session.scalars(
            select(Event).where(Event.case_id == case_id).order_by(Event.id))
        return [(e.kind, (e.data or {}).get("old"), (e.data or {}).get("new")) for e in events]


async def test_a_round_of_cases_is_written_in_the_statements_of_one(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_NOTICE_BATCH_WINDOW="10m") as world:
        one = await submitted(world, "us", 1)
        eight = await submitted(world, "us", 8, first=1)
        alone, together = await leased(world, one), await leased(world, eight)
        with Statements(world) as single:
            await store_resolutions(world.svc, alone)
        with Statements(world) as batch:
            await store_resolutions(world.svc, together)
        # Not eight times as many (fewer: the first write opened the notice).
        events = world.svc.engine.dialect.name == "postgresql"
        assert batch.count(events=events) <= single.count(events=events)
        assert "INSERT INTO notice_cases" in " ".join(batch.sql)
        async with world.svc.sessions() as session:
            cases = list(await session.scalars(select(Case).where(Case.id.in_(one + eight))))
            (notice,) = await session.scalars(select(Notice))
            linked = set(await session.scalars(
                select(NoticeCase.case_id).where(NoticeCase.notice_id == notice.id)))
        assert {c.status for c in cases} == {"notified"}
        assert {(c.country, c.asn, c.route_kind, c.lease_owner) for c in cases} == {
            ("US", SITES["us"].asn, "direct", None)}
        assert all(c.next_check_at is not None and c.next_reresolve_at is not None
                   for c in cases)
        assert notice.address == SITES["us"].abuse
        assert linked == set(one + eight)  # the eight joined the notice the first opened
        expected = [("received", None, None), ("status", "received", "resolving"),
                    ("resolved", None, None),
                    ("status", "resolving", "resolved"), ("status", "resolved", "notified")]
        for case_id in one + eight:
            assert await kinds_of(world, case_id) == expected


async def test_a_case_that_cannot_be_written_is_set_aside_and_the_others_are_written(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_world(database_url, tmp_path) as world:
        ids = await submitted(world, "us", 2) + await submitted(world, "de", 1)
        bad = ids[1]
        items = await leased(world, ids)
        real = nttd.routing.resolve.settle_resolution

        def settle(session: Any, case: Case, resolution: Resolution, **kw: Any) -> bool:
            if case.id == bad:
                raise RuntimeError("cannot store")
            return real(session, case, resolution, **kw)

        monkeypatch.setattr(nttd.routing.resolve, "settle_resolution", settle)
        await _store_batch(world.svc, items)
        async with world.svc.sessions() as session:
            cases = {c.id: c for c in await session.scalars(
                select(Case).where(Case.id.in_(ids)))}
            links = await session.scalar(select(func.count()).select_from(NoticeCase))
        assert cases[ids[0]].status == "notified"
        assert cases[ids[2]].status == "routed"  # the DE partner
        assert cases[bad].status == "received"
        assert "cannot store" in (cases[bad].last_error or "")
        assert cases[bad].resolve_attempts == 1
        assert {c.lease_owner for c in cases.values()} == {None}
        assert links == 2  # nothing of the failed write was left behind


async def test_a_case_joining_a_notice_that_falls_due_meanwhile_is_not_left_behind(
    database_url: str, tmp_path: Path
) -> None:
    """A notice that falls due while a case is joining it is not sent without the case
    (the case would sit on a sent notice, with no first notice, for ever): delivery
    skips it until the case has joined, then sends it with the case."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: nothing runs while a case joins")
    async with running_world(database_url, tmp_path, NTTD_NOTICE_BATCH_WINDOW="1m") as world:
        assert world.clock is not None
        (first,) = await submitted(world, "us", 1)
        await world.run_until_idle()  # resolved and routed; its notice gathers for 1 min
        (late,) = await submitted(world, "us", 1, first=1)
        ((_, resolution),) = await leased(world, [late])
        joined_at = world.svc.clock()  # the joining write began before the notice fell due
        world.clock.advance(timedelta(minutes=2))
        delivered: list[int] = []
        armed = [True]

        def deliver_meanwhile(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            # Right after the joining write has found the gathering notice, a worker
            # delivers what is due (on its own connections), once.
            if "FROM notices" in statement and "notices.step" in statement and armed[0]:
                armed[0] = False
                delivered.append(await_only(deliver_due_notices(world.svc)))

        engine = world.svc.engine.sync_engine
        event.listen(engine, "after_cursor_execute", deliver_meanwhile)
        try:
            async with world.svc.sessions() as session, session.begin():
                joining = await session.get(Case, late)
                assert joining is not None
                assert settle_resolution(session, joining, resolution, now=joined_at)
                await route_cases(session, world.svc, [joining], now=joined_at)
        finally:
            event.remove(engine, "after_cursor_execute", deliver_meanwhile)
        assert delivered == [0] and world.smtp.messages == []  # it waited for the case
        await world.run_until_idle()
        assert len(mails_to(world, SITES["us"].abuse)) == 1  # one notice, with both cases
        async with world.svc.sessions() as session:
            cases = list(await session.scalars(select(Case).where(Case.id.in_([first, late]))))
        assert [c.first_notice_at is not None for c in cases] == [True, True]
