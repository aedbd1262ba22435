"""The analysts' case list and every role's case page, with hold and release; the
coordinator's list of flagged cases and the form that clears a flag."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from nttd.accounts import hotline_codes
from nttd.api.http import MAX_ID
from nttd.auth import Role
from nttd.cases import (
    PARTNER_STATUSES,
    CaseFilter,
    CaseNotFound,
    CaseStatus,
    InvalidTransition,
    QueryError,
    case_detail,
    clear_flag,
    hold,
    list_cases,
    notice_texts,
    visible_case,
)
from nttd.cases.queries import ROUTES
from nttd.routing import release_case
from nttd.web.base import context, require, services
from nttd.web.render import page

PAGE_SIZE = 50
FILTERS = ("status", "country", "partner", "route", "classification", "host", "flagged")
FLAG_CLEARERS = (Role.ANALYST, Role.COORDINATOR)  # and admins


def case_id_of(request: web.Request) -> int:
    text = request.match_info["case_id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_ID):
        raise web.HTTPNotFound()
    return int(text)


def _flagged(text: str) -> bool | None:
    if text in ("", "any"):
        return None
    if text in ("1", "0"):
        return text == "1"
    raise QueryError("flagged must be 1 or 0")


async def case_list(request: web.Request) -> web.Response:
    """Analysts list every case; a coordinator the cases flagged for it."""
    principal = require(request, Role.ANALYST, Role.COORDINATOR)
    svc = services(request)
    chosen = {name: request.query.get(name, "").strip()[:255] for name in FILTERS}
    page_no = request.query.get("page", "1")
    number = int(page_no) if page_no.isascii() and page_no.isdigit() and len(page_no) < 7 else 1
    number = max(number, 1)
    error = None
    try:
        where = CaseFilter(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE,
                           flagged=_flagged(chosen["flagged"]),
                           **{k: (v or None) for k, v in chosen.items() if k != "flagged"})
    except QueryError as exc:
        error, where = str(exc), CaseFilter(limit=PAGE_SIZE)
    async with svc.read_sessions() as session:
        listed = await list_cases(session, principal, where)
        partners = await hotline_codes(session)
    total = int(listed["total"] or 0)
    kept = {k: v for k, v in chosen.items() if v}

    def link(to: int) -> str:
        return "/cases?" + urlencode({**kept, "page": to})

    return page("cases.html", status=400 if error else 200, **context(
        request, cases=listed["cases"], total=total, chosen=chosen, error=error,
        flag_choice=principal.can(Role.ANALYST),
        statuses=[s.value for s in CaseStatus], routes=ROUTES, partners=partners,
        page_no=number, pages=max(1, -(-total // PAGE_SIZE)),
        prev_link=link(number - 1) if number > 1 else None,
        next_link=link(number + 1) if number * PAGE_SIZE < total else None))


def _flat(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Facts as (path, value) rows, e.g. ("hosting.asn", 64501)."""
    if isinstance(value, dict):
        rows = []
        for key in value:
            if key == "provenance":
                continue
            rows.extend(_flat(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return rows
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return [(prefix, ", ".join(str(v) for v in value) if value else None)]
        rows = []
        for i, item in enumerate(value):
            rows.extend(_flat(item, f"{prefix}[{i}]"))
        return rows
    return [(prefix, value)]


async def case_page(request: web.Request, *, status: int = 200,
                    error: str | None = None) -> web.Response:
    principal = require(request, Role.ANALYST, Role.PARTNER, Role.COORDINATOR)
    svc = services(request)
    async with svc.read_sessions() as session:
        try:
            case = await visible_case(session, principal, case_id_of(request))
        except CaseNotFound:
            raise web.HTTPNotFound() from None
        data = await case_detail(session, case, principal, now=svc.clock())
        texts = await notice_texts(session, principal, case)
    facts = data.get("facts") or {}
    provenance = facts.get("provenance") if isinstance(facts, dict) else None
    return page("case.html", status=status, **context(
        request, case=data, facts=_flat(facts), provenance=provenance or {},
        notices=data.get("notices", []), texts=texts, error=error,
        partner_statuses=PARTNER_STATUSES,
        is_analyst=principal.can(Role.ANALYST), is_partner=principal.role is Role.PARTNER,
        may_clear_flag=principal.can(*FLAG_CLEARERS)))


async def _note(request: web.Request) -> str | None:
    form = await request.post()
    note = str(form.get("note", "")).strip()
    return note[:2000] or None


# What a case action does inside its transaction: (session, svc, case, actor, now, note).
CaseAction = Callable[[Any, Any, Any, str, Any, str | None], Awaitable[None]]


async def _act_on_case(request: web.Request, action: CaseAction) -> web.StreamResponse:
    """An analyst's POST on one case: 303 back to the case, or the page with a 409."""
    principal = require(request, Role.ANALYST)
    svc = services(request)
    note = await _note(request)
    async with svc.sessions() as session, session.begin():
        try:
            case = await visible_case(session, principal, case_id_of(request))
        except CaseNotFound:
            raise web.HTTPNotFound() from None
        try:
            await action(session, svc, case, principal.actor, svc.clock(), note)
        except InvalidTransition as exc:
            error: str | None = str(exc)
        else:
            error = None
    if error is None:  # after the commit
        raise web.HTTPSeeOther(f"/cases/{case.id}")
    return await case_page(request, status=409, error=error)


async def _hold(session: Any, svc: Any, case: Any, actor: str, now: Any,
                note: str | None) -> None:
    hold(session, case, actor=actor, now=now, note=note)


async def _release(session: Any, svc: Any, case: Any, actor: str, now: Any,
                   note: str | None) -> None:
    await release_case(session, svc, case, actor=actor, now=now, note=note)


async def hold_case(request: web.Request) -> web.StreamResponse:
    return await _act_on_case(request, _hold)


async def release(request: web.Request) -> web.StreamResponse:
    return await _act_on_case(request, _release)



async def clear_case_flag(request: web.Request) -> web.StreamResponse:
    """An analyst, coordinator or admin clears the coordinator flag, with a note: 303 to
    the case (a coordinator, who sees only flagged cases, to the flagged list), or the
    case page with a 409 when it is not flagged (nothing changes)."""
    principal = require(request, *FLAG_CLEARERS)
    svc = services(request)
    form = await request.post()
    note = str(form.get("note", "")).strip()[:2000] or None
    if note is None:
        return await case_page(request, status=400, error="a note is needed to clear a flag")
    async with svc.sessions() as session, session.begin():
        try:
            case = await visible_case(session, principal, case_id_of(request))
        except CaseNotFound:
            raise web.HTTPNotFound() from None
        cleared = clear_flag(session, case, actor=principal.actor, now=svc.clock(), note=note)
    if not cleared:
        return await case_page(request, status=409, error="this case is not flagged")
    if principal.can(Role.ANALYST):
        raise web.HTTPSeeOther(f"/cases/{case.id}")
    raise web.HTTPSeeOther("/cases?flagged=1")
