"""cases: the statistics' stored durations, kept by triggers (nttd/stats/stored.py)

stats_removal_minutes, stats_notice_minutes and stats_ack_minutes: a clock's duration
in started minutes once it no longer depends on "now" (removed, closed, acknowledged),
NULL while it runs. A trigger recomputes them on every insert and on every update of
a clock column, so no code path can leave them stale; existing cases are filled in.
The expressions are nttd.stats.stored.final_minutes at this revision, written out
(PostgreSQL: over NEW in a BEFORE trigger; SQLite: an UPDATE of the row after it).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INPUTS = ('status', 'confirmed_at', 'updated_at', 'first_notice_at', 'removed_at', 'hold_started_at', 'hold_seconds', 'acknowledged_at', 'stats_removal_minutes', 'stats_notice_minutes', 'stats_ack_minutes')

POSTGRESQL = {
    "stats_removal_minutes": (
        'CASE WHEN (NEW.hold_started_at IS NULL AND (NEW.removed_at IS NOT NULL OR NEW.status'
        " = 'closed')) THEN (CAST(round(((CASE WHEN (NEW.removed_at IS NOT NULL) THEN "
        "date_part('epoch', NEW.removed_at) ELSE date_part('epoch', NEW.updated_at) END - "
        "date_part('epoch', NEW.confirmed_at)) - (coalesce(NEW.hold_seconds, 0.0) + 0.0)) * "
        '1000.0) AS BIGINT) + 59999) / 60000 END'),
    "stats_notice_minutes": (
        'CASE WHEN (NEW.hold_started_at IS NULL AND (NEW.removed_at IS NOT NULL OR NEW.status'
        " = 'closed')) THEN (CAST(round(((CASE WHEN (NEW.removed_at IS NOT NULL) THEN "
        "date_part('epoch', NEW.removed_at) ELSE date_part('epoch', NEW.updated_at) END - "
        "date_part('epoch', NEW.first_notice_at)) - (coalesce(NEW.hold_seconds, 0.0) + 0.0)) "
        '* 1000.0) AS BIGINT) + 59999) / 60000 END'),
    "stats_ack_minutes": (
        'CASE WHEN (NEW.acknowledged_at IS NOT NULL OR NEW.removed_at IS NOT NULL OR '
        "NEW.status = 'closed') THEN (CAST(round((CASE WHEN (NEW.acknowledged_at IS NOT NULL)"
        " THEN date_part('epoch', NEW.acknowledged_at) ELSE CASE WHEN (NEW.removed_at IS NOT "
        "NULL) THEN date_part('epoch', NEW.removed_at) ELSE date_part('epoch', "
        "NEW.updated_at) END END - date_part('epoch', NEW.first_notice_at)) * 1000.0) AS "
        'BIGINT) + 59999) / 60000 END'),
}

SQLITE = {
    "stats_removal_minutes": (
        'CASE WHEN (hold_started_at IS NULL AND (removed_at IS NOT NULL OR status = '
        "'closed')) THEN (CAST(round(((CASE WHEN (removed_at IS NOT NULL) THEN "
        '((julianday(removed_at) - 2440587.5) * 86400.0) ELSE ((julianday(updated_at) - '
        '2440587.5) * 86400.0) END - ((julianday(confirmed_at) - 2440587.5) * 86400.0)) - '
        '(coalesce(hold_seconds, 0.0) + 0.0)) * 1000.0) AS BIGINT) + 59999) / 60000 END'),
    "stats_notice_minutes": (
        'CASE WHEN (hold_started_at IS NULL AND (removed_at IS NOT NULL OR status = '
        "'closed')) THEN (CAST(round(((CASE WHEN (removed_at IS NOT NULL) THEN "
        '((julianday(removed_at) - 2440587.5) * 86400.0) ELSE ((julianday(updated_at) - '
        '2440587.5) * 86400.0) END - ((julianday(first_notice_at) - 2440587.5) * 86400.0)) - '
        '(coalesce(hold_seconds, 0.0) + 0.0)) * 1000.0) AS BIGINT) + 59999) / 60000 END'),
    "stats_ack_minutes": (
        'CASE WHEN (acknowledged_at IS NOT NULL OR removed_at IS NOT NULL OR status = '
        "'closed') THEN (CAST(round((CASE WHEN (acknowledged_at IS NOT NULL) THEN "
        '((julianday(acknowledged_at) - 2440587.5) * 86400.0) ELSE CASE WHEN (removed_at IS '
        'NOT NULL) THEN ((julianday(removed_at) - 2440587.5) * 86400.0) ELSE '
        '((julianday(updated_at) - 2440587.5) * 86400.0) END END - '
        '((julianday(first_notice_at) - 2440587.5) * 86400.0)) * 1000.0) AS BIGINT) + 59999) '
        '/ 60000 END'),
}

_STOPPED = "removed_at IS NOT NULL OR status = 'closed' OR acknowledged_at IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for name in SQLITE:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
    inputs = ", ".join(INPUTS)
    if op.get_bind().dialect.name == "postgresql":
        assignments = "\n".join(f"  NEW.{name} := {sql};" for name, sql in POSTGRESQL.items())
        op.execute("CREATE FUNCTION cases_stats_minutes() RETURNS trigger LANGUAGE plpgsql "
                   f"AS $$\nBEGIN\n{assignments}\n  RETURN NEW;\nEND\n$$")
        op.execute(f"CREATE TRIGGER cases_stats_minutes BEFORE INSERT OR UPDATE OF {inputs} "
                   "ON cases FOR EACH ROW EXECUTE FUNCTION cases_stats_minutes()")
    else:
        assignments = ", ".join(f"{name} = {sql}" for name, sql in SQLITE.items())
        for event in ("INSERT", f"UPDATE OF {inputs}"):
            suffix = event.split()[0].lower()
            op.execute(f"CREATE TRIGGER cases_stats_minutes_{suffix} AFTER {event} ON cases "
                       f"BEGIN UPDATE cases SET {assignments} WHERE id = NEW.id; END")
    # The trigger fills them in.
    op.execute(f"UPDATE cases SET stats_removal_minutes = NULL WHERE {_STOPPED}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER cases_stats_minutes ON cases")
        op.execute("DROP FUNCTION cases_stats_minutes()")
    else:
        op.execute("DROP TRIGGER cases_stats_minutes_insert")
        op.execute("DROP TRIGGER cases_stats_minutes_update")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for name in reversed(list(SQLITE)):
            batch_op.drop_column(name)
