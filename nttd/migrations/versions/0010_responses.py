"""notice_responses (providers' answers through a notice's signed link, once per
action) and instance_secrets (the link key when NTTD_SECRET_KEY is not set)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nttd.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", nttd.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"],
                                name=op.f("fk_notice_responses_notice_id_notices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_responses")),
        sa.UniqueConstraint("notice_id", "action",
                            name=op.f("uq_notice_responses_notice_id")),
    )
    op.create_index(op.f("ix_notice_responses_notice_id"), "notice_responses", ["notice_id"])
    op.create_table(
        "instance_secrets",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_instance_secrets")),
    )


def downgrade() -> None:
    op.drop_table("instance_secrets")
    op.drop_index(op.f("ix_notice_responses_notice_id"), table_name="notice_responses")
    op.drop_table("notice_responses")
