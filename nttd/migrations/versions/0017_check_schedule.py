"""check_schedule: a case's check schedule, check lease and check counters in a narrow table

next_check_at, check_count, gone_streak, gone_streak_started_at, last_gone_at and
first_online_at move from cases to check_schedule (one row per case that was ever
scheduled for a check, primary key case_id), with the check's own lease (lease_owner,
lease_until; the cases' lease stays for resolving). A routine check then rewrites a
row with two indexes instead of the cases row and its thirteen. Existing values are
copied over; the downgrade copies them back (a check lease in flight is dropped: it
expires either way).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nttd.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOVED = ("next_check_at", "check_count", "gone_streak", "gone_streak_started_at",
         "last_gone_at", "first_online_at")


def upgrade() -> None:
    op.create_table(
        "check_schedule",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("next_check_at", nttd.db.UTCDateTime(), nullable=True),
        sa.Column("check_count", sa.Integer(), nullable=False),
        sa.Column("gone_streak", sa.Integer(), nullable=False),
        sa.Column("gone_streak_started_at", nttd.db.UTCDateTime(), nullable=True),
        sa.Column("last_gone_at", nttd.db.UTCDateTime(), nullable=True),
        sa.Column("first_online_at", nttd.db.UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", nttd.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE",
                                name=op.f("fk_check_schedule_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_check_schedule")),
    )
    columns = ", ".join(MOVED)
    op.execute(
        f"INSERT INTO check_schedule (case_id, {columns}) "
        f"SELECT id, {columns} FROM cases "
        "WHERE next_check_at IS NOT NULL OR check_count > 0 OR first_online_at IS NOT NULL")
    op.create_index(op.f("ix_check_schedule_next_check_at"), "check_schedule",
                    ["next_check_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # The claim joins it to cases: plan it from real counts from the start.
        op.execute("ANALYZE check_schedule")
    op.drop_index("ix_cases_next_check_at", table_name="cases")
    # Plain ALTER TABLE ... DROP COLUMN on both (SQLite >= 3.35): a batch rebuild of
    # cases on SQLite would drop the statistics' triggers (0016).
    for name in MOVED:
        op.execute(f"ALTER TABLE cases DROP COLUMN {name}")


def downgrade() -> None:
    # Plain ADD COLUMN on SQLite too (no batch rebuild: the triggers of 0016 stay).
    op.add_column("cases", sa.Column("next_check_at", nttd.db.UTCDateTime(), nullable=True))
    op.add_column("cases", sa.Column("check_count", sa.Integer(), nullable=False,
                                     server_default="0"))
    op.add_column("cases", sa.Column("gone_streak", sa.Integer(), nullable=False,
                                     server_default="0"))
    op.add_column("cases", sa.Column("gone_streak_started_at", nttd.db.UTCDateTime(),
                                     nullable=True))
    op.add_column("cases", sa.Column("last_gone_at", nttd.db.UTCDateTime(), nullable=True))
    op.add_column("cases", sa.Column("first_online_at", nttd.db.UTCDateTime(), nullable=True))
    for name in MOVED:
        op.execute(f"UPDATE cases SET {name} = (SELECT s.{name} FROM check_schedule s "
                   "WHERE s.case_id = cases.id) "
                   "WHERE id IN (SELECT case_id FROM check_schedule)")
    if op.get_bind().dialect.name == "postgresql":  # SQLite keeps the default (no rebuild)
        op.alter_column("cases", "check_count", server_default=None)
        op.alter_column("cases", "gone_streak", server_default=None)
    op.create_index("ix_cases_next_check_at", "cases", ["next_check_at"], unique=False)
    op.drop_index(op.f("ix_check_schedule_next_check_at"), table_name="check_schedule")
    op.drop_table("check_schedule")
