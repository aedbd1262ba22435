"""case_stats: the statistics' narrow copy of each case, kept by triggers (nttd/stats/fresh.py)

One row per case with what the breakdowns group and filter by, the three clocks' grid
bins and the interval of "now"s for which those bins hold, as the worker's refresh step
last wrote them; and stats_rollup, the sums of those rows per breakdown, clock, group
and bin, which the same refresh keeps in step. Triggers on cases only mark a case's copy
stale (its interval gone, its version bumped) on an insert, a delete, and an update
that changes a column the statistics read; the refresh then copies the case again, and
takes a deleted case's row out of the rollup and away. Existing cases get stale copies.

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

# A change of any of these cases columns marks the copy stale (the stored durations
# stand for the closure time, updated_at, of a closed case).
WATCHED = ("confirmed_at", "country", "asn", "as_name", "registrar", "cdn", "tld",
           "content_type", "classification", "route_kind", "route_hotline_id", "chase_step",
           "reappeared_count", "status", "first_notice_at", "removed_at", "acknowledged_at",
           "hold_started_at", "hold_seconds", "stats_removal_minutes", "stats_notice_minutes",
           "stats_ack_minutes")


def _mark_stale(row: str) -> str:
    """The trigger's one statement: the copy of case `row` (NEW or OLD) is stale, its
    interval gone, its version bumped; a new case gets a stale copy. Nothing else: the
    columns and bins stay what the rollup holds for it until the refresh changes both."""
    return (f"INSERT INTO case_stats (case_id, version, stale) VALUES ({row}.id, 0, TRUE) "
            "ON CONFLICT (case_id) DO UPDATE SET stale = TRUE, fresh_from = NULL, "
            "fresh_until = NULL, version = case_stats.version + 1")


def _group_key() -> list[sa.Column[object]]:
    """The columns naming a group of a breakdown and clock in stats_rollup and stats_lists."""
    return [sa.Column("dim", sa.String(length=16), nullable=False),
            sa.Column("clock", sa.SmallInteger(), nullable=False),
            sa.Column("country", sa.String(length=3), nullable=False),
            sa.Column("key", sa.Text(), nullable=False),
            sa.Column("num", sa.Integer(), nullable=False),
            sa.Column("name", sa.Text(), nullable=False)]


def upgrade() -> None:
    # Fixed-width columns first: PostgreSQL reaches them without walking the text.
    false, zero = sa.text("FALSE"), sa.text("0")
    op.create_table(
        "case_stats",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("fresh_from", sa.Float(), nullable=True),
        sa.Column("fresh_until", sa.Float(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("asn", sa.Integer(), nullable=True),
        sa.Column("route_hotline_id", sa.Integer(), nullable=True),
        sa.Column("reappeared_count", sa.Integer(), nullable=False, server_default=zero),
        sa.Column("version", sa.Integer(), nullable=False, server_default=zero),
        sa.Column("removal_bin", sa.SmallInteger(), nullable=True),
        sa.Column("notice_bin", sa.SmallInteger(), nullable=True),
        sa.Column("ack_bin", sa.SmallInteger(), nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False, server_default=false),
        sa.Column("acknowledged", sa.Boolean(), nullable=False, server_default=false),
        sa.Column("noticed", sa.Boolean(), nullable=False, server_default=false),
        sa.Column("stale", sa.Boolean(), nullable=False, server_default=false),
        sa.Column("rolled", sa.Boolean(), nullable=False, server_default=false),
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
    # The sums of the rolled copies per (breakdown, clock, group, bin): nttd/stats/rollup.py.
    # No NULL in the key (a NULL never conflicts): texts are '' or 'v' + the value,
    # numbers -1 or the value.
    op.create_table(
        "stats_rollup",
        *_group_key(),
        sa.Column("bin", sa.SmallInteger(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("censored", sa.Integer(), nullable=False),
        sa.Column("reappeared_cases", sa.Integer(), nullable=False),
        sa.Column("ever_removed", sa.Integer(), nullable=False),
        sa.Column("reappearances", sa.Integer(), nullable=False),
        # Changed since its group's lists were made (remade by the next refresh).
        sa.Column("touched", sa.Boolean(), server_default=sa.text("TRUE"), nullable=False),
        sa.PrimaryKeyConstraint("dim", "clock", "country", "key", "num", "name", "bin",
                                name=op.f("pk_stats_rollup")),
    )
    # Each group's bins and counts from stats_rollup as comma-separated lists, made again
    # by the refresh after it changed the rollup; stats_lists_state.current says whether
    # they are the rollup's (the statistics read the rollup itself while they are not).
    op.create_table(
        "stats_lists",
        *_group_key(),
        sa.Column("bins", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("censored", sa.Text(), nullable=False),
        sa.Column("reappeared_cases", sa.BigInteger(), nullable=False),
        sa.Column("ever_removed", sa.BigInteger(), nullable=False),
        sa.Column("reappearances", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dim", "clock", "country", "key", "num", "name",
                                name=op.f("pk_stats_lists")),
    )
    op.create_table(
        "stats_lists_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_lists_state")),
    )
    op.execute("INSERT INTO stats_lists_state (id, current) VALUES (1, TRUE)")
    dialect = op.get_bind().dialect.name
    watched = ", ".join(WATCHED)
    changed = " OR ".join(
        f"OLD.{name} IS DISTINCT FROM NEW.{name}" if dialect == "postgresql"
        else f"OLD.{name} IS NOT NEW.{name}" for name in WATCHED)
    if dialect == "postgresql":
        for name, row in (("case_stats_new", "NEW"), ("case_stats_old", "OLD")):
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
                       f"AS $$\nBEGIN\n  {_mark_stale(row)};\n  RETURN NULL;\nEND\n$$")
        op.execute("CREATE TRIGGER case_stats_insert AFTER INSERT ON cases "
                   "FOR EACH ROW EXECUTE FUNCTION case_stats_new()")
        op.execute(f"CREATE TRIGGER case_stats_update AFTER UPDATE OF {watched} ON cases "
                   f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION case_stats_new()")
        op.execute("CREATE TRIGGER case_stats_delete AFTER DELETE ON cases "
                   "FOR EACH ROW EXECUTE FUNCTION case_stats_old()")
        # The breakdown by network groups by (asn, as_name): without this the planner
        # multiplies their distinct counts and will not aggregate in parallel workers.
        op.execute("CREATE STATISTICS case_stats_asn_name (ndistinct) ON asn, as_name "
                   "FROM case_stats")
    else:
        op.execute("CREATE TRIGGER case_stats_insert AFTER INSERT ON cases "
                   f"BEGIN {_mark_stale('NEW')}; END")
        op.execute(f"CREATE TRIGGER case_stats_update AFTER UPDATE OF {watched} ON cases "
                   f"WHEN {changed} BEGIN {_mark_stale('NEW')}; END")
        op.execute("CREATE TRIGGER case_stats_delete AFTER DELETE ON cases "
                   f"BEGIN {_mark_stale('OLD')}; END")
    op.execute("INSERT INTO case_stats (case_id, version, stale) SELECT id, 0, TRUE FROM cases")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS case_stats_asn_name")
        for name in ("case_stats_insert", "case_stats_update", "case_stats_delete"):
            op.execute(f"DROP TRIGGER {name} ON cases")
        op.execute("DROP FUNCTION case_stats_new()")
        op.execute("DROP FUNCTION case_stats_old()")
    else:
        for name in ("case_stats_insert", "case_stats_update", "case_stats_delete"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("stats_lists_state")
    op.drop_table("stats_lists")
    op.drop_table("stats_rollup")
    op.drop_table("case_stats")
