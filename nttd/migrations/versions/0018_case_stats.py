"""case_stats: the statistics' narrow copy of each case, kept by triggers (nttd/stats/fresh.py)

One row per case with what the breakdowns group and filter by, the three clocks' grid
bins and the interval of "now"s for which those bins hold. Triggers copy the columns on
every insert and on every update that changes one of them, and mark the row stale
(bins cleared, version bumped); the worker's refresh step computes the bins again. A
deleted case takes its row with it. Existing cases are copied in, stale.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# case_stats column <- the expression over the case row (R: NEW. in a trigger).
COPIED = {
    "confirmed_at": "R.confirmed_at",
    "country": "R.country",
    "asn": "R.asn",
    "as_name": "R.as_name",
    "registrar": "R.registrar",
    "cdn": "R.cdn",
    "tld": "R.tld",
    "content_type": "R.content_type",
    "classification": "R.classification",
    "route_kind": "R.route_kind",
    "route_hotline_id": "R.route_hotline_id",
    "chase_step": "R.chase_step",
    "removed": "R.removed_at IS NOT NULL",
    "acknowledged": "R.acknowledged_at IS NOT NULL",
    "noticed": "R.first_notice_at IS NOT NULL",
    "reappeared_count": "coalesce(R.reappeared_count, 0)",
}
WEEK = {  # nttd.stats.sqltime.week_start / month_of at this revision
    "postgresql": ("to_char(date_trunc('week', R.confirmed_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
                   "to_char(R.confirmed_at AT TIME ZONE 'UTC', 'YYYY-MM')"),
    "sqlite": ("date(R.confirmed_at, 'weekday 0', '-6 days')", "strftime('%Y-%m', R.confirmed_at)"),
}
# A change of any of these marks the row stale (the stored durations stand for the
# closure time, updated_at, of a closed case).
WATCHED = ("confirmed_at", "country", "asn", "as_name", "registrar", "cdn", "tld",
           "content_type", "classification", "route_kind", "route_hotline_id", "chase_step",
           "reappeared_count", "status", "first_notice_at", "removed_at", "acknowledged_at",
           "hold_started_at", "hold_seconds", "stats_removal_minutes", "stats_notice_minutes",
           "stats_ack_minutes")
STALE = {"removal_bin": "NULL", "notice_bin": "NULL", "ack_bin": "NULL", "fresh_from": "NULL",
         "fresh_until": "NULL", "stale": "TRUE"}


def _values(dialect: str, row: str) -> dict[str, str]:
    week, month = WEEK[dialect]
    values = {"case_id": "R.id", **COPIED, "week": week, "month": month, **STALE}
    return {name: sql.replace("R.", row) for name, sql in values.items()}


def _upsert(dialect: str) -> str:
    values = _values(dialect, "NEW.")
    columns = [*values, "version"]
    updates = [f"{name} = excluded.{name}" for name in values if name != "case_id"]
    updates.append("version = case_stats.version + 1")
    return (f"INSERT INTO case_stats ({', '.join(columns)}) "
            f"VALUES ({', '.join(values.values())}, 0) "
            f"ON CONFLICT (case_id) DO UPDATE SET {', '.join(updates)}")


def upgrade() -> None:
    # Fixed-width columns first: PostgreSQL reaches them without walking the text.
    op.create_table(
        "case_stats",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("fresh_from", sa.Float(), nullable=True),
        sa.Column("fresh_until", sa.Float(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("asn", sa.Integer(), nullable=True),
        sa.Column("route_hotline_id", sa.Integer(), nullable=True),
        sa.Column("reappeared_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("removal_bin", sa.SmallInteger(), nullable=True),
        sa.Column("notice_bin", sa.SmallInteger(), nullable=True),
        sa.Column("ack_bin", sa.SmallInteger(), nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("noticed", sa.Boolean(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("route_kind", sa.String(length=20), nullable=True),
        sa.Column("week", sa.String(length=10), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=True),
        sa.Column("classification", sa.String(length=100), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("tld", sa.String(length=63), nullable=True),
        sa.Column("chase_step", sa.String(length=32), nullable=True),
        sa.Column("cdn", sa.String(length=100), nullable=True),
        sa.Column("registrar", sa.String(length=200), nullable=True),
        sa.Column("as_name", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_stats")),
    )
    op.create_index(op.f("ix_case_stats_confirmed_at"), "case_stats", ["confirmed_at"])
    op.create_index(op.f("ix_case_stats_country"), "case_stats", ["country"])
    op.create_index(op.f("ix_case_stats_fresh_from"), "case_stats", ["fresh_from"])
    op.create_index(op.f("ix_case_stats_fresh_until"), "case_stats", ["fresh_until"])
    op.create_index(op.f("ix_case_stats_stale"), "case_stats", ["case_id"],
                    sqlite_where=sa.text("stale"), postgresql_where=sa.text("stale"))
    dialect = op.get_bind().dialect.name
    watched = ", ".join(WATCHED)
    changed = " OR ".join(
        f"OLD.{name} IS DISTINCT FROM NEW.{name}" if dialect == "postgresql"
        else f"OLD.{name} IS NOT NEW.{name}" for name in WATCHED)
    if dialect == "postgresql":
        op.execute("CREATE FUNCTION case_stats_copy() RETURNS trigger LANGUAGE plpgsql "
                   f"AS $$\nBEGIN\n  {_upsert(dialect)};\n  RETURN NULL;\nEND\n$$")
        op.execute("CREATE TRIGGER case_stats_insert AFTER INSERT ON cases "
                   "FOR EACH ROW EXECUTE FUNCTION case_stats_copy()")
        op.execute(f"CREATE TRIGGER case_stats_update AFTER UPDATE OF {watched} ON cases "
                   f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION case_stats_copy()")
        op.execute("CREATE FUNCTION case_stats_delete() RETURNS trigger LANGUAGE plpgsql "
                   "AS $$\nBEGIN\n  DELETE FROM case_stats WHERE case_id = OLD.id;\n"
                   "  RETURN NULL;\nEND\n$$")
        op.execute("CREATE TRIGGER case_stats_delete AFTER DELETE ON cases "
                   "FOR EACH ROW EXECUTE FUNCTION case_stats_delete()")
        # The breakdown by network groups by (asn, as_name): without this the planner
        # multiplies their distinct counts and will not aggregate in parallel workers.
        op.execute("CREATE STATISTICS case_stats_asn_name (ndistinct) ON asn, as_name "
                   "FROM case_stats")
    else:
        op.execute(f"CREATE TRIGGER case_stats_insert AFTER INSERT ON cases "
                   f"BEGIN {_upsert(dialect)}; END")
        op.execute(f"CREATE TRIGGER case_stats_update AFTER UPDATE OF {watched} ON cases "
                   f"WHEN {changed} BEGIN {_upsert(dialect)}; END")
        op.execute("CREATE TRIGGER case_stats_delete AFTER DELETE ON cases "
                   "BEGIN DELETE FROM case_stats WHERE case_id = OLD.id; END")
    values = _values(dialect, "cases.")
    op.execute(f"INSERT INTO case_stats ({', '.join(values)}, version) "
               f"SELECT {', '.join(values.values())}, 0 FROM cases")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS case_stats_asn_name")
        for name in ("case_stats_insert", "case_stats_update", "case_stats_delete"):
            op.execute(f"DROP TRIGGER {name} ON cases")
        op.execute("DROP FUNCTION case_stats_copy()")
        op.execute("DROP FUNCTION case_stats_delete()")
    else:
        for name in ("case_stats_insert", "case_stats_update", "case_stats_delete"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("case_stats")
