"""The removal rule, reappearance and check marks, driven verdict by verdict on SQLite
with a fixed clock (the rule itself; the integration tests drive it over the network)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases.schedule import reappearance_delay
from nttd.checks import apply_check
from nttd.db import make_engine, make_sessionmaker
from nttd.models import Base, Case, Check, Event
from nttd.settings import Settings

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings(
    recheck_schedule=(timedelta(minutes=15), timedelta(hours=1)),
    removal_confirmations=3,
    removal_confirm_spacing=timedelta(minutes=3),
    reappearance_schedule=(timedelta(hours=1), timedelta(hours=6), timedelta(days=1)),
    reappearance_window=timedelta(days=30),
    check_jitter=0.0,
)


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'rule.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with make_sessionmaker(engine)() as s:
        yield s
    await engine.dispose()


async def new_case(session: AsyncSession, url: str = "http://files.example/a.jpg",
                   status: str = "notified") -> Case:
    case = Case(url=url, canonical_url=url, host="files.example", status=status,
                confirmed_at=T0, created_at=T0, updated_at=T0, hold_seconds=0.0,
                resolve_attempts=0, check_count=0, gone_streak=0, reappeared_count=0)
    session.add(case)
    await session.flush()
    return case


async def check(session: AsyncSession, case: Case, verdict: str, minutes: float,
                settings: Settings = SETTINGS, rng: random.Random | None = None) -> Check:
    row = Check(case_id=case.id, checked_at=T0 + timedelta(minutes=minutes), verdict=verdict)
    session.add(row)
    case.check_count += 1
    await apply_check(session, case, row, settings=settings, rng=rng or random.Random(1))
    await session.flush()
    return row


async def test_flaky_host_is_never_removed(session: AsyncSession) -> None:
    """A host that answers 404 now and then, with 200s between, is N-of-N short every time."""
    case = await new_case(session)
    for minute, verdict in enumerate(["online", "gone", "gone", "online", "gone", "server_error",
                                      "gone", "gone", "unreachable", "gone"]):
        await check(session, case, verdict, minute * 4)
        assert case.status == "monitoring"
    assert case.removed_at is None


async def test_n_spaced_gone_verdicts_confirm_removal(session: AsyncSession) -> None:
    case = await new_case(session)
    await check(session, case, "online", 0)
    first = await check(session, case, "gone", 10)
    assert case.next_check_at == T0 + timedelta(minutes=13)  # the confirm spacing
    await check(session, case, "gone", 11)  # too soon: recorded, not counted
    assert case.gone_streak == 1
    await check(session, case, "dns_gone", 13)
    assert case.gone_streak == 2 and case.status == "monitoring"
    await check(session, case, "gone", 16)
    assert case.status == "removed"
    assert case.removed_at == first.checked_at  # the first check of the streak
    assert case.next_check_at == T0 + timedelta(minutes=16, hours=1)
    marks = [(c.verdict, c.mark) for c in await session.scalars(
        select(Check).where(Check.case_id == case.id).order_by(Check.checked_at))]
    assert marks == [("online", "first_online"), ("gone", "removal"), ("gone", "removal"),
                     ("dns_gone", "removal"), ("gone", "removal")]


async def test_which_verdicts_count_is_configurable(session: AsyncSession) -> None:
    strict = SETTINGS.replace(removal_confirmations=2)
    away = strict.replace(removal_verdicts=("gone", "dns_gone", "redirected_away"))
    case = await new_case(session)
    await check(session, case, "redirected_away", 0, strict)
    await check(session, case, "redirected_away", 5, strict)
    assert case.status == "monitoring"
    await check(session, case, "redirected_away", 10, away)
    await check(session, case, "redirected_away", 15, away)
    assert case.status == "removed"


async def test_reappearance_reopens_and_is_counted(session: AsyncSession) -> None:
    rule = SETTINGS.replace(removal_confirmations=1)
    case = await new_case(session)
    await check(session, case, "gone", 0, rule)
    assert case.status == "removed"
    await check(session, case, "gone", 60, rule)  # still gone an hour later
    assert case.next_check_at == T0 + timedelta(minutes=60 + 360)  # the schedule decays
    back = await check(session, case, "online", 420, rule)
    assert (case.status, case.reappeared_count, case.removed_at) == ("reappeared", 1, None)
    assert back.mark == "reappearance"
    assert case.next_check_at == back.checked_at + timedelta(minutes=15)
    kinds = [e.kind for e in await session.scalars(
        select(Event).where(Event.case_id == case.id).order_by(Event.id))]
    assert kinds == ["status", "status", "reappeared", "status"]
    # Removed again later: a new removed_at, the count stays.
    await check(session, case, "gone", 500, rule)
    assert case.status == "removed" and case.removed_at == T0 + timedelta(minutes=500)


async def test_closed_after_the_window(session: AsyncSession) -> None:
    rule = SETTINGS.replace(removal_confirmations=1)
    case = await new_case(session)
    await check(session, case, "gone", 0, rule)
    await check(session, case, "unreachable", 60 * 24 * 29, rule)
    assert case.status == "removed"
    await check(session, case, "gone", 60 * 24 * 30, rule)
    assert case.status == "closed" and case.next_check_at is None


async def test_reappearance_with_a_newer_open_case_closes_the_old_one(
    session: AsyncSession,
) -> None:
    rule = SETTINGS.replace(removal_confirmations=1)
    old = await new_case(session)
    await check(session, old, "gone", 0, rule)
    newer = await new_case(session)  # the URL was submitted again after the removal
    await check(session, old, "online", 60, rule)
    assert old.status == "closed" and old.reappeared_count == 1
    event = await session.scalar(select(Event).where(Event.kind == "reappeared"))
    assert event is not None and event.data is not None
    assert event.data["open_case"] == newer.id


async def test_jitter_only_adds(session: AsyncSession) -> None:
    jittery = SETTINGS.replace(check_jitter=0.5)
    rng = random.Random(7)
    delays = []
    for n in range(30):
        case = await new_case(session, url=f"http://files.example/{n}.jpg")
        row = await check(session, case, "online", 0, jittery, rng)
        assert case.next_check_at is not None
        delays.append(case.next_check_at - row.checked_at)
    assert all(timedelta(minutes=15) <= d <= timedelta(minutes=22.5) for d in delays)
    assert len(set(delays)) == 30  # spread, not all at one instant


def test_reappearance_delay_decays() -> None:
    schedule = SETTINGS.reappearance_schedule
    assert reappearance_delay(schedule, timedelta(minutes=30)) == timedelta(hours=1)
    assert reappearance_delay(schedule, timedelta(hours=2)) == timedelta(hours=6)
    assert reappearance_delay(schedule, timedelta(days=10)) == timedelta(days=1)
