"""Settings: one frozen, typed object read from the environment and a TOML file.

Every setting is declared once in `SETTINGS` with its environment variable, its
TOML key, its default and its help text; `docs/settings.md`-style help comes
from the same table (`nttd settings`), and a test fails if a field of `Settings`
is not declared there. Precedence: environment variable > TOML file named by
`NTTD_CONFIG` > default. An invalid value fails at start with a message that
names the variable.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from notices.language import (
    DEFAULT_COUNTRY_LANGUAGES,
    format_country_languages,
    parse_country_languages,
)
from notices.texts import LetterTexts
from nttd.verdicts import Verdict
from resolvers.dns import parse_nameservers

LADDER_PARTIES = ("registrar", "upstream", "cdn", "coordinator")


class SettingsError(ValueError):
    """A setting has an invalid value; the message names the variable."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`500ms`, `2s`, `5m`, `1h`, `1d`, `2w` → timedelta (ValueError otherwise)."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 500ms, 2s, 5m, 1h or 1d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def format_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds * 1000)}ms"


def _duration(text: str) -> timedelta:
    """A duration that may be zero (durations cannot be written negative)."""
    return parse_duration(text)


def _positive_duration(text: str) -> timedelta:
    value = parse_duration(text)
    if value <= timedelta(0):
        raise ValueError("must be positive")
    return value


def _schedule(text: str) -> tuple[timedelta, ...]:
    items = tuple(_positive_duration(part) for part in text.split(",") if part.strip())
    if not items:
        raise ValueError("needs at least one duration")
    return items


def _optional_schedule(text: str) -> tuple[timedelta, ...]:
    """A schedule, or nothing (empty: the caller's computed default applies)."""
    return _schedule(text) if text.strip() else ()


def _dkim_key_file(text: str) -> str | None:
    """The path of a readable PEM RSA private key (checked at start), or None."""
    path = text.strip()
    if not path:
        return None
    from notices.mail import load_dkim_key

    load_dkim_key(path)  # ValueError naming what is wrong with the file
    return path


def _dkim_name(text: str) -> str | None:
    value = text.strip().rstrip(".").lower()
    if not value:
        return None
    if not re.fullmatch(r"[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*", value):
        raise ValueError(f"{value!r} is not a DNS name")
    return value


def _address(text: str) -> str | None:
    value = text.strip()
    if not value:
        return None
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or c in "<>," for c in value):
        raise ValueError(f"{value!r} is not an e-mail address like bounces@hotline.example")
    return value


def _country(text: str) -> str | None:
    text = text.strip().upper()
    if not text:
        return None
    if not re.fullmatch(r"[A-Z]{2}", text):
        raise ValueError(f"{text!r} is not an ISO 3166 alpha-2 country code")
    return text


def _dns_servers(text: str) -> tuple[str, ...]:
    """The entries as written; `parse_nameservers` raises a clear ValueError for a bad one."""
    parse_nameservers(text)
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"{text!r} is not a boolean (use 1 or 0)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError("must be between 0 and 1")
    return value


def _verdicts(text: str) -> tuple[str, ...]:
    names = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    known = {v.value for v in Verdict}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(f"needs verdict names from: {', '.join(sorted(known))}")
    return names


