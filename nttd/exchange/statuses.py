"""Status flows back: what happens here to a case another nttd instance sent us is
reported to that instance's `POST /api/v1/cases/{its case id}/status`.

Two worker steps, an outbox in between (nothing is lost while the sender is down):

- `queue_exchange_statuses` looks at the received cases not finished with and queues
  an `ExchangeReport` for each status the case has reached and the sender has not been
  told yet (each status at most once per case, a unique constraint):
    acknowledged  at receipt (the case is in our intake);
    notice_sent   when our first notice (or our route to a partner) for it went out;
    not_illegal   when one of our analysts (or a partner we routed it to) reported it
                  not illegal here (a `reported_not_illegal` event on our case);
    removed       when our checks confirmed removal (then the link is finished);
  a case closed without removal finishes the link too. Not sent back: a law-enforcement
  hold (ours, and confidential), a move or a reappearance (the sender's own re-resolving
  and checks see those for itself).
- `deliver_exchange_reports` POSTs due reports with `Authorization: Bearer
  <status_token>` (the token the sender issued us, from our directory) and
  `Idempotency-Key: exchange-report-<id>`, the same on every attempt: the sender
  records a repeat once (`nttd.cases.repeated_report`), so a report re-sent after a
  crash between its POST and our commit is still applied exactly once there.
  Temporary failures (connection, timeout, 5xx, 408, 429, and 401/403: a token an
  admin can fix) are retried on NTTD_NOTICE_RETRY_SCHEDULE; a 4xx that will not heal
  (the case is not the sender's to us any more, a status it refuses) fails the report
  with an `exchange_report_failed` event on our case.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import Select, and_, exists, func, or_, select

from nttd.cases import CaseStatus, record_event
from nttd.db import claim
from nttd.models import Case, Event, ExchangeLink, ExchangeReport, Hotline
from nttd.services import Services

log = logging.getLogger(__name__)
SYSTEM = "system:exchange"
SCAN_BATCH = 500
DELIVER_BATCH = 20
TIMEOUT = 15.0  # seconds for one status POST
QUEUED, SENT, FAILED = "queued", "sent", "failed"
_TEMPORARY = {401, 403, 408, 425, 429}


class ReportFailed(Exception):
    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


ORDER = ("acknowledged", "notice_sent", "not_illegal", "removed")


def statuses_due(case: Case, *, not_illegal: bool = False) -> tuple[list[str], bool]:
    """The statuses `case` warrants telling its sender, and whether that is all.
    `not_illegal`: someone here reported the case not illegal."""
    due = ["acknowledged"]
    if case.first_notice_at is not None:
        due.append("notice_sent")
    if not_illegal:
        due.append("not_illegal")
    if case.removed_at is not None or case.status == CaseStatus.REMOVED:
        due.append("removed")
    finished = "removed" in due or case.status == CaseStatus.CLOSED
    return due, finished


def _note(status: str, case: Case, hotline_name: str) -> str:
    what = {"acknowledged": "received into our intake",
            "notice_sent": "our notice went out",
            "not_illegal": "assessed here as not illegal",
            "removed": "our checks confirmed removal"}[status]
    return f"{hotline_name}: case NTTD-{case.id}, {what}"


def _owed() -> Select[ExchangeLink, Case]:
    """The links whose case reached a status its sender has not been told (or that are
    finished): a link with nothing new is not even read."""
    told = ExchangeLink.reported
    judged = exists().where(Event.case_id == Case.id, Event.kind == "reported_not_illegal")
    news = or_(~told.contains("acknowledged"),
               and_(Case.first_notice_at.is_not(None), ~told.contains("notice_sent")),
               and_(~told.contains("not_illegal"), judged),
               Case.removed_at.is_not(None),
               Case.status.in_([CaseStatus.REMOVED.value, CaseStatus.CLOSED.value]))
    return (select(ExchangeLink, Case)
            .join(Case, Case.id == ExchangeLink.case_id)
            .join(Hotline, Hotline.id == ExchangeLink.hotline_id)
            .where(ExchangeLink.done.is_(False), Hotline.status_url.is_not(None), news)
            .order_by(ExchangeLink.id))


async def queue_exchange_statuses(svc: Services) -> int:
    """Queue the status reports owed to senders; returns how many were queued."""
    async with svc.read_sessions() as session:
        # Most rounds have nothing to do: find out without taking the write lock.
        if await session.scalar(_owed().with_only_columns(ExchangeLink.id).limit(1)) is None:
            return 0
    now = svc.clock()
    queued = 0
    async with svc.sessions() as session, session.begin():
        me = await session.scalar(select(Hotline.name).where(Hotline.is_self.is_(True)))
        # Several workers on PostgreSQL: each takes links no other one holds (SQLite has
        # one writer and no such clause).
        found = list(await session.execute(
            _owed().limit(SCAN_BATCH).with_for_update(skip_locked=True, of=ExchangeLink)))
        judged = set(await session.scalars(select(Event.case_id).where(
            Event.kind == "reported_not_illegal",
            Event.case_id.in_([case.id for _, case in found])))) if found else set()
        for link, case in found:
            due, finished = statuses_due(case, not_illegal=case.id in judged)
            told = set(filter(None, link.reported.split(",")))
            for status in (s for s in due if s not in told):
                session.add(ExchangeReport(
                    link_id=link.id, status=status, note=_note(status, case, me or "nttd"),
                    state=QUEUED, created_at=now, next_attempt_at=now, attempts=0))
                told.add(status)
                queued += 1
            link.reported = ",".join(s for s in ORDER if s in told)
            if finished:
                link.done = True
    return queued


async def exchange_statuses(svc: Services) -> int:
    """One worker step for both (one database connection at a time): queue what is owed,
    then deliver what is due."""
    return await queue_exchange_statuses(svc) + await deliver_exchange_reports(svc)


async def deliver_exchange_reports(svc: Services, *, limit: int = DELIVER_BATCH) -> int:
    """POST the due status reports to their senders; returns how many were tried."""
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        ids = await claim(
            session, ExchangeReport,
            where=[ExchangeReport.state == QUEUED, ExchangeReport.next_attempt_at <= now],
            order_by=ExchangeReport.id, limit=limit, owner=svc.worker_id, now=now,
            lease_until=now + svc.settings.lease_duration)
    for report_id in ids:
        try:
            await _deliver_one(svc, report_id)
        except Exception as exc:  # one report never stops the round
            log.exception("exchange report %s: delivery step failed", report_id)
            with contextlib.suppress(Exception):
                await _record(svc, report_id, ReportFailed(f"internal error: {exc}"[:500],
                                                           temporary=True))
    return len(ids)


async def _deliver_one(svc: Services, report_id: int) -> None:
    async with svc.read_sessions() as session:
        row = (await session.execute(
            select(ExchangeReport, ExchangeLink, Hotline)
            .join(ExchangeLink, ExchangeLink.id == ExchangeReport.link_id)
            .join(Hotline, Hotline.id == ExchangeLink.hotline_id)
            .where(ExchangeReport.id == report_id))).first()
        if row is None:
            return
        report, link, hotline = row
        if report.state != QUEUED or report.lease_owner != svc.worker_id:
            return
        target = (hotline.status_url, hotline.status_token, link.sender_case_id)
        body = {"status": report.status, "note": report.note}
    status_url, token, case_id = target
    if not status_url or not token or case_id is None:
        await _record(svc, report_id, ReportFailed(
            "the partner has no status_url/status_token in our directory", temporary=True))
        return
    url = f"{status_url.rstrip('/')}/api/v1/cases/{case_id}/status"
    try:
        await _post(svc.http, url, body, token, f"exchange-report-{report_id}")
    except ReportFailed as exc:
        await _record(svc, report_id, exc)
        return
    await _record(svc, report_id, None)


async def _post(http: aiohttp.ClientSession, url: str, body: dict[str, str | None], token: str,
                key: str) -> None:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    try:
        async with http.post(url, json=body, headers=headers, allow_redirects=False,
                             timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as response:
            if 200 <= response.status < 300:
                return
            answer = (await response.content.read(2048)).decode("utf-8", "replace").strip()
            temporary = response.status >= 500 or response.status in _TEMPORARY
            raise ReportFailed(f"{url} answered {response.status}: {answer[:300]}",
                               temporary=temporary)
    except ReportFailed:
        raise
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        raise ReportFailed(f"status URL {url!r} is not usable: {exc}", temporary=True) from exc
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise ReportFailed(f"POST to {url} failed: {exc or type(exc).__name__}",
                           temporary=True) from exc


async def _record(svc: Services, report_id: int, failure: ReportFailed | None) -> None:
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        report = await session.get(ExchangeReport, report_id, with_for_update=True)
        if report is None or report.state != QUEUED:
            return
        link = await session.get(ExchangeLink, report.link_id)
        assert link is not None
        report.attempts += 1
        report.lease_owner = report.lease_until = None
        if failure is None:
            report.state, report.sent_at, report.last_error = SENT, now, None
            record_event(session, link.case_id, "exchange_report_sent", actor=SYSTEM,
                         now=now, status=report.status, sender_case_id=link.sender_case_id)
            return
        report.last_error = str(failure)[:1000]
        if failure.temporary:
            report.next_attempt_at = now + _retry_delay(report.attempts, svc)
            log.warning("exchange report %s not delivered (attempt %s), will retry: %s",
                        report_id, report.attempts, failure)
            return
        report.state = FAILED
        log.error("exchange report %s failed: %s", report_id, failure)
        record_event(session, link.case_id, "exchange_report_failed", actor=SYSTEM, now=now,
                     status=report.status, error=report.last_error)


def _retry_delay(attempts: int, svc: Services) -> timedelta:
    schedule = svc.settings.notice_retry_schedule
    return schedule[min(max(attempts, 1), len(schedule)) - 1]


async def next_report_due(svc: Services, now: datetime) -> datetime | None:
    """When the next queued status report falls due after `now`."""
    async with svc.read_sessions() as session:
        return await session.scalar(
            select(func.min(ExchangeReport.next_attempt_at))
            .where(ExchangeReport.state == QUEUED, ExchangeReport.next_attempt_at > now))
