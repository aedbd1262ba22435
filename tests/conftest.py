"""Shared fixtures: databases on SQLite and PostgreSQL.

`database_url` is parametrised over both backends. PostgreSQL is the server at
NTTD_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
each test gets a fresh database created there and dropped afterwards. When the
server is not reachable the PostgreSQL variants are skipped with a message
saying so — except in CI (CI or NTTD_REQUIRE_POSTGRES set), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

PG_ADMIN_URL = os.environ.get(
    "NTTD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = bool(os.environ.get("CI") or os.environ.get("NTTD_REQUIRE_POSTGRES"))


async def _pg_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        message = (f"PostgreSQL not reachable at {PG_ADMIN_URL} ({exc}); "
                   "set NTTD_TEST_POSTGRES_URL or start PostgreSQL")
        if REQUIRE_PG:
            pytest.fail(message + " — required in CI", pytrace=False)
        pytest.skip(message)


async def make_pg_database() -> tuple[str, str]:
    """Create a fresh database; returns (asyncpg SQLAlchemy URL, name)."""
    name = "nttd_test_" + uuid.uuid4().hex[:12]
    admin = await _pg_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
    return f"postgresql+asyncpg://{base}/{name}", name


async def drop_pg_database(name: str) -> None:
    admin = await _pg_admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'nttd.db'}"
        return
    url, name = await make_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(name)
