"""notices: reminders (the letter's step, the notice a reminder chases, when the next is due)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nttd.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step", sa.String(length=16), nullable=False,
                                      server_default="notice"))
        batch_op.add_column(sa.Column("reminder_of", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reminders_sent", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("next_reminder_at", nttd.db.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_notices_reminder_of_notices"), "notices",
                                    ["reminder_of"], ["id"])
        batch_op.create_index(batch_op.f("ix_notices_next_reminder_at"), ["next_reminder_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_next_reminder_at"))
        batch_op.drop_constraint(batch_op.f("fk_notices_reminder_of_notices"), type_="foreignkey")
        batch_op.drop_column("next_reminder_at")
        batch_op.drop_column("reminders_sent")
        batch_op.drop_column("reminder_of")
        batch_op.drop_column("step")
