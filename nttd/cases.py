"""Cases: intake, status changes with their audit events, hold and release.

Every change of a case goes through `transition` (which validates it against the
lifecycle) and leaves an `Event`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.lifecycle import HOLDABLE, CaseStatus, InvalidTransition, check_transition
from nttd.models import OPEN_CASE_SQL, Case, Event
from resolvers.urls import InvalidURL, canonicalize_url

MAX_URLS_PER_REQUEST = 10_000
MAX_FIELD = 200


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


def record_event(
    session: AsyncSession,
    case_id: int | None,
    kind: str,
    *,
    actor: str,
    now: datetime,
    **data: Any,
) -> None:
    session.add(Event(case_id=case_id, at=now, actor=actor, kind=kind, data=data or None))


def transition(
    session: AsyncSession, case: Case, new: CaseStatus, *, actor: str, now: datetime, **data: Any
) -> None:
    old = case.status
    check_transition(old, new)
    case.status = new.value
    case.updated_at = now
    record_event(session, case.id, "status", actor=actor, now=now, old=old, new=new.value, **data)


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
    for name in ("classification", "content_type", "reference"):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_FIELD):
            raise IntakeError(f"'{name}' must be a string of at most {MAX_FIELD} characters")
        fields[name] = value.strip() or None if isinstance(value, str) else None
    confirmed_at = None
    if body.get("confirmed_at") is not None:
        confirmed_at = parse_instant(body["confirmed_at"], "confirmed_at")
    return Submission(
        urls=tuple(u if isinstance(u, str) else repr(u) for u in urls),
        confirmed_at=confirmed_at,
        **fields,
    )


def parse_instant(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise IntakeError(f"'{name}' must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise IntakeError(f"'{name}': {value!r} is not an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # a time without zone is taken as UTC
    return parsed.astimezone(UTC)


async def submit(
    session: AsyncSession, submission: Submission, *, actor: str, user_id: int | None,
    now: datetime,
) -> list[Submitted]:
    """Store the new cases of a submission; all or nothing.

    Invalid URLs refuse the whole submission (IntakeError with one problem per
    URL). A URL whose canonical form is already open comes back as a duplicate
    of that case and creates nothing.
    """
    if submission.confirmed_at is not None and submission.confirmed_at > now:
        raise IntakeError("'confirmed_at' is in the future")
    canon = []
    problems = []
    for index, raw in enumerate(submission.urls):
        try:
            canon.append(canonicalize_url(raw))
        except InvalidURL as exc:
            problems.append({"index": index, "url": raw, "reason": str(exc)})
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
    open_cases = {
        case.canonical_url: case
        for case in (
            await session.scalars(
                select(Case).where(Case.canonical_url.in_(keys), text(OPEN_CASE_SQL))
            )
        )
    }
    results: list[Submitted] = []
    for raw, c in zip(submission.urls, canon, strict=True):
        existing = open_cases.get(c.url)
        if existing is not None:
            record_event(session, existing.id, "duplicate_submitted", actor=actor, now=now,
                         url=raw.strip())
            results.append(Submitted(existing.id, existing.url, existing.status, existing.id))
            continue
        case = Case(
            url=raw.strip(),
            canonical_url=c.url,
            host=c.host,
            status=CaseStatus.RECEIVED.value,
            classification=submission.classification,
            content_type=submission.content_type,
            reference=submission.reference,
            created_by=user_id,
            confirmed_at=submission.confirmed_at or now,
            created_at=now,
            updated_at=now,
            next_resolve_at=now,
            hold_seconds=0.0,
            resolve_attempts=0,
            check_count=0,
            gone_streak=0,
            reappeared_count=0,
        )
        session.add(case)
        await session.flush()
        open_cases[c.url] = case
        record_event(session, case.id, "received", actor=actor, now=now, url=case.url)
        results.append(Submitted(case.id, case.url, case.status, None))
    return results


def hold(session: AsyncSession, case: Case, *, actor: str, now: datetime, note: str | None) -> None:
    if case.status not in HOLDABLE:
        raise InvalidTransition(f"a case that is {case.status} cannot be put on hold")
    before = case.status
    transition(session, case, CaseStatus.HOLD, actor=actor, now=now, note=note)
    case.status_before_hold = before
    case.hold_started_at = now
    case.lease_owner = None
    case.lease_until = None


def release(
    session: AsyncSession, case: Case, *, actor: str, now: datetime, note: str | None
) -> None:
    if case.status != CaseStatus.HOLD or case.hold_started_at is None:
        raise InvalidTransition(f"a case that is {case.status} is not on hold")
    held = (now - case.hold_started_at).total_seconds()
    back = CaseStatus(case.status_before_hold or CaseStatus.RECEIVED)
    if back == CaseStatus.RESOLVING:
        back = CaseStatus.RECEIVED
    transition(session, case, back, actor=actor, now=now, note=note, held_seconds=held)
    case.hold_seconds = (case.hold_seconds or 0.0) + held
    case.hold_started_at = None
    case.status_before_hold = None
    if back in (CaseStatus.RECEIVED,):
        case.next_resolve_at = now
    if case.next_check_at is not None:
        case.next_check_at = now
