"""Intake: a submission of URLs becomes cases, all or nothing.

The URLs are canonicalised before any transaction opens (that is the slow part),
then the new cases and their events are written with one bulk INSERT each, so
that even a 10,000-URL submission holds the database's write lock (SQLite has
one) for a fraction of a second, and a submission is stored whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases.lifecycle import CaseStatus
from nttd.cases.text import LIMITS, clean_text, text_problem
from nttd.models import OPEN_CASE_SQL, Case, Event
from resolvers.urls import MAX_URL_LENGTH, InvalidURL, canonicalize_url

MAX_URLS_PER_REQUEST = 10_000
EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9999, 1, 1, tzinfo=UTC)
EARLIEST_CONFIRMATION = datetime(1990, 1, 1, tzinfo=UTC)  # before the web, nothing to confirm
CLOCK_SKEW = timedelta(minutes=5)  # a confirmation a little ahead of our clock is accepted


class IntakeError(ValueError):
    """The submission is refused as a whole; `problems` says what is wrong where."""

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class Submission:
    urls: tuple[str, ...]
    classification: str | None = None
    content_type: str | None = None
    reference: str | None = None
    confirmed_at: datetime | None = None


@dataclass(frozen=True)
class Submitted:
    id: int
    url: str
    status: str
    duplicate_of: int | None


def parse_submission(body: Any) -> Submission:
    """Validate a JSON body of POST /api/v1/cases (IntakeError when it is wrong)."""
    if not isinstance(body, dict):
        raise IntakeError("the body must be a JSON object")
    urls = body.get("urls")
    if not isinstance(urls, list) or not urls:
        raise IntakeError("'urls' must be a non-empty list of strings")
    if len(urls) > MAX_URLS_PER_REQUEST:
        raise IntakeError(f"at most {MAX_URLS_PER_REQUEST} URLs per request")
    unknown = set(body) - {"urls", "classification", "content_type", "reference", "confirmed_at"}
    if unknown:
        raise IntakeError(f"unknown field(s): {', '.join(sorted(unknown))}")
    fields: dict[str, str | None] = {}
    for name, limit in LIMITS.items():
        try:
            fields[name] = clean_text(body.get(name), name, limit)
        except ValueError as exc:
            raise IntakeError(str(exc)) from None
    confirmed_at = None
    if body.get("confirmed_at") is not None:
        confirmed_at = parse_instant(body["confirmed_at"], "confirmed_at")
    return Submission(
        urls=tuple(u if isinstance(u, str) else repr(u) for u in urls),
        confirmed_at=confirmed_at,
        **fields,
    )


def parse_instant(value: Any, name: str) -> datetime:
    """An ISO-8601 date-time (UTC when it has no zone) between 1970 and 9999."""
    if not isinstance(value, str) or len(value) > 64:
        raise IntakeError(f"'{name}' must be an ISO-8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)  # a time without zone is taken as UTC
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise IntakeError(f"'{name}': {value[:64]!r} is not an ISO-8601 date-time") from None
    if not EARLIEST_INSTANT <= parsed <= LATEST_INSTANT:
        raise IntakeError(f"'{name}' must be between 1970 and 9999")
    return parsed


async def submit(
    session: AsyncSession, submission: Submission, *, actor: str, user_id: int | None,
    now: datetime,
) -> list[Submitted]:
    """Store the new cases of a submission; all or nothing.

    Invalid URLs refuse the whole submission (IntakeError with one problem per
    URL). A URL whose canonical form is already open comes back as a duplicate
    of that case and creates nothing.
    """
    confirmed = submission.confirmed_at
    if confirmed is not None and confirmed > now + CLOCK_SKEW:
        raise IntakeError("'confirmed_at' is in the future")
    if confirmed is not None and confirmed < EARLIEST_CONFIRMATION:
        raise IntakeError("'confirmed_at' is before 1990: not a plausible confirmation")
    canon = []
    problems = []
    for index, raw in enumerate(submission.urls):
        try:
            problem = text_problem(raw, MAX_URL_LENGTH)
            if problem is not None:
                raise InvalidURL(f"the URL must be {problem}")
            canon.append(canonicalize_url(raw))
        except InvalidURL as exc:
            problems.append({"index": index, "url": raw[:MAX_URL_LENGTH], "reason": str(exc)})
    if problems:
        raise IntakeError(f"{len(problems)} invalid URL(s); nothing was stored", problems)
    try:
        async with session.begin_nested():
            return await _store(session, submission, canon, actor, user_id, now)
    except IntegrityError:
        # Another request stored one of these URLs at the same moment: now the
        # duplicate lookup will find it.
        async with session.begin_nested():
            return await _store(session, submission, canon, actor, user_id, now)


async def _store(
    session: AsyncSession, submission: Submission, canon: Sequence[Any], actor: str,
    user_id: int | None, now: datetime,
) -> list[Submitted]:
    keys = {c.url for c in canon}
    open_cases: dict[str, tuple[int, str, str]] = {}  # canonical URL -> (id, url, status)
    for chunk in _chunks(sorted(keys), 500):
        rows = await session.execute(
            select(Case.canonical_url, Case.id, Case.url, Case.status)
            .where(Case.canonical_url.in_(chunk), text(OPEN_CASE_SQL)))
        for canonical_url, case_id, url, status in rows:
            open_cases[canonical_url] = (case_id, url, status)
    new: dict[str, dict[str, Any]] = {}  # canonical URL -> the row of its new case
    for raw, c in zip(submission.urls, canon, strict=True):
        if c.url not in open_cases and c.url not in new:
            new[c.url] = _case_row(raw.strip(), c, submission, user_id, now)
    if new:
        # One executemany (no RETURNING: row by row on SQLite), then the new ids by
        # their canonical URL, unique among open cases.
        await session.execute(insert(_table(Case)), list(new.values()))
        for chunk in _chunks(list(new), 500):
            stored = await session.execute(
                select(Case.canonical_url, Case.id)
                .where(Case.canonical_url.in_(chunk), text(OPEN_CASE_SQL)))
            for canonical_url, case_id in stored:
                open_cases[canonical_url] = (case_id, new[canonical_url]["url"],
                                             CaseStatus.RECEIVED.value)
    results: list[Submitted] = []
    events: list[dict[str, Any]] = []
    created: set[str] = set()
    for raw, c in zip(submission.urls, canon, strict=True):
        case_id, url, status = open_cases[c.url]
        if c.url in new and c.url not in created:
            created.add(c.url)
            events.append(_event_row(case_id, "received", actor, now, url=url))
            results.append(Submitted(case_id, url, status, None))
        else:
            events.append(_event_row(case_id, "duplicate_submitted", actor, now,
                                     url=raw.strip()))
            results.append(Submitted(case_id, url, status, case_id))
    await session.execute(insert(_table(Event)), events)
    return results


def _table(model: type[Case] | type[Event]) -> Table:
    # Core, not the ORM's bulk insert: that one runs row by row when it returns ids.
    return cast(Table, model.__table__)


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _case_row(url: str, c: Any, submission: Submission, user_id: int | None,
              now: datetime) -> dict[str, Any]:
    return {
        "url": url, "canonical_url": c.url, "host": c.host,
        "status": CaseStatus.RECEIVED.value,
        "classification": submission.classification,
        "content_type": submission.content_type,
        "reference": submission.reference,
        "created_by": user_id,
        "confirmed_at": submission.confirmed_at or now,
        "created_at": now, "updated_at": now, "next_resolve_at": now,
        "hold_seconds": 0.0, "resolve_attempts": 0,
        "reappeared_count": 0,
    }


def _event_row(case_id: int, kind: str, actor: str, now: datetime,
               **data: Any) -> dict[str, Any]:
    return {"case_id": case_id, "at": now, "actor": actor, "kind": kind, "data": data}
