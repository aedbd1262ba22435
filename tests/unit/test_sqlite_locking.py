"""SQLite: a transaction that reads and then writes waits for a concurrent writer.

In WAL mode a deferred transaction that has read cannot take the write lock
after another connection committed: SQLite fails it at once with "database is
locked" (busy_timeout does not apply). nttd's engine begins every SQLite
transaction IMMEDIATE, so the two writers queue instead.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from nttd.db import READ_ONLY, make_engine


async def test_read_then_write_waits_for_a_concurrent_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
            await conn.execute(text("INSERT INTO t (id, n) VALUES (1, 0)"))
        first_has_read = asyncio.Event()

        async def read_then_write() -> None:
            async with engine.begin() as conn:
                n = (await conn.execute(text("SELECT n FROM t WHERE id = 1"))).scalar_one()
                first_has_read.set()
                await asyncio.sleep(0.3)  # the other writer tries meanwhile
                await conn.execute(text("UPDATE t SET n = :n WHERE id = 1"), {"n": n + 1})

        async def write() -> None:
            await first_has_read.wait()
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE t SET n = n + 10 WHERE id = 1"))

        await asyncio.gather(read_then_write(), write())
        async with engine.connect() as conn:
            # both committed, one after the other, and no update was lost
            assert (await conn.execute(text("SELECT n FROM t"))).scalar_one() == 11
    finally:
        await engine.dispose()


async def test_a_read_only_connection_does_not_queue_behind_a_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
            await conn.execute(text("INSERT INTO t (id, n) VALUES (1, 0)"))
        async with engine.begin() as writer:
            await writer.execute(text("UPDATE t SET n = 5 WHERE id = 1"))  # holds the lock
            async with engine.connect() as reader:
                await reader.execution_options(**{READ_ONLY: True})
                async with asyncio.timeout(5):  # a queued reader would wait 30 s
                    got = (await reader.execute(text("SELECT n FROM t"))).scalar_one()
            assert got == 0  # the last committed value (WAL: readers see a snapshot)
    finally:
        await engine.dispose()
