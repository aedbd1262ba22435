"""Two (or twenty) workers routing cases for the same recipient at the same moment open
one gathering notice, not one each (nttd.outbox.queue: a transaction-scoped advisory
lock per recipient on PostgreSQL; SQLite has one writer)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from nttd.clock import utcnow
from nttd.db import make_engine, make_sessionmaker
from nttd.migrate import upgrade
from nttd.models import Case, Notice, NoticeCase
from nttd.outbox import Recipient, queue_notices
from nttd.outbox.queue import recipient_lock_key

WORKERS = 20
HOST = Recipient("host", "email", "abuse@hoster.example", "Hoster")
OTHER = Recipient("registrar", "email", "abuse@registrar.example", "Registrar")


async def test_concurrent_routing_opens_one_gathering_notice(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        now = utcnow()
        async with sessions() as session, session.begin():
            cases = [Case(url=f"http://files.example.com/{n}.jpg",
                          canonical_url=f"http://files.example.com/{n}.jpg",
                          host="files.example.com", status="resolved", confirmed_at=now,
                          created_at=now, updated_at=now) for n in range(WORKERS)]
            session.add_all(cases)
        start = asyncio.Event()

        async def route(case: Case) -> list[int]:
            async with sessions() as session, session.begin():  # a connection each
                await start.wait()
                return await queue_notices(session, case, [HOST, OTHER], now=now,
                                           batch_window=timedelta(minutes=10))

        tasks = [asyncio.create_task(route(c)) for c in cases]
        await asyncio.sleep(0.2)  # every task holds its own connection and transaction
        start.set()
        results = await asyncio.gather(*tasks)

        async with sessions() as session:
            notices = list(await session.scalars(select(Notice).order_by(Notice.id)))
            linked = await session.scalar(select(func.count()).select_from(NoticeCase))
        assert sorted((n.recipient_kind, n.address) for n in notices) == [
            ("host", HOST.address), ("registrar", OTHER.address)]
        assert {frozenset(r) for r in results} == {frozenset(n.id for n in notices)}
        assert linked == 2 * WORKERS  # every case on both, nothing lost
    finally:
        await engine.dispose()


def test_the_lock_key_is_per_recipient_and_fits_a_bigint() -> None:
    keys = {recipient_lock_key(r) for r in (
        HOST, OTHER, Recipient("host", "email", "abuse@other.example", "Other"),
        Recipient("cdn", "email", HOST.address, "CDN"))}
    assert len(keys) == 4
    assert all(-(2 ** 63) <= k < 2 ** 63 for k in keys)
    assert recipient_lock_key(HOST) == recipient_lock_key(
        Recipient("host", "email", "abuse@hoster.example", "another name"))
