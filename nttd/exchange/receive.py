"""Receiving cases from another nttd instance: `POST /api/v1/exchange`.

The sender is a partner hotline in our directory that runs nttd. It sends us the same
signed webhook it sends any partner (`notices.webhook`): the body is an
`nttd-notice/1` payload, `X-NTTD-Signature: sha256=<HMAC-SHA256 of the raw body>` with
the `webhook_secret` both directories hold for the pair, and `Idempotency-Key` the
same on every attempt. No user account: the signature is the authentication.

Who sent it: the partner named by the optional `X-NTTD-Sender` header (its code in our
directory), else the one partner whose secret verifies the signature. Every candidate
is compared in constant time (`hmac.compare_digest`); a signature two partners' secrets
verify (a shared secret) is refused rather than guessed.

Failures, each with nothing stored (`ExchangeRefused`, an HTTP status and a message):
- 401 no signature; 403 an unknown sender or a signature that does not verify;
- 413 a body over MAX_BODY; 400 a body that is not an nttd-notice/1 payload, or more
  than MAX_REPORTS reports; 422 reports our intake refuses (one problem per report,
  the same URL validation as POST /api/v1/cases).

Each report becomes a case through the same intake as POST /api/v1/cases (`submit`),
keeping the sender's classification, content type and confirmation time (a time ahead
of our clock is taken as now), with the reference "<sender code> <sender reference>".
An `ExchangeLink` keeps the sender, its reference and our case: a report already
linked (a retried webhook, the same reference again) creates nothing and is answered
with the same case, so a retry after a crash never doubles a case. A URL already
open here links to that case.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from notices.render import PAYLOAD_FORMAT
from notices.webhook import verify
from nttd.cases import (
    IntakeError,
    Submitted,
    parse_instant,
    parse_submission,
    submit,
    text_problem,
)
from nttd.models import Case, Event, ExchangeLink, Hotline
from nttd.services import Services

MAX_BODY = 1024 * 1024  # bytes of one exchange request
MAX_REPORTS = 500  # reports in one exchange request
MAX_KEY = 255  # characters of an Idempotency-Key
EARLIEST_CONFIRMATION = datetime(1990, 1, 1, tzinfo=UTC)  # as intake: before the web
SENDER_HEADER = "X-NTTD-Sender"
_REFERENCE = re.compile(r"^NTTD-([0-9]{1,10})$")
_REPORT_FIELDS = ("reference", "url", "classification", "content_type", "confirmed_at")


class ExchangeRefused(Exception):
    """The exchange request is refused as a whole; nothing was stored."""

    def __init__(self, status: int, message: str,
                 problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problems = problems or []


@dataclass(frozen=True)
class Received:
    reference: str  # the sender's
    case_id: int  # ours


def sender_case_id(reference: str) -> int | None:
    """The sender's case id in an nttd reference ("NTTD-42" → 42), else None."""
    match = _REFERENCE.match(reference)
    return int(match.group(1)) if match and 0 < int(match.group(1)) < 2**31 else None


async def find_sender(session: AsyncSession, raw: bytes, signature: str | None,
                      sender_code: str | None) -> Hotline:
    """The partner whose secret signed `raw` (ExchangeRefused 401/403 otherwise)."""
    if not signature:
        raise ExchangeRefused(401, "missing X-NTTD-Signature: sign the body with the "
                                   "webhook_secret our directories share")
    query = select(Hotline).where(Hotline.is_self.is_(False),
                                  Hotline.webhook_secret.is_not(None))
    if sender_code is not None:
        query = query.where(Hotline.code == sender_code)
    candidates = list(await session.scalars(query))
    if sender_code is not None and not candidates:
        raise ExchangeRefused(403, f"unknown sender {sender_code[:64]!r}: not a partner with "
                                   "a webhook_secret in our directory")
    # Every candidate is compared, each in constant time: which one matched does not
    # show in the time taken.
    matches = [h for h in candidates
               if verify(raw, h.webhook_secret or "", signature)]
    if not matches:
        raise ExchangeRefused(403, "the signature does not verify with the secret of "
                                   + ("that partner" if sender_code else "any partner"))
    if len(matches) > 1:
        raise ExchangeRefused(403, "the signature verifies with the secrets of several "
                                   "partners: give each partner its own webhook_secret")
    return matches[0]


