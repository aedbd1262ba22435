"""notices: ladder_rung (how far up the escalation ladder a chase has gone) and
chase_step (which letter of the chase a notice is: notice, reminder-<n>,
escalation-<party>)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ladder_rung", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("chase_step", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("chase_step")
        batch_op.drop_column("ladder_rung")
