"""fact cache: facts about the internet shared by every worker process

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nttd.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fact_cache",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", nttd.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_fact_cache")),
    )
    with op.batch_alter_table("fact_cache", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fact_cache_expires_at"), ["expires_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fact_cache", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fact_cache_expires_at"))
    op.drop_table("fact_cache")
