"""statistics: group columns copied from the facts, the acknowledgement clock, indexes

Cases get the network's name, the registrar, the CDN and the TLD as columns (the
statistics GROUP BY them; nttd.cases.store_facts keeps them), and acknowledged_at
(nttd.cases.report_status sets it). Existing cases are filled in from their facts
and from their 'reported_acknowledged' events.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import nttd.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
# The statistics' windows (since/until, and week/month trends) and the filters and
# groups not indexed yet (country and the partner's hotline already are).
INDEXES = ["confirmed_at", "asn", "registrar", "classification"]


def _text(value: Any, size: int) -> str | None:
    return value[:size] if isinstance(value, str) and value else None


def _section(facts: Any, name: str) -> dict[str, Any]:
    value = facts.get(name) if isinstance(facts, dict) else None
    return value if isinstance(value, dict) else {}


def _tld(host: str | None) -> str | None:
    # As nttd.cases.facts.tld_of at this revision (a migration does not import the app).
    if not host or host.startswith("[") or ":" in host:
        return None
    stripped = host.rstrip(".")
    label = stripped.rsplit(".", 1)[-1].lower()
    if not label or label.isdigit() or "." not in stripped:
        return None
    return label[:63]


def _backfill() -> None:
    conn = op.get_bind()
    cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("host", sa.String),
                     sa.column("facts", sa.JSON), sa.column("as_name", sa.String),
                     sa.column("registrar", sa.String), sa.column("cdn", sa.String),
                     sa.column("tld", sa.String))
    update = (sa.update(cases).where(cases.c.id == sa.bindparam("case_id"))
              .values(as_name=sa.bindparam("v_as_name"), registrar=sa.bindparam("v_registrar"),
                      cdn=sa.bindparam("v_cdn"), tld=sa.bindparam("v_tld")))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(cases.c.id, cases.c.host, cases.c.facts)
            .where(cases.c.id > last, cases.c.facts.is_not(None))
            .order_by(cases.c.id).limit(_BATCH)).all()
        if not rows:
            break
        conn.execute(update, [{
            "case_id": row.id,
            "v_as_name": _text(_section(row.facts, "hosting").get("as_name"), 200),
            "v_registrar": _text(_section(row.facts, "registrar").get("name"), 200),
            "v_cdn": _text(_section(row.facts, "cdn").get("name"), 100),
            "v_tld": _tld(row.host),
        } for row in rows])
        last = rows[-1].id
    conn.execute(sa.text(
        "UPDATE cases SET acknowledged_at = (SELECT min(events.at) FROM events "
        "WHERE events.case_id = cases.id AND events.kind = 'reported_acknowledged') "
        "WHERE EXISTS (SELECT 1 FROM events WHERE events.case_id = cases.id "
        "AND events.kind = 'reported_acknowledged')"))


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_at", nttd.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("as_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("registrar", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("cdn", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("tld", sa.String(length=63), nullable=True))
        for column in INDEXES:
            batch_op.create_index(batch_op.f(f"ix_cases_{column}"), [column], unique=False)
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for column in reversed(INDEXES):
            batch_op.drop_index(batch_op.f(f"ix_cases_{column}"))
        batch_op.drop_column("tld")
        batch_op.drop_column("cdn")
        batch_op.drop_column("registrar")
        batch_op.drop_column("as_name")
        batch_op.drop_column("acknowledged_at")
