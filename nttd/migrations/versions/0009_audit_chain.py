"""events: sealed into a hash chain (seal_seq, digest, chain) with its head row

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seal_seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("chain", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_events_seal_seq", ["seal_seq"])
    op.create_index("ix_events_unsealed", "events", ["id"],
                    postgresql_where=sa.text("seal_seq IS NULL"),
                    sqlite_where=sa.text("seal_seq IS NULL"))
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seal_seq", sa.BigInteger(), nullable=False),
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seal_seq": 0, "chain": "0" * 64}])


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_index("ix_events_unsealed", table_name="events")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_events_seal_seq", type_="unique")
        batch_op.drop_column("chain")
        batch_op.drop_column("digest")
        batch_op.drop_column("seal_seq")