def _smtp_url(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    if not re.match(r"^smtps?://[^/]+", text):
        raise ValueError("must look like smtp://[user:pass@]host:port or smtps://…")
    return text


def _optional(text: str) -> str | None:
    return text.strip() or None


def _country_languages(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(parse_country_languages(text).items())


def _letter_text(text: str) -> str | None:
    """A paragraph for a letter; `\\n` in an environment variable is a line break."""
    return text.replace("\\n", "\n").strip() or None


# The languages nttd ships letters in; each has its legal-basis and signature setting.
LETTER_LANGUAGES = ("en", "de", "fr", "nl", "es")


def _whois_servers(text: str) -> tuple[tuple[str, str], ...]:
    from resolvers.whois import parse_whois_servers

    return tuple(parse_whois_servers(text).items())


def _fact_cache(text: str) -> str:
    value = text.strip().lower()
    if value not in {"auto", "database", "memory"}:
        raise ValueError("must be auto, database or memory")
    return value


def _database_url(text: str) -> str:
    text = text.strip()
    if text.startswith("postgresql://") or text.startswith("postgres://"):
        # The plain libpq form is what people paste; we speak asyncpg.
        text = "postgresql+asyncpg://" + text.split("://", 1)[1]
    if not (text.startswith("sqlite+aiosqlite://") or text.startswith("postgresql+asyncpg://")):
        raise ValueError("must be a sqlite+aiosqlite:/// or postgresql+asyncpg:// URL")
    return text


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
               "sunday")


def _quiet_days(text: str) -> tuple[str, ...]:
    """`sat,sun` (or `Saturday, sunday`) -> ("sat", "sun"), in week order. Empty: none."""
    days: set[int] = set()
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name in WEEKDAYS:
            days.add(WEEKDAYS.index(name))
        elif name in _FULL_NAMES:
            days.add(_FULL_NAMES.index(name))
        else:
            raise ValueError(f"{part.strip()!r} is not a weekday (mon, tue, ... sun)")
    if len(days) == len(WEEKDAYS):
        raise ValueError("every day of the week cannot be quiet")
    return tuple(WEEKDAYS[day] for day in sorted(days))


def _holidays(text: str) -> tuple[date, ...]:
    """`2026-12-25,2026-12-26` -> dates (ISO 8601, YYYY-MM-DD)."""
    out: list[date] = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            out.append(date.fromisoformat(part.strip()))
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not an ISO date (YYYY-MM-DD)") from None
    return tuple(sorted(set(out)))


def _timezone(text: str) -> str:
    """An IANA time zone name (Europe/Amsterdam); empty means UTC."""
    name = text.strip() or "UTC"
    if name.upper() == "UTC":
        return "UTC"  # needs no time zone database
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a known time zone (e.g. Europe/Amsterdam)") from None
    return name


def _ladder(text: str) -> tuple[str, ...]:
    rungs: list[str] = []
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name not in LADDER_PARTIES:
            raise ValueError(f"{name!r} is not one of {', '.join(LADDER_PARTIES)}")
        if name in rungs:
            raise ValueError(f"{name!r} is on the ladder twice")
        rungs.append(name)
    return tuple(rungs)


@dataclass(frozen=True)
class Setting:
    field: str
    env: str
    default: str
    parse: Callable[[str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("database_url", "NTTD_DATABASE_URL", "sqlite+aiosqlite:///nttd.db", _database_url,
            "SQLAlchemy URL of the database (SQLite file or PostgreSQL via asyncpg)."),
    Setting("home_country", "NTTD_HOME_COUNTRY", "", _country,
            "ISO 3166 alpha-2 country of the operating hotline."),
    Setting("dns_servers", "NTTD_DNS_SERVERS", "", _dns_servers,
            "Comma list of DNS resolvers: ip, ip:port, v6 or [v6]:port (port 53 unless "
            "given); empty means the system resolver."),
    Setting("rdap_bootstrap", "NTTD_RDAP_BOOTSTRAP", "", _optional,
            "URL or directory holding IANA dns.json, ipv4.json, ipv6.json, asn.json; "
            "empty means the bundled snapshot."),
    Setting("smtp_url", "NTTD_SMTP_URL", "", _smtp_url,
            "smtp://[user:pass@]host:port (smtps:// for TLS); empty keeps e-mail notices queued."),
    Setting("notice_from", "NTTD_NOTICE_FROM", "", _optional,
            "From address of e-mail notices."),
    Setting("allow_private_targets", "NTTD_ALLOW_PRIVATE_TARGETS", "0", _flag,
            "1 lets loopback/private addresses be resolved and checked (tests, demo)."),
    Setting("recheck_schedule", "NTTD_RECHECK_SCHEDULE", "15m,1h,3h,6h", _schedule,
            "Durations between availability checks; the last one repeats."),
    Setting("removal_confirmations", "NTTD_REMOVAL_CONFIRMATIONS", "3", _positive_int,
            "Gone verdicts in a row needed to confirm removal."),
    Setting("removal_confirm_spacing", "NTTD_REMOVAL_CONFIRM_SPACING", "3m", _duration,
            "Least time between two gone verdicts that count toward removal."),
    Setting("reappearance_schedule", "NTTD_REAPPEARANCE_SCHEDULE", "1h,6h,1d", _schedule,
            "Durations between checks after removal; the last one repeats."),
    Setting("reappearance_window", "NTTD_REAPPEARANCE_WINDOW", "30d", _duration,
            "How long a removed URL keeps being checked for reappearance."),
    Setting("removal_verdicts", "NTTD_REMOVAL_VERDICTS", "gone,dns_gone", _verdicts,
            "Comma list of check verdicts that count toward removal "
            "(e.g. add redirected_away)."),
    Setting("check_concurrency", "NTTD_CHECK_CONCURRENCY", "100", _positive_int,
            "Availability checks one worker process runs at the same time."),
    Setting("check_per_host", "NTTD_CHECK_PER_HOST", "8", _positive_int,
            "Availability checks one worker process runs at the same time against one host."),
    Setting("check_jitter", "NTTD_CHECK_JITTER", "0.1", _fraction,
            "Random extra delay added to each next check, as a fraction of the step (0-1)."),
    Setting("host_backoff_schedule", "NTTD_HOST_BACKOFF_SCHEDULE", "1m,5m,15m,1h", _schedule,
            "Pauses for a host after 3 timeouts in a row, growing while it keeps timing out."),
    Setting("check_retention", "NTTD_CHECK_RETENTION", "90d", _duration,
            "How long after closure a case keeps all its checks; after that only the ones "
            "that mattered (first online, the removal streak, reappearance) are kept."),
    Setting("retention", "NTTD_RETENTION", "365d", _positive_duration,
            "How long after closure a case is kept whole; then it is anonymised: the URL cut "
            "to the registrable domain, facts, checks, notice texts and event contents "
            "dropped, the statistics unchanged."),
    Setting("notice_batch_window", "NTTD_NOTICE_BATCH_WINDOW", "10m", _duration,
            "How long notices to one recipient are gathered before sending."),
    Setting("country_languages", "NTTD_COUNTRY_LANGUAGES",
            format_country_languages(DEFAULT_COUNTRY_LANGUAGES), _country_languages,
            "Comma list of COUNTRY=language: the language of notices to a provider in that "
            "country (a partner hotline's own language setting comes first); a country not "
            "listed, or a language without letters, gets English."),
    *(Setting(f"notice_legal_basis_{lang}", f"NTTD_NOTICE_LEGAL_BASIS_{lang.upper()}", "",
              _letter_text,
              f"The legal-basis paragraph of notices to providers written in '{lang}' "
              "(plain text, \\n for a line break); empty means the built-in one.")
      for lang in LETTER_LANGUAGES),
    *(Setting(f"notice_signature_{lang}", f"NTTD_NOTICE_SIGNATURE_{lang.upper()}", "",
              _letter_text,
              f"The closing of notices written in '{lang}', printed above the hotline's name "
              "and address (plain text, \\n for a line break); empty means the built-in one.")
      for lang in LETTER_LANGUAGES),
    Setting("reminder_schedule", "NTTD_REMINDER_SCHEDULE", "24h,48h,72h", _schedule,
            "Durations after which an unremoved case is chased, then escalated."),
    Setting("escalation_ladder", "NTTD_ESCALATION_LADDER", "registrar,upstream,cdn,coordinator",
            _ladder,
            "Comma list of who is told, one a gap (the last step of NTTD_REMINDER_SCHEDULE) "
            "apart, once the last reminder to a host, registrar or CDN has had no effect: "
            "registrar, upstream (the AS abuse contact), cdn, coordinator (a flag on the case, "
            "no mail). A party that does not exist for a case, or was the first one told, is "
            "skipped; empty: no escalation."),
    Setting("quiet_days", "NTTD_QUIET_DAYS", "", _quiet_days,
            "Comma list of weekdays (mon ... sun) on which no reminder or escalation goes out "
            "(days in NTTD_TIMEZONE): one falling due then waits for 00:00 of the next other "
            "day. First notices are never delayed."),
    Setting("holidays", "NTTD_HOLIDAYS", "", _holidays,
            "Comma list of ISO dates (YYYY-MM-DD) treated like NTTD_QUIET_DAYS."),
    Setting("timezone", "NTTD_TIMEZONE", "UTC", _timezone,
            "IANA time zone (e.g. Europe/Amsterdam) in which NTTD_QUIET_DAYS and NTTD_HOLIDAYS "
            "are days, and a delayed reminder waits for 00:00."),
    Setting("partner_ack_deadline", "NTTD_PARTNER_ACK_DEADLINE", "48h", _positive_duration,
            "A case routed to a partner hotline that has not acknowledged it this long after "
            "the route went out is flagged to the coordinator (once per case)."),
    Setting("check_timeout", "NTTD_CHECK_TIMEOUT", "15s", _positive_duration,
            "Time limit of one availability request (connect, status line and headers)."),
    Setting("rdap_cache_ttl", "NTTD_RDAP_CACHE_TTL", "1d", _positive_duration,
            "How long RDAP answers are reused before they are asked again."),
    Setting("whois_fallback", "NTTD_WHOIS_FALLBACK", "1", _flag,
            "1 asks port-43 WHOIS for the registrar of a domain whose TLD has no RDAP service."),
    Setting("whois_servers", "NTTD_WHOIS_SERVERS", "", _whois_servers,
            "Comma list of tld=host[:port] overriding the built-in WHOIS server table "
            "(a dotted key names a WHOIS server to reach elsewhere, e.g. a referral)."),
    Setting("whois_timeout", "NTTD_WHOIS_TIMEOUT", "10s", _positive_duration,
            "Time limit of one WHOIS exchange (connect, send, read to the end)."),
    Setting("geoip_db", "NTTD_GEOIP_DB", "", _optional,
            "Optional GeoIP database (.mmdb: GeoLite2 or DB-IP Lite country/city). Its "
            "country is recorded beside the registry country and a disagreement is "
            "flagged; routing still follows the registry country."),
    Setting("fact_cache", "NTTD_FACT_CACHE", "auto", _fact_cache,
            "Where facts found out (DNS, Team Cymru, RDAP) are cached: database (shared "
            "by every worker process, with a small in-process cache in front), memory "
            "(each process on its own) or auto: database on PostgreSQL, memory on SQLite "
            "(one process works on it, and its writers queue for one lock)."),
    Setting("reresolve_interval", "NTTD_RERESOLVE_INTERVAL", "1d", _positive_duration,
            "How often open cases are resolved again to detect moves."),
    Setting("notice_retry_schedule", "NTTD_NOTICE_RETRY_SCHEDULE", "", _optional_schedule,
            "Waits between delivery attempts of a notice after a temporary failure; the last "
            "one repeats. Empty (the default): exponential backoff, 1m doubling up to 4h, "
            "each wait up to 20% longer at random (jitter)."),
    Setting("notice_give_up", "NTTD_NOTICE_GIVE_UP", "5d", _positive_duration,
            "How long a recipient may keep failing temporarily (SMTP 4xx at RCPT, a partner's "
            "webhook down) before the notice gives up: for a provider that counts as a "
            "permanent failure of the contact (marked bad, next contact used). Our own SMTP "
            "server being unreachable never gives up."),
    Setting("bad_contact_for", "NTTD_BAD_CONTACT_FOR", "30d", _positive_duration,
            "How long an abuse address that refused a notice (5xx, a bounce, give-up) is "
            "skipped by routing, reminders and escalation."),
    Setting("bounce_address", "NTTD_BOUNCE_ADDRESS", "", _address,
            "Envelope sender (Return-Path) base of e-mail notices: each notice goes out from "
            "<local>+n<id>-<tag>@<domain> of it; empty means NTTD_NOTICE_FROM."),
    Setting("dkim_key_file", "NTTD_DKIM_KEY_FILE", "", _dkim_key_file,
            "PEM RSA private key (PKCS#1) to DKIM-sign e-mail notices with; needs "
            "NTTD_DKIM_SELECTOR and NTTD_DKIM_DOMAIN. Empty: notices are not signed."),
    Setting("dkim_selector", "NTTD_DKIM_SELECTOR", "", _dkim_name,
            "DKIM selector: the public key is the TXT record <selector>._domainkey.<domain>."),
    Setting("dkim_domain", "NTTD_DKIM_DOMAIN", "", _dkim_name,
            "DKIM signing domain (d=), normally the domain of NTTD_NOTICE_FROM."),
    Setting("worker_poll_interval", "NTTD_WORKER_POLL_INTERVAL", "1s", _positive_duration,
            "How often idle workers look for due work."),
    Setting("lease_duration", "NTTD_LEASE_DURATION", "5m", _positive_duration,
            "How long a worker's claim on a piece of work lasts before another may take it."),
    Setting("public_url", "NTTD_PUBLIC_URL", "", _optional,
            "Base URL under which this nttd is reachable (for links in notices)."),
    Setting("secret_key", "NTTD_SECRET_KEY", "", _optional,
            "Secret for signed links; empty derives one per database (set it in production)."),
    Setting("response_link_ttl", "NTTD_RESPONSE_LINK_TTL", "30d", _positive_duration,
            "How long the signed response link in a notice to a host, registrar or CDN "
            "works (it needs NTTD_PUBLIC_URL); an older link gets a 410 page."),
    Setting("session_idle", "NTTD_SESSION_IDLE", "30m", _positive_duration,
            "A web sign-in ends after this long without a request."),
    Setting("session_max", "NTTD_SESSION_MAX", "12h", _positive_duration,
            "A web sign-in ends this long after it began, however busy."),
    Setting("trust_forwarded_proto", "NTTD_TRUST_FORWARDED_PROTO", "0", _flag,
            "1 believes the X-Forwarded-Proto header of a TLS-terminating reverse proxy "
            "(the session cookie is then marked Secure); only behind such a proxy."),
    Setting("stats_min_group", "NTTD_STATS_MIN_GROUP", "10", _positive_int,
            "Statistics: a group with fewer cases than this shows its counts and says "
            "too_few instead of estimates (they would be noise)."),
    Setting("public_stats", "NTTD_PUBLIC_STATS", "0", _flag,
            "1 publishes a summary of the removal times at /public/stats, without sign-in: "
            "aggregates by country and month only, groups below NTTD_STATS_MIN_GROUP left "
            "out. 0 (the default): that page is a 404."),
)


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///nttd.db"
    home_country: str | None = None
    dns_servers: tuple[str, ...] = ()
    rdap_bootstrap: str | None = None
    smtp_url: str | None = None
    notice_from: str | None = None
    allow_private_targets: bool = False
    recheck_schedule: tuple[timedelta, ...] = (
        timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3), timedelta(hours=6))
    removal_confirmations: int = 3
    removal_confirm_spacing: timedelta = timedelta(minutes=3)
    reappearance_schedule: tuple[timedelta, ...] = (
        timedelta(hours=1), timedelta(hours=6), timedelta(days=1))
    reappearance_window: timedelta = timedelta(days=30)
    removal_verdicts: tuple[str, ...] = ("gone", "dns_gone")
    check_concurrency: int = 100
    check_per_host: int = 8
    check_jitter: float = 0.1
    host_backoff_schedule: tuple[timedelta, ...] = (
        timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
    check_retention: timedelta = timedelta(days=90)
    retention: timedelta = timedelta(days=365)
    notice_batch_window: timedelta = timedelta(minutes=10)
    country_languages: tuple[tuple[str, str], ...] = tuple(DEFAULT_COUNTRY_LANGUAGES.items())
    notice_legal_basis_en: str | None = None
    notice_legal_basis_de: str | None = None
    notice_legal_basis_fr: str | None = None
    notice_legal_basis_nl: str | None = None
    notice_legal_basis_es: str | None = None
    notice_signature_en: str | None = None
    notice_signature_de: str | None = None
    notice_signature_fr: str | None = None
    notice_signature_nl: str | None = None
    notice_signature_es: str | None = None
    reminder_schedule: tuple[timedelta, ...] = (
        timedelta(hours=24), timedelta(hours=48), timedelta(hours=72))
    escalation_ladder: tuple[str, ...] = LADDER_PARTIES
    quiet_days: tuple[str, ...] = ()  # mon ... sun
    holidays: tuple[date, ...] = ()
    timezone: str = "UTC"
    partner_ack_deadline: timedelta = timedelta(hours=48)
    check_timeout: timedelta = timedelta(seconds=15)
    rdap_cache_ttl: timedelta = timedelta(days=1)
    whois_fallback: bool = True
    whois_servers: tuple[tuple[str, str], ...] = ()
    whois_timeout: timedelta = timedelta(seconds=10)
    geoip_db: str | None = None
    fact_cache: str = "auto"
    reresolve_interval: timedelta = timedelta(days=1)
    notice_retry_schedule: tuple[timedelta, ...] = ()
    notice_give_up: timedelta = timedelta(days=5)
    bad_contact_for: timedelta = timedelta(days=30)
    bounce_address: str | None = None
    dkim_key_file: str | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    worker_poll_interval: timedelta = timedelta(seconds=1)
    lease_duration: timedelta = timedelta(minutes=5)
    public_url: str | None = None
    secret_key: str | None = None
    response_link_ttl: timedelta = timedelta(days=30)
    session_idle: timedelta = timedelta(minutes=30)
    session_max: timedelta = timedelta(hours=12)
    trust_forwarded_proto: bool = False
    stats_min_group: int = 10
    public_stats: bool = False

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in {"secret_key", "smtp_url", "database_url"} and value:
                value = re.sub(r"//([^@/]*):[^@/]*@", r"//\1:***@", str(value))
                if f.name == "secret_key":
                    value = "***"
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from `environ` (default os.environ) and NTTD_CONFIG."""
        environ = os.environ if environ is None else environ
        raw: dict[str, str] = {}
        config_path = environ.get("NTTD_CONFIG")
        if config_path:
            raw.update(_read_toml(Path(config_path)))
        for setting in SETTINGS:
            if setting.env in environ:
                raw[setting.field] = environ[setting.env]
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            text = raw.get(setting.field, setting.default)
            try:
                values[setting.field] = setting.parse(text)
            except ValueError as exc:
                raise SettingsError(f"{setting.env}: invalid value {text!r}: {exc}") from None
        dkim = {"NTTD_DKIM_KEY_FILE": values["dkim_key_file"],
                "NTTD_DKIM_SELECTOR": values["dkim_selector"],
                "NTTD_DKIM_DOMAIN": values["dkim_domain"]}
        if any(dkim.values()) and not all(dkim.values()):
            missing = ", ".join(name for name, value in dkim.items() if not value)
            raise SettingsError(f"DKIM signing needs all three settings: {missing} not set")
        return cls(**values)

    def letter_texts(self) -> LetterTexts:
        """The legal-basis paragraphs and signatures set per language."""
        def per_language(prefix: str) -> dict[str, str]:
            values = {lang: getattr(self, f"{prefix}_{lang}") for lang in LETTER_LANGUAGES}
            return {lang: text for lang, text in values.items() if text}

        return LetterTexts(legal_basis=per_language("notice_legal_basis"),
                           signature=per_language("notice_signature"))

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _read_toml(path: Path) -> dict[str, str]:
    by_key = {s.field: s for s in SETTINGS} | {s.env: s for s in SETTINGS}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"NTTD_CONFIG: file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"NTTD_CONFIG: {path} is not valid TOML: {exc}") from None
    result: dict[str, str] = {}
    for key, value in data.items():
        setting = by_key.get(key) or by_key.get(key.upper()) or by_key.get(key.lower())
        if setting is None:
            raise SettingsError(f"NTTD_CONFIG: {path}: unknown setting {key!r}")
        if isinstance(value, bool):
            value = "1" if value else "0"
        elif isinstance(value, list):
            value = ",".join(str(v) for v in value)
        result[setting.field] = str(value)
    return result


def settings_markdown() -> str:
    """The settings reference (deploy/SETTINGS.md is this, and a test keeps it so)."""
    lines = [
        "# Settings reference",
        "",
        "Generated from the code by `nttd settings --markdown`; do not edit by hand.",
        "Each setting is an environment variable, or a key in the TOML file that",
        "`NTTD_CONFIG` names (the environment wins).",
        "",
        "| Variable | TOML key | Default | Meaning |",
        "|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "(none)"
        meaning = s.help.replace("|", "\\|")
        lines.append(f"| `{s.env}` | `{s.field}` | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


def settings_help() -> str:
    lines = []
    for s in SETTINGS:
        lines.append(f"{s.env}  (TOML key: {s.field}; default: {s.default or '(none)'})")
        lines.append(f"    {s.help}")
    return "\n".join(lines)
