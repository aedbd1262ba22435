"""Recording check results: the bulk path (a monitored case checked once more, no
transition: one INSERT and one UPDATE for the whole batch) and the ORM path (a
transition) follow the same rule, and neither writes a result for a case this
worker no longer leases or that was put on hold meanwhile."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from nttd.checks import CheckResult, Outcome, Verdict, record_outcomes
from nttd.models import Case, Check, CheckSchedule, Event
from tests.integration.world import World, running_world


async def monitored_case(world: World, n: int = 0) -> int:
    url = world.url("us") + f"?n={n}"
    _, body = await world.api("POST", "/api/v1/cases", json={"urls": [url]})
    case_id = int(body["cases"][0]["id"])
    await world.wait_status(case_id, "monitoring", timeout=120)
    return case_id


async def lease(world: World, case_id: int, owner: str | None = None) -> None:
    now = world.svc.clock()
    async with world.svc.sessions() as session, session.begin():
        await session.execute(update(CheckSchedule).where(CheckSchedule.case_id == case_id)
                              .values(lease_owner=owner or world.svc.worker_id,
                                      lease_until=now + timedelta(minutes=5)))


def check_lease(case: Case) -> tuple[str | None, datetime | None]:
    """The check's lease (in the case's check_schedule row)."""
    assert case.check_schedule is not None
    return case.check_schedule.lease_owner, case.check_schedule.lease_until


def result(world: World, verdict: Verdict, after: timedelta = timedelta(0)) -> CheckResult:
    return CheckResult(verdict=verdict, status_code=200 if verdict is Verdict.ONLINE else 404,
                       method="HEAD", location=None, peer_ip="127.0.3.1", latency_ms=3,
                       error=None, checked_at=world.svc.clock() + after)


async def state(world: World, case_id: int) -> tuple[Case, list[Check]]:
    async with world.svc.sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        checks = list(await session.scalars(
            select(Check).where(Check.case_id == case_id).order_by(Check.id)))
        return case, checks


async def test_bulk_path_counts_streaks_and_schedules_like_the_rule(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h",
                             NTTD_REMOVAL_CONFIRMATIONS="3",
                             NTTD_REMOVAL_CONFIRM_SPACING="1m",
                             NTTD_CHECK_JITTER="0") as world:
        case_id = await monitored_case(world)
        before, checks_before = await state(world, case_id)
        rng = random.Random(1)
        events_before = await count_events(world, case_id)

        await lease(world, case_id)
        online = result(world, Verdict.ONLINE, timedelta(minutes=1))
        assert await record_outcomes(world.svc, [Outcome(case_id, online)], rng=rng) == 1
        case, checks = await state(world, case_id)
        assert case.check_count == before.check_count + 1
        assert check_lease(case) == (None, None)
        assert case.next_check_at == online.checked_at + timedelta(hours=1)
        assert len(checks) == len(checks_before) + 1
        assert (checks[-1].verdict, checks[-1].status_code, checks[-1].peer_ip) == (
            "online", 200, "127.0.3.1")

        # Two gone verdicts a spacing apart: a streak of 2 of 3, written in bulk.
        for minutes in (2, 3):
            await lease(world, case_id)
            gone = result(world, Verdict.GONE, timedelta(minutes=minutes))
            assert await record_outcomes(world.svc, [Outcome(case_id, gone)], rng=rng) == 1
        case, checks = await state(world, case_id)
        assert case.status == "monitoring" and case.gone_streak == 2
        assert case.gone_streak_started_at == world.svc.clock() + timedelta(minutes=2)
        assert case.last_gone_at == world.svc.clock() + timedelta(minutes=3)
        assert case.next_check_at == case.last_gone_at + timedelta(minutes=1)
        assert await count_events(world, case_id) == events_before  # no transition

        # The third confirms removal (the ORM path): removed_at is the streak's start,
        # and the whole streak is marked.
        await lease(world, case_id)
        gone = result(world, Verdict.GONE, timedelta(minutes=4))
        assert await record_outcomes(world.svc, [Outcome(case_id, gone)], rng=rng) == 1
        case, checks = await state(world, case_id)
        assert case.status == "removed"
        assert case.removed_at == world.svc.clock() + timedelta(minutes=2)
        assert [c.mark for c in checks[-3:]] == ["removal"] * 3


async def count_events(world: World, case_id: int) -> int:
    async with world.svc.sessions() as session:
        return len(list(await session.scalars(select(Event).where(Event.case_id == case_id))))


async def test_no_result_for_a_case_leased_by_another_worker_or_put_on_hold(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h") as world:
        taken, held, mine = [await monitored_case(world, n) for n in range(3)]
        await lease(world, taken, owner="another-worker")
        await lease(world, held)
        await lease(world, mine)
        status, body = await world.api("POST", f"/api/v1/cases/{held}/hold", json={})
        assert status == 200, body
        before = {i: await state(world, i) for i in (taken, held, mine)}
        outcomes = [Outcome(i, result(world, Verdict.ONLINE, timedelta(minutes=1)))
                    for i in (taken, held, mine)]
        assert await record_outcomes(world.svc, outcomes, rng=random.Random(1)) == 1
        case, checks = await state(world, taken)
        assert check_lease(case)[0] == "another-worker"  # untouched
        assert case.check_count == before[taken][0].check_count
        assert len(checks) == len(before[taken][1])
        case, checks = await state(world, held)
        assert case.status == "hold" and check_lease(case)[0] is None  # released, not checked
        assert len(checks) == len(before[held][1])
        case, checks = await state(world, mine)
        assert len(checks) == len(before[mine][1]) + 1


async def test_a_deferred_case_is_released_and_moved_to_the_end_of_the_pause(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="1h") as world:
        case_id = await monitored_case(world)
        await lease(world, case_id)
        until = world.svc.clock() + timedelta(hours=3)
        before, checks_before = await state(world, case_id)
        assert await record_outcomes(world.svc, [Outcome(case_id, None, defer_until=until)],
                                     rng=random.Random(1)) == 0
        case, checks = await state(world, case_id)
        assert case.next_check_at == until and check_lease(case)[0] is None
        assert case.check_count == before.check_count and len(checks) == len(checks_before)
