"""Tables. Every step of the pipeline reads its work from here and writes back.

Work is claimed with leases (`lease_owner`, `lease_until`), so a crashed worker's
work is taken over when its lease expires. Side effects go through the `notices`
outbox. `events` is append-only: the audit trail of every change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from nttd.db import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Open = may not be submitted again (the dedup key is unique among open cases).
OPEN_CASE_SQL = "status NOT IN ('removed', 'closed')"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Hotline(Base):
    __tablename__ = "hotlines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_self: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(16), default="en")
    email: Mapped[str | None] = mapped_column(String(320))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    # Another nttd instance (nttd.exchange): where our status reports about the cases it
    # sent us go (its base URL), and the bearer token it issued us for that.
    status_url: Mapped[str | None] = mapped_column(Text)
    status_token: Mapped[str | None] = mapped_column(Text)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    hotline_id: Mapped[int | None] = mapped_column(ForeignKey("hotlines.id"))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in browser (nttd.accounts): the cookie holds a random value, this row
    only its SHA-256, so a copy of the table signs nobody in. Logout deletes the row."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # absolute expiry
    csrf_token: Mapped[str] = mapped_column(String(64))


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)             # as submitted (trimmed)
    canonical_url: Mapped[str] = mapped_column(Text)   # the dedup key
    host: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    status_before_hold: Mapped[str | None] = mapped_column(String(20))
    classification: Mapped[str | None] = mapped_column(String(100), index=True)
    content_type: Mapped[str | None] = mapped_column(String(100))
    reference: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Clocks (see DESIGN.md): all UTC.
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hold_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # The first acknowledgement by the recipient (a partner's "acknowledged" report).
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Resolution and route.
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    asn: Mapped[int | None] = mapped_column(Integer, index=True)
    # Copied from the facts for the statistics' GROUP BY (nttd.cases.store_facts).
    as_name: Mapped[str | None] = mapped_column(String(200))
    registrar: Mapped[str | None] = mapped_column(String(200), index=True)
    cdn: Mapped[str | None] = mapped_column(String(100))
    tld: Mapped[str | None] = mapped_column(String(63))
    route_kind: Mapped[str | None] = mapped_column(String(20))  # partner | direct
    route_hotline_id: Mapped[int | None] = mapped_column(ForeignKey("hotlines.id"), index=True)
    next_resolve_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_reresolve_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    resolve_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Checks: the schedule and the counters a check moves are in `check_schedule`
    # (CheckSchedule, below; read and written through the properties at the end).
    reappeared_count: Mapped[int] = mapped_column(Integer, default=0)
    # Flagged for the network coordinator (nttd.cases.flags): the escalation ladder ran
    # out, or a partner hotline did not acknowledge in time. Cleared by a coordinator.
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    flag_reason: Mapped[str | None] = mapped_column(Text)
    # The last letter of the chase sent while the case was online: "notice",
    # "reminder-<n>", "escalation-<party>" (nttd.outbox); at removal, the step after
    # which the content came down (a breakdown of the statistics).
    chase_step: Mapped[str | None] = mapped_column(String(32))
    # When the partner it was routed to was found not to have acknowledged it within
    # NTTD_PARTNER_ACK_DEADLINE (nttd.exchange.deadline): flagged once per case.
    ack_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The statistics' durations in started minutes once they no longer depend on "now"
    # (removed, closed, acknowledged); NULL while they still grow. Kept by database
    # triggers on every write of the clocks above (migration 0016, nttd.stats.stored):
    # no code sets them, and the statistics count a NULL at "now".
    stats_removal_minutes: Mapped[int | None] = mapped_column(Integer)
    stats_notice_minutes: Mapped[int | None] = mapped_column(Integer)
    stats_ack_minutes: Mapped[int | None] = mapped_column(Integer)
    # Set when retention anonymised the case (nttd.cases.retention).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Leases (resolving and re-resolving; a check's lease is in check_schedule).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Loaded with every case (one extra SELECT per query, not per case): the schedule
    # is read and written in memory, as if its columns were the case's (below).
    check_schedule: Mapped[CheckSchedule | None] = relationship(
        lazy="selectin", cascade="all, delete-orphan")

    __table_args__ = (
        Index(
            "uq_cases_open_canonical_url",
            "canonical_url",
            unique=True,
            sqlite_where=text(OPEN_CASE_SQL),
            postgresql_where=text(OPEN_CASE_SQL),
        ),
    )

    def __init__(self, **kwargs: Any) -> None:
        # Known to have no schedule yet (a new case): never loaded from the database.
        self.check_schedule = kwargs.pop("check_schedule", None)
        super().__init__(**kwargs)

    def _schedule(self) -> CheckSchedule:
        if self.check_schedule is None:
            self.check_schedule = CheckSchedule(check_count=0, gone_streak=0)
        return self.check_schedule

    # The schedule's columns as the case's. Reading a case without a schedule gives the
    # defaults; writing anything but a default creates its schedule. In SQL, use
    # CheckSchedule's columns (joined on case_id).
    @property
    def next_check_at(self) -> datetime | None:
        return self.check_schedule.next_check_at if self.check_schedule else None

    @next_check_at.setter
    def next_check_at(self, value: datetime | None) -> None:
        if value is not None or self.check_schedule is not None:
            self._schedule().next_check_at = value

    @property
    def check_count(self) -> int:
        return self.check_schedule.check_count if self.check_schedule else 0

    @check_count.setter
    def check_count(self, value: int) -> None:
        if value or self.check_schedule is not None:
            self._schedule().check_count = value

    @property
    def gone_streak(self) -> int:
        return self.check_schedule.gone_streak if self.check_schedule else 0

    @gone_streak.setter
    def gone_streak(self, value: int) -> None:
        if value or self.check_schedule is not None:
            self._schedule().gone_streak = value

    @property
    def gone_streak_started_at(self) -> datetime | None:
        return self.check_schedule.gone_streak_started_at if self.check_schedule else None

    @gone_streak_started_at.setter
    def gone_streak_started_at(self, value: datetime | None) -> None:
        if value is not None or self.check_schedule is not None:
            self._schedule().gone_streak_started_at = value

    @property
    def last_gone_at(self) -> datetime | None:
        return self.check_schedule.last_gone_at if self.check_schedule else None

    @last_gone_at.setter
    def last_gone_at(self, value: datetime | None) -> None:
        if value is not None or self.check_schedule is not None:
            self._schedule().last_gone_at = value

    @property
    def first_online_at(self) -> datetime | None:
        return self.check_schedule.first_online_at if self.check_schedule else None

    @first_online_at.setter
    def first_online_at(self, value: datetime | None) -> None:
        if value is not None or self.check_schedule is not None:
            self._schedule().first_online_at = value


class CheckSchedule(Base):
    """When a case is next checked, the lease of the worker checking it, and what its
    checks have counted so far (nttd.cases.schedule, nttd.checks.removal). A row of
    its own, narrow and with two indexes, so a routine check (online, or gone but not
    yet confirming removal) rewrites this and not the wide, much-indexed cases row.
    One row per case that was ever scheduled for checking; none before routing."""

    __tablename__ = "check_schedule"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    check_count: Mapped[int] = mapped_column(Integer, default=0)
    gone_streak: Mapped[int] = mapped_column(Integer, default=0)
    gone_streak_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_online_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notice(Base):
    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # host | cdn | registrar | partner
    recipient_kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))         # email | webhook
    address: Mapped[str] = mapped_column(Text)               # e-mail address or webhook URL
    recipient_name: Mapped[str] = mapped_column(String(200))
    hotline_id: Mapped[int | None] = mapped_column(ForeignKey("hotlines.id"))
    language: Mapped[str] = mapped_column(String(16), default="en")
    # queued | sending | sent | failed | cancelled (nttd.outbox.NoticeStatus)
    status: Mapped[str] = mapped_column(String(20), index=True)
    # Fixed before the first send; a re-send after a crash carries the same one, so
    # the recipient (and the webhook, as Idempotency-Key) can tell it is the same notice.
    message_id: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # notice | reminder (the letter's wording); a reminder names the notice it chases.
    step: Mapped[str] = mapped_column(String(16), default="notice", server_default="notice")
    reminder_of: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    # On a first notice to a provider: reminders queued so far, and when the next is due
    # (None: no more, or its cases are all gone). See nttd.outbox.reminders.
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # On a first notice: how many rungs of NTTD_ESCALATION_LADDER the chase has passed
    # (nttd.outbox.escalation). On every letter of a chase: which one it is, copied to
    # its cases when it is sent (notice, reminder-<n>, escalation-<party>).
    ladder_rung: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    chase_step: Mapped[str | None] = mapped_column(String(32))
    # Delivery (nttd.outbox.delivery): when the first attempt failed (the give-up clock
    # runs from there), and the VERP envelope sender the e-mail goes out from.
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    envelope_from: Mapped[str | None] = mapped_column(String(320))


class NoticeCase(Base):
    __tablename__ = "notice_cases"
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True, index=True)


class Check(Base):
    __tablename__ = "checks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verdict: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str | None] = mapped_column(String(8))
    location: Mapped[str | None] = mapped_column(Text)
    peer_ip: Mapped[str | None] = mapped_column(String(45))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # Why this check outlives the retention after closure: first_online |
    # removal (a gone verdict of the streak that confirmed removal) | reappearance.
    mark: Mapped[str | None] = mapped_column(String(20))


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The hash chain (nttd.cases.audit): set by the sealer shortly after the write.
    seal_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    digest: Mapped[str | None] = mapped_column(String(64))
    chain: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_events_unsealed", "id", postgresql_where=text("seal_seq IS NULL"),
              sqlite_where=text("seal_seq IS NULL")),
    )


class AuditHead(Base):
    """The newest seal of the audit chain: one row, id 1."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seal_seq: Mapped[int] = mapped_column(BigInteger)
    chain: Mapped[str] = mapped_column(String(64))


