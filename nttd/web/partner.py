"""A partner hotline's inbox: the cases routed to it, new ones marked, and its
reports back (acknowledged, notice sent, removed, moved, not illegal, hold), one
by one or for every ticked case at once, through the same `report_status` as the
API. A case of another hotline is no case at all (404)."""

from __future__ import annotations

from aiohttp import web

from nttd.auth import Principal, Role
from nttd.cases import (
    MAX_NOTE,
    PARTNER_STATUSES,
    CaseNotFound,
    InvalidTransition,
    ReportError,
    clean_text,
    inbox_answered,
    partner_inbox,
    report_status,
    visible_case,
)
from nttd.web.base import context, require, services
from nttd.web.render import page


def _partner(request: web.Request) -> Principal:
    principal = require(request, Role.PARTNER)
    if principal.hotline_id is None:
        raise web.HTTPForbidden(text="this user belongs to no hotline")
    return principal


async def inbox(request: web.Request, *, status: int = 200,
                outcomes: list[tuple[int, str]] | None = None,
                error: str | None = None) -> web.Response:
    principal = _partner(request)
    svc = services(request)
    async with svc.read_sessions() as session:
        cases = await partner_inbox(session, principal)
        answered = await inbox_answered(session, principal)
    cases.sort(key=lambda c: (c["id"] in answered, -c["id"]))
    return page("inbox.html", status=status, **context(
        request, cases=cases, answered=answered, statuses=PARTNER_STATUSES,
        outcomes=outcomes or [], error=error))


async def report(request: web.Request) -> web.Response:
    """POST /inbox/report: `status`, `note` and one or more `case_id`."""
    principal = _partner(request)
    svc = services(request)
    form = await request.post()
    status = str(form.get("status", ""))
    try:
        note = clean_text(str(form.get("note", "")), "note", MAX_NOTE)
    except ValueError as exc:
        return await inbox(request, status=400, error=str(exc))
    if status not in PARTNER_STATUSES:
        return await inbox(request, status=400,
                           error=f"Choose a status: {', '.join(PARTNER_STATUSES)}.")
    ids = []
    for value in form.getall("case_id", []):
        text = str(value)
        if not (text.isascii() and text.isdigit() and len(text) <= 10):
            return await inbox(request, status=400, error="A case number is not a number.")
        ids.append(int(text))
    if not ids:
        return await inbox(request, status=400, error="Tick at least one case.")
    outcomes: list[tuple[int, str]] = []
    unique = list(dict.fromkeys(ids))
    for case_id in unique:
        async with svc.sessions() as session, session.begin():
            try:
                case = await visible_case(session, principal, case_id)
                report_status(session, case, status, note=note, actor=principal.actor,
                              now=svc.clock())
            except CaseNotFound:
                if len(unique) == 1:
                    raise web.HTTPNotFound() from None
                outcomes.append((case_id, "no such case in your inbox"))
            except (ReportError, InvalidTransition) as exc:
                outcomes.append((case_id, f"not recorded: {exc}"))
            else:
                outcomes.append((case_id, f"recorded: {status.replace('_', ' ')}"))
    failed = any(not text.startswith("recorded") for _, text in outcomes)
    return await inbox(request, status=409 if failed and len(outcomes) == 1 else 200,
                       outcomes=outcomes)
