"""Reads take no write lock: authenticating a request only reads, the token's last
use is written at most once a minute and off the request's path, and a bulk
intake never keeps readers waiting."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import func, select

from nttd.db import is_sqlite
from nttd.models import ApiToken, Case
from tests.integration.world import World, running_world


async def last_used(world: World) -> object:
    await world.svc.token_usage.flush()
    async with world.svc.sessions() as session:
        return await session.scalar(select(func.max(ApiToken.last_used_at)))


async def test_an_api_read_answers_while_a_writer_holds_the_lock(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path) as world:
        await world.api("GET", "/api/v1/cases")  # the token's first use is recorded
        await world.svc.token_usage.flush()
        world.svc.token_usage._recorded.clear()  # so the next use would be written too
        if is_sqlite(database_url):
            blocker = sqlite3.connect(database_url.split("///", 1)[1], timeout=1)
            blocker.isolation_level = None
            blocker.execute("BEGIN IMMEDIATE")  # a writer holds the database's lock
        else:
            # A writer holds the token row (writing last use there would wait for it).
            conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
            tx = conn.transaction()
            await tx.start()
            await conn.execute("SELECT * FROM api_tokens FOR UPDATE")
        try:
            status, body = await asyncio.wait_for(world.api("GET", "/api/v1/cases"), timeout=5)
            assert status == 200, body
        finally:
            if is_sqlite(database_url):
                blocker.rollback()
                blocker.close()
            else:
                await tx.rollback()
                await conn.close()
        await world.svc.token_usage.flush()  # the delayed write got through afterwards


async def test_last_use_is_written_at_most_once_a_minute(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path) as world:
        assert world.clock is not None
        first = world.clock()
        await world.api("GET", "/api/v1/cases")
        assert await last_used(world) == first
        world.clock.advance(timedelta(seconds=30))
        await world.api("GET", "/api/v1/cases")
        assert await last_used(world) == first  # not written again within the minute
        world.clock.advance(timedelta(seconds=31))
        await world.api("GET", "/api/v1/cases")
        assert await last_used(world) == world.clock()


async def test_bulk_intake_never_fails_parallel_requests(
    database_url: str, tmp_path: Path
) -> None:
    async with running_world(database_url, tmp_path) as world:
        urls = [f"http://h{i % 500}.example.com/img/{i}.jpg" for i in range(10_000)]
        post = asyncio.create_task(world.api("POST", "/api/v1/cases", json={"urls": urls}))
        reads = [await world.api("GET", "/api/v1/cases?limit=1") for _ in range(10)]
        status, body = await post
        assert status == 201 and len(body["cases"]) == 10_000
        assert all(s == 200 for s, _ in reads), reads
        async with world.svc.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Case)) == 10_000
        # All or nothing: one invalid URL at the end refuses the whole request.
        more = [f"http://more.example.com/{i}.jpg" for i in range(9_999)] + ["ftp://x.example/"]
        status, body = await world.api("POST", "/api/v1/cases", json={"urls": more})
        assert status == 422 and body["problems"][0]["index"] == 9_999
        async with world.svc.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Case)) == 10_000
