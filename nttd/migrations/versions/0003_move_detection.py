"""move detection: when each open case is next re-resolved

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nttd.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_reresolve_at", nttd.db.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_next_reresolve_at"), ["next_reresolve_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_next_reresolve_at"))
        batch_op.drop_column("next_reresolve_at")
