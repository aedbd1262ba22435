"""notices: first_failure_at, envelope_from; bad_contacts (delivery you can trust)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nttd.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_failure_at", nttd.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("envelope_from", sa.String(length=320), nullable=True))
    op.create_table(
        "bad_contacts",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("marked_at", nttd.db.UTCDateTime(), nullable=False),
        sa.Column("bad_until", nttd.db.UTCDateTime(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_index("ix_bad_contacts_bad_until", "bad_contacts", ["bad_until"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bad_contacts_bad_until", table_name="bad_contacts")
    op.drop_table("bad_contacts")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("envelope_from")
        batch_op.drop_column("first_failure_at")
