"""The Alembic revisions build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from nttd.db import make_engine
from nttd.migrate import current_revision, head_revision, upgrade
from nttd.models import Base


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
        # Upgrading again is a no-op.
        before, after = await upgrade(engine)
        assert before == after == head_revision()
    finally:
        await engine.dispose()


def test_single_head() -> None:
    assert head_revision() is not None
