"""Alembic environment: nttd runs migrations on a connection it already holds.

`nttd.migrate.upgrade` passes the connection in `config.attributes`; batch mode
is on so ALTERs work on SQLite too.
"""

from alembic import context

from nttd.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `nttd migrate`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
