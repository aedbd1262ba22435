"""HTTP API (JSON, bearer tokens). Thin views: parse, call the domain, render.

Errors are JSON `{"error": "..."}` (plus `problems` for intake): 400 bad request,
401 no or wrong token, 403 wrong role, 404 no such case or not yours, 409 a
status change the lifecycle refuses, 422 invalid URLs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.auth import Principal, Role, authenticate
from nttd.cases import (
    IntakeError,
    hold,
    parse_instant,
    parse_submission,
    record_event,
    release,
    submit,
)
from nttd.lifecycle import CaseStatus, InvalidTransition
from nttd.models import Case
from nttd.openapi import OPENAPI
from nttd.overrides import OverrideError, override_facts
from nttd.resolving import requeue_after_release
from nttd.services import Services
from nttd.stats import StatsError, removal_stats
from nttd.views import case_detail, case_summary

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
PARTNER_STATUSES = ("acknowledged", "notice_sent", "removed", "moved", "not_illegal", "hold")
PUBLIC = {"/api/v1/openapi.json", "/healthz"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC or not request.path.startswith("/api/"):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error(401, "missing bearer token", hint="send Authorization: Bearer TOKEN")
    svc = request.app[SERVICES]
    async with svc.sessions() as session, session.begin():
        principal = await authenticate(session, token.strip(), now=svc.clock())
    if principal is None:
        return error(401, "invalid or revoked token")
    request[PRINCIPAL] = principal
    return await handler(request)


def principal_of(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def require(request: web.Request, *roles: Role) -> Principal:
    principal = principal_of(request)
    if not principal.can(*roles):
        raise web.HTTPForbidden(
            text=json.dumps({"error": f"this needs the role {' or '.join(roles)}"}),
            content_type="application/json")
    return principal


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body is not valid JSON"}),
                                 content_type="application/json") from None


def case_id_of(request: web.Request) -> int:
    try:
        return int(request.match_info["case_id"])
    except ValueError:
        raise web.HTTPNotFound(text=json.dumps({"error": "no such case"}),
                               content_type="application/json") from None


async def create_cases(request: web.Request) -> web.Response:
    principal = require(request, Role.ANALYST)
    svc = request.app[SERVICES]
    body = await json_body(request)
    try:
        submission = parse_submission(body)
        async with svc.sessions() as session, session.begin():
            results = await submit(session, submission, actor=principal.actor,
                                   user_id=principal.user_id, now=svc.clock())
    except IntakeError as exc:
        status = 422 if exc.problems else 400
        return error(status, str(exc), problems=exc.problems)
    return web.json_response(
        {"cases": [{"id": r.id, "url": r.url, "status": r.status, "duplicate_of": r.duplicate_of}
                   for r in results]},
        status=201)


async def list_cases(request: web.Request) -> web.Response:
    require(request, Role.ANALYST)
    svc = request.app[SERVICES]
    query = select(Case).order_by(Case.id.desc())
    status = request.query.get("status")
    if status:
        try:
            query = query.where(Case.status == CaseStatus(status).value)
        except ValueError:
            return error(400, f"unknown status {status!r}")
    try:
        limit = min(int(request.query.get("limit", "100")), 1000)
        offset = max(int(request.query.get("offset", "0")), 0)
    except ValueError:
        return error(400, "limit and offset must be integers")
    async with svc.read_sessions() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        cases = list(await session.scalars(query.limit(limit).offset(offset)))
    return web.json_response({"total": total, "cases": [case_summary(c) for c in cases]})


async def _visible_case(request: web.Request, session: AsyncSession) -> Case:
    principal = principal_of(request)
    case = await session.get(Case, case_id_of(request))
    visible = case is not None and (
        principal.can(Role.ANALYST)
        or (principal.role is Role.PARTNER and case.route_hotline_id is not None
            and case.route_hotline_id == principal.hotline_id)
    )
    if not visible:
        # Someone else's case looks exactly like no case at all.
        raise web.HTTPNotFound(text=json.dumps({"error": "no such case"}),
                               content_type="application/json")
    assert case is not None
    return case


async def get_case(request: web.Request) -> web.Response:
    require(request, Role.ANALYST, Role.PARTNER)
    svc = request.app[SERVICES]
    async with svc.read_sessions() as session:
        case = await _visible_case(request, session)
        data = await case_detail(session, case, now=svc.clock(),
                                 include_notices=principal_of(request).can(Role.ANALYST))
    return web.json_response(data)


async def _note(request: web.Request) -> str | None:
    if not request.can_read_body:
        return None
    body = await json_body(request)
    note = body.get("note") if isinstance(body, dict) else None
    if note is not None and not isinstance(note, str):
        raise web.HTTPBadRequest(text=json.dumps({"error": "'note' must be a string"}),
                                 content_type="application/json")
    return note


async def hold_case(request: web.Request) -> web.Response:
    principal = require(request, Role.ANALYST)
    svc = request.app[SERVICES]
    note = await _note(request)
    async with svc.sessions() as session, session.begin():
        case = await _visible_case(request, session)
        try:
            hold(session, case, actor=principal.actor, now=svc.clock(), note=note)
        except InvalidTransition as exc:
            return error(409, str(exc))
        return web.json_response(case_summary(case))


async def release_case(request: web.Request) -> web.Response:
    principal = require(request, Role.ANALYST)
    svc = request.app[SERVICES]
    note = await _note(request)
    async with svc.sessions() as session, session.begin():
        case = await _visible_case(request, session)
        now = svc.clock()
        try:
            release(session, case, actor=principal.actor, now=now, note=note)
        except InvalidTransition as exc:
            return error(409, str(exc))
        await requeue_after_release(session, svc, case, now=now)
        return web.json_response(case_summary(case))


async def patch_facts(request: web.Request) -> web.Response:
    principal = require(request, Role.ANALYST)
    svc = request.app[SERVICES]
    body = await json_body(request)
    async with svc.sessions() as session:
        async with session.begin():
            case = await _visible_case(request, session)
            try:
                async with session.begin_nested():
                    changes = await override_facts(session, svc, case, body,
                                                   actor=principal.actor, now=svc.clock())
            except OverrideError as exc:
                return error(400, str(exc))
        return web.json_response({"changes": changes, "case": case_summary(case)})


async def inbox(request: web.Request) -> web.Response:
    principal = require(request, Role.PARTNER)
    svc = request.app[SERVICES]
    if principal.hotline_id is None:
        return error(403, "this user belongs to no hotline")
    async with svc.read_sessions() as session:
        cases = list(await session.scalars(
            select(Case).where(Case.route_hotline_id == principal.hotline_id,
                               Case.route_kind == "partner").order_by(Case.id)))
    return web.json_response({"cases": [case_summary(c) for c in cases]})


async def post_status(request: web.Request) -> web.Response:
    principal = require(request, Role.PARTNER, Role.ANALYST)
    svc = request.app[SERVICES]
    body = await json_body(request)
    status = body.get("status") if isinstance(body, dict) else None
    if status not in PARTNER_STATUSES:
        return error(400, f"'status' must be one of {', '.join(PARTNER_STATUSES)}")
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        return error(400, "'note' must be a string")
    async with svc.sessions() as session, session.begin():
        case = await _visible_case(request, session)
        now = svc.clock()
        record_event(session, case.id, f"reported_{status}", actor=principal.actor, now=now,
                     note=note)
        if status == "hold":
            try:
                hold(session, case, actor=principal.actor, now=now, note=note)
            except InvalidTransition as exc:
                return error(409, str(exc))
        elif status in ("removed", "moved") and case.next_check_at is not None:
            case.next_check_at = now  # verify with our own check now
        return web.json_response(case_summary(case))


async def stats(request: web.Request) -> web.Response:
    require(request, Role.COORDINATOR, Role.ANALYST)
    svc = request.app[SERVICES]
    try:
        q = request.query
        since = parse_instant(q["since"], "since") if q.get("since") else None
        until = parse_instant(q["until"], "until") if q.get("until") else None
        async with svc.read_sessions() as session:
            result = await removal_stats(
                session, group_by=request.query.get("group_by", "country"),
                now=svc.clock(), since=since, until=until)
    except (StatsError, IntakeError) as exc:
        return error(400, str(exc))
    return web.json_response(result)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_post("/api/v1/cases", create_cases)
    app.router.add_get("/api/v1/cases", list_cases)
    app.router.add_get("/api/v1/cases/{case_id}", get_case)
    app.router.add_post("/api/v1/cases/{case_id}/hold", hold_case)
    app.router.add_post("/api/v1/cases/{case_id}/release", release_case)
    app.router.add_post("/api/v1/cases/{case_id}/status", post_status)
    app.router.add_patch("/api/v1/cases/{case_id}/facts", patch_facts)
    app.router.add_get("/api/v1/inbox", inbox)
    app.router.add_get("/api/v1/stats", stats)