class FactCacheEntry(Base):
    """One cached fact about the internet, shared by every worker (nttd.factcache).

    Plain facts are keyed like the in-process cache ("dns", "host|A"); a network
    is keyed "net:<start as 8 or 32 hex digits>/<prefix length>", so "the most
    specific network holding an address" is a lookup of exact primary keys.
    """

    __tablename__ = "fact_cache"
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # JSON text
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class NoticeResponse(Base):
    """A provider's answer through the signed link of a notice (nttd.responses): each
    action at most once per notice (the unique constraint makes the link one-time use)."""

    __tablename__ = "notice_responses"
    __table_args__ = (UniqueConstraint("notice_id", "action"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class InstanceSecret(Base):
    """Secrets this installation made for itself, e.g. the key of signed links when
    NTTD_SECRET_KEY is not set ("derives one per database")."""

    __tablename__ = "instance_secrets"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class BadContact(Base):
    """An abuse address that refused a notice (5xx, a bounce, give-up): routing,
    reminders and escalation skip it until `bad_until` (nttd.outbox.bad_contacts)."""

    __tablename__ = "bad_contacts"
    address: Mapped[str] = mapped_column(String(320), primary_key=True)  # lower case
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # smtp | bounce | give_up
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    bad_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    notice_id: Mapped[int | None] = mapped_column(Integer)  # the notice that found it out


class ExchangeLink(Base):
    """A report another nttd instance sent us (POST /api/v1/exchange) and our case for
    it (nttd.exchange): the sender hotline and its reference ("NTTD-<its case id>").
    Unique per sender and reference, so a repeated webhook creates nothing."""

    __tablename__ = "exchange_links"
    __table_args__ = (UniqueConstraint("hotline_id", "sender_ref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotline_id: Mapped[int] = mapped_column(ForeignKey("hotlines.id"))
    sender_ref: Mapped[str] = mapped_column(String(200))
    # The sender's case id (from "NTTD-<id>"): where status reports go; None: none go.
    sender_case_id: Mapped[int | None] = mapped_column(Integer)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Statuses queued for the sender so far (comma list); done: nothing more will be.
    reported: Mapped[str] = mapped_column(String(200), default="")
    done: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class ExchangeReport(Base):
    """One status report owed to the sender of an exchanged case: an outbox row, retried
    with backoff until the sender takes it (each status once per link)."""

    __tablename__ = "exchange_reports"
    __table_args__ = (UniqueConstraint("link_id", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("exchange_links.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    # queued | sent | failed
    state: Mapped[str] = mapped_column(String(10), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CaseStats(Base):
    """The statistics' narrow copy of a case (nttd.stats.fresh): what the breakdowns
    group and filter by, and each clock's grid bin, as the worker's refresh step last
    wrote them, with [fresh_from, fresh_until) the "now"s (epoch seconds) for which the
    bins hold, and `rolled` when they are counted in :class:`StatsRollup`. Database
    triggers (migration 0018) mark the row stale on every write of a column of `cases`
    the statistics read (its interval gone, its version bumped), and give a new case a
    stale row; the refresh copies the case again. The statistics count a row's bins only
    for a "now" in that interval and every other case from `cases`, at "now". No
    application code writes this table but the refresh.
    """

    __tablename__ = "case_stats"
    case_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    week: Mapped[str | None] = mapped_column(String(10))   # nttd.stats.sqltime.week_start
    month: Mapped[str | None] = mapped_column(String(7))   # nttd.stats.sqltime.month_of
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    asn: Mapped[int | None] = mapped_column(Integer)
    as_name: Mapped[str | None] = mapped_column(String(200))
    registrar: Mapped[str | None] = mapped_column(String(200))
    cdn: Mapped[str | None] = mapped_column(String(100))
    tld: Mapped[str | None] = mapped_column(String(63))
    content_type: Mapped[str | None] = mapped_column(String(100))
    classification: Mapped[str | None] = mapped_column(String(100))
    route_kind: Mapped[str | None] = mapped_column(String(20))
    route_hotline_id: Mapped[int | None] = mapped_column(Integer)
    chase_step: Mapped[str | None] = mapped_column(String(32))
    # removed_at, acknowledged_at and first_notice_at IS NOT NULL:
    removed: Mapped[bool] = mapped_column(Boolean, server_default=text("FALSE"))
    acknowledged: Mapped[bool] = mapped_column(Boolean, server_default=text("FALSE"))
    noticed: Mapped[bool] = mapped_column(Boolean, server_default=text("FALSE"))
    reappeared_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    removal_bin: Mapped[int | None] = mapped_column(SmallInteger)
    notice_bin: Mapped[int | None] = mapped_column(SmallInteger)
    ack_bin: Mapped[int | None] = mapped_column(SmallInteger)
    fresh_from: Mapped[float | None] = mapped_column(Float, index=True)
    fresh_until: Mapped[float | None] = mapped_column(Float, index=True)
    stale: Mapped[bool] = mapped_column(Boolean, server_default=text("FALSE"))
    rolled: Mapped[bool] = mapped_column(Boolean, server_default=text("FALSE"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    __table_args__ = (
        Index("ix_case_stats_stale", "case_id", sqlite_where=text("stale"),
              postgresql_where=text("stale")),
    )


class _StatsGroup:
    """The columns naming a group of a breakdown (`dim`) and clock (nttd.stats.rollup)."""

    dim: Mapped[str] = mapped_column(String(16), primary_key=True)
    clock: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    country: Mapped[str] = mapped_column(String(3), primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    num: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)


class StatsRollup(_StatsGroup, Base):
    """The bins of the rolled rows of :class:`CaseStats` added up per breakdown (`dim`),
    clock, group and bin (nttd.stats.rollup): what an unfiltered breakdown reads instead
    of a million rows. Kept by the refresh step in the transaction that changes the rows.
    No NULL in the key: texts are '' (NULL) or 'v' + the value, numbers -1 (NULL) or
    the value."""

    __tablename__ = "stats_rollup"
    bin: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    events: Mapped[int] = mapped_column(Integer)
    censored: Mapped[int] = mapped_column(Integer)
    reappeared_cases: Mapped[int] = mapped_column(Integer)
    ever_removed: Mapped[int] = mapped_column(Integer)
    reappearances: Mapped[int] = mapped_column(Integer)
    # Changed since its group's lists were made: the next remake makes those again. Not
    # indexed: the remake reads the table once, and the upserts stay HOT on PostgreSQL
    # (an index on it made every rollup update write the primary key's index too).
    touched: Mapped[bool] = mapped_column(Boolean, server_default=text("TRUE"))


class StatsLists(_StatsGroup, Base):
    """Each group of :class:`StatsRollup` as one row: its bins, events and censored cases
    as comma-separated lists (in bin order on PostgreSQL) and its other sums. Made again
    by the refresh step after it changed the rollup; :class:`StatsListsState` says
    whether they are current (nttd.stats.rollup)."""

    __tablename__ = "stats_lists"
    bins: Mapped[str] = mapped_column(Text)
    events: Mapped[str] = mapped_column(Text)
    censored: Mapped[str] = mapped_column(Text)
    reappeared_cases: Mapped[int] = mapped_column(BigInteger)
    ever_removed: Mapped[int] = mapped_column(BigInteger)
    reappearances: Mapped[int] = mapped_column(BigInteger)


class StatsListsState(Base):
    """One row: whether :class:`StatsLists` is the rollup's (``current``)."""

    __tablename__ = "stats_lists_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    current: Mapped[bool] = mapped_column(Boolean)