def parse_reports(body: Any) -> list[dict[str, Any]]:
    """The reports of an nttd-notice/1 payload (ExchangeRefused 400 when malformed)."""
    if not isinstance(body, dict):
        raise ExchangeRefused(400, "the body must be a JSON object (an nttd-notice/1 payload)")
    if body.get("format") != PAYLOAD_FORMAT:
        raise ExchangeRefused(400, f"'format' must be {PAYLOAD_FORMAT!r}")
    reports = body.get("reports")
    if not isinstance(reports, list) or not reports:
        raise ExchangeRefused(400, "'reports' must be a non-empty list")
    if len(reports) > MAX_REPORTS:
        raise ExchangeRefused(400, f"at most {MAX_REPORTS} reports per request")
    parsed = []
    for index, report in enumerate(reports):
        if not isinstance(report, dict):
            raise ExchangeRefused(400, f"report {index} must be an object")
        reference = report.get("reference")
        if not isinstance(reference, str) or not reference.strip() or text_problem(
                reference, 200) is not None:
            raise ExchangeRefused(400, f"report {index}: 'reference' must be a text of at "
                                       "most 200 characters (the sender's case reference)")
        parsed.append({name: report.get(name) for name in _REPORT_FIELDS}
                      | {"reference": reference.strip()})
    return parsed


async def receive_cases(svc: Services, raw: bytes, *, signature: str | None,
                        sender_code: str | None, idempotency_key: str | None) -> list[Received]:
    """Verify an exchange request and turn its reports into cases (all or nothing)."""
    if len(raw) > MAX_BODY:
        raise ExchangeRefused(413, f"the body is larger than {MAX_BODY} bytes")
    if idempotency_key is not None and (len(idempotency_key) > MAX_KEY
                                        or text_problem(idempotency_key, MAX_KEY)):
        raise ExchangeRefused(400, f"'Idempotency-Key' must be at most {MAX_KEY} characters")
    # Who sent it, and is it a payload at all, before any write lock is taken (on
    # SQLite there is one, and a stranger's request must not hold it).
    async with svc.read_sessions() as session:
        sender_id = (await find_sender(session, raw, signature, sender_code)).id
    reports = parse_reports(_parse(raw))
    for attempt in (1, 2):
        try:
            async with svc.sessions() as session, session.begin():
                sender = await session.get(Hotline, sender_id)
                if sender is None or sender.is_self:  # the directory changed meanwhile
                    raise ExchangeRefused(403, "the sender is no longer a partner here")
                return await _store(session, sender, reports, idempotency_key,
                                    now=svc.clock())
        except IntegrityError:
            # The same report arrived twice at the same moment: the second attempt
            # finds the first one's link.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ExchangeRefused(400, "the JSON is nested too deep") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ExchangeRefused(400, f"the body is not valid JSON: {exc}") from None


