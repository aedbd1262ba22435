"""exchange between nttd instances: hotlines.status_url/status_token, exchange_links,
exchange_reports; cases.ack_overdue_at (the partner acknowledgement deadline)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nttd.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hotlines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("status_token", sa.Text(), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ack_overdue_at", nttd.db.UTCDateTime(), nullable=True))
    op.create_table(
        "exchange_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hotline_id", sa.Integer(), nullable=False),
        sa.Column("sender_ref", sa.String(length=200), nullable=False),
        sa.Column("sender_case_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("received_at", nttd.db.UTCDateTime(), nullable=False),
        sa.Column("reported", sa.String(length=200), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_exchange_links_case_id_cases")),
        sa.ForeignKeyConstraint(["hotline_id"], ["hotlines.id"],
                                name=op.f("fk_exchange_links_hotline_id_hotlines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_links")),
        sa.UniqueConstraint("hotline_id", "sender_ref",
                            name=op.f("uq_exchange_links_hotline_id")),
    )
    with op.batch_alter_table("exchange_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_links_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_links_done"), ["done"], unique=False)
    op.create_table(
        "exchange_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", nttd.db.UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", nttd.db.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", nttd.db.UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", nttd.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["exchange_links.id"],
                                name=op.f("fk_exchange_reports_link_id_exchange_links")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_reports")),
        sa.UniqueConstraint("link_id", "status", name=op.f("uq_exchange_reports_link_id")),
    )
    with op.batch_alter_table("exchange_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_reports_link_id"), ["link_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_reports_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_reports_next_attempt_at"),
                              ["next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_table("exchange_reports")
    op.drop_table("exchange_links")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("ack_overdue_at")
    with op.batch_alter_table("hotlines", schema=None) as batch_op:
        batch_op.drop_column("status_token")
        batch_op.drop_column("status_url")
