"""cases: flagged_at and flag_reason (a flag for the network coordinator), chase_step

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nttd.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flagged_at", nttd.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("flag_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("chase_step", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_cases_flagged_at", ["flagged_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_flagged_at")
        batch_op.drop_column("chase_step")
        batch_op.drop_column("flag_reason")
        batch_op.drop_column("flagged_at")