async def _store(session: AsyncSession, sender: Hotline, reports: list[dict[str, Any]],
                 idempotency_key: str | None, *, now: datetime) -> list[Received]:
    """Link known references, submit the new ones (one intake call per classification
    and content type, so 500 reports are a handful of bulk statements), then give each
    new case the sender's reference and confirmation time."""
    actor = f"exchange:{sender.code}"
    refs = sorted({r["reference"] for r in reports})
    known: dict[str, int] = {}
    for chunk in (refs[i:i + 500] for i in range(0, len(refs), 500)):
        found = await session.execute(
            select(ExchangeLink.sender_ref, ExchangeLink.case_id).where(
                ExchangeLink.hotline_id == sender.id, ExchangeLink.sender_ref.in_(chunk)))
        known.update({reference: case_id for reference, case_id in found})
    problems: list[dict[str, Any]] = []
    fresh: dict[str, tuple[int, dict[str, Any], datetime | None]] = {}
    for index, report in enumerate(reports):
        if report["reference"] in known or report["reference"] in fresh:
            continue
        try:
            confirmed = _confirmed_at(report["confirmed_at"], now)
        except IntakeError as exc:
            problems.append(_problem(index, report, str(exc)))
            continue
        fresh[report["reference"]] = (index, report, confirmed)
    groups: dict[tuple[Any, Any], list[tuple[int, dict[str, Any], datetime | None]]] = {}
    for item in fresh.values():
        groups.setdefault((item[1]["classification"], item[1]["content_type"]), []).append(item)
    created: dict[str, Submitted] = {}
    for (classification, content_type), items in groups.items():
        try:
            submission = parse_submission({"urls": [item[1]["url"] for item in items],
                                           "classification": classification,
                                           "content_type": content_type})
            submitted = await submit(session, submission, actor=actor, user_id=None, now=now)
        except IntakeError as exc:
            if not exc.problems:
                problems.extend(_problem(i, r, str(exc)) for i, r, _ in items)
            for problem in exc.problems:
                index, report, _ = items[problem["index"]]
                problems.append(_problem(index, report, problem["reason"]))
            continue
        for (_, report, _), result in zip(items, submitted, strict=True):
            created[report["reference"]] = result
    if problems:
        raise ExchangeRefused(422, f"{len(problems)} report(s) refused; nothing was stored",
                              sorted(problems, key=lambda p: p["index"]))
    await _keep_references(session, sender, fresh, created, now)
    links, events = [], []
    for reference, result in created.items():
        links.append({"hotline_id": sender.id, "sender_ref": reference,
                      "sender_case_id": sender_case_id(reference), "case_id": result.id,
                      "idempotency_key": idempotency_key, "received_at": now,
                      # Not an nttd reference: no status can go back.
                      "reported": "", "done": sender_case_id(reference) is None})
        events.append({"case_id": result.id, "at": now, "actor": actor,
                       "kind": "exchange_received",
                       "data": {"sender": sender.code, "sender_reference": reference,
                                "duplicate_of": result.duplicate_of,
                                "idempotency_key": idempotency_key}})
        known[reference] = result.id
    if links:
        await session.execute(insert(ExchangeLink), links)
        await session.execute(insert(Event), events)
    return [Received(r["reference"], known[r["reference"]]) for r in reports]


async def _keep_references(session: AsyncSession, sender: Hotline,
                           fresh: dict[str, tuple[int, dict[str, Any], datetime | None]],
                           created: dict[str, Submitted], now: datetime) -> None:
    """The sender's reference and confirmation time on each case made for it (a URL
    already open here keeps its own case as it is)."""
    rows, done = [], set()
    for reference, result in created.items():
        if result.duplicate_of is not None or result.id in done:
            continue
        done.add(result.id)
        confirmed = fresh[reference][2]
        rows.append({"id": result.id, "reference": f"{sender.code} {reference}"[:200],
                     "confirmed_at": confirmed or now})
    if rows:
        await session.execute(update(Case), rows)


def _confirmed_at(value: Any, now: datetime) -> datetime | None:
    """The sender's confirmation time; one ahead of our clock is taken as now (the
    sender's clock runs ahead: its case was confirmed by now)."""
    if value is None:
        return None
    confirmed = parse_instant(value, "confirmed_at")
    if confirmed < EARLIEST_CONFIRMATION:
        raise IntakeError("'confirmed_at' is before 1990: not a plausible confirmation")
    return min(confirmed, now)


def _problem(index: int, report: dict[str, Any], reason: str) -> dict[str, Any]:
    return {"index": index, "reference": report["reference"],
            "url": str(report["url"])[:2048], "reason": reason}
