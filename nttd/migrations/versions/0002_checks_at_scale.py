"""checks at scale: first online time per case, marks on the checks that matter

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nttd.db

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_online_at', nttd.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mark', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.drop_column('mark')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('first_online_at')
