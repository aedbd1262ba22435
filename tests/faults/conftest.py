"""Fault tests run on PostgreSQL only: several real worker processes share the work
there (SQLite runs one). `pg_url` is a fresh database on the test server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import drop_pg_database, make_pg_database


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    url, name = await make_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(name)
