"""HTTP API (JSON, bearer tokens). Thin views: parse, call the domain, render.

Errors are JSON `{"error": "..."}` (plus `problems` for intake): 400 bad request,
401 no or wrong token, 403 wrong role, 404 no such case or not yours, 409 a
status change the lifecycle refuses, 422 invalid URLs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from nttd.api.openapi import OPENAPI
from nttd.auth import Principal, Role, authenticate
from nttd.cases import (
    CaseFilter,
    CaseNotFound,
    IntakeError,
    InvalidTransition,
    QueryError,
    ReportError,
    case_detail,
    case_summary,
    hold,
    list_cases,
    parse_instant,
    parse_submission,
    partner_inbox,
    report_status,
    submit,
    visible_case,
)
from nttd.models import Case
from nttd.routing import OverrideError, override_facts
from nttd.routing import release_case as release_held_case
from nttd.services import Services
from nttd.stats import StatsError, removal_stats

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
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
    async with svc.read_sessions() as session:
        principal = await authenticate(session, token.strip(), now=svc.clock())
    if principal is None:
        return error(401, "invalid or revoked token")
    request[PRINCIPAL] = principal
    try:
        return await handler(request)
    finally:
        if principal.token_id is not None:
            svc.token_usage.seen(principal.token_id, svc.clock())


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


async def get_cases(request: web.Request) -> web.Response:
    principal = require(request, Role.ANALYST)
    svc = request.app[SERVICES]
    try:
        where = CaseFilter.parse(request.query)
    except QueryError as exc:
        return error(400, str(exc))
    async with svc.read_sessions() as session:
        return web.json_response(await list_cases(session, principal, where))


async def _visible_case(request: web.Request, session: AsyncSession) -> Case:
    try:
        return await visible_case(session, principal_of(request), case_id_of(request))
    except CaseNotFound:
        # Someone else's case looks exactly like no case at all.
        raise web.HTTPNotFound(text=json.dumps({"error": "no such case"}),
                               content_type="application/json") from None


async def get_case(request: web.Request) -> web.Response:
    require(request, Role.ANALYST, Role.PARTNER)
    svc = request.app[SERVICES]
    async with svc.read_sessions() as session:
        case = await _visible_case(request, session)
        data = await case_detail(session, case, principal_of(request), now=svc.clock())
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
        try:
            await release_held_case(session, svc, case, actor=principal.actor, now=svc.clock(),
                               note=note)
        except InvalidTransition as exc:
            return error(409, str(exc))
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
        return web.json_response({"cases": await partner_inbox(session, principal)})


async def post_status(request: web.Request) -> web.Response:
    principal = require(request, Role.PARTNER, Role.ANALYST)
    svc = request.app[SERVICES]
    body = await json_body(request)
    if not isinstance(body, dict):
        return error(400, "the body must be a JSON object")
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        return error(400, "'note' must be a string")
    async with svc.sessions() as session, session.begin():
        case = await _visible_case(request, session)
        try:
            report_status(session, case, str(body.get("status")), note=note,
                          actor=principal.actor, now=svc.clock())
        except ReportError as exc:
            return error(400, str(exc))
        except InvalidTransition as exc:
            return error(409, str(exc))
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
    app.router.add_get("/api/v1/cases", get_cases)
    app.router.add_get("/api/v1/cases/{case_id}", get_case)
    app.router.add_post("/api/v1/cases/{case_id}/hold", hold_case)
    app.router.add_post("/api/v1/cases/{case_id}/release", release_case)
    app.router.add_post("/api/v1/cases/{case_id}/status", post_status)
    app.router.add_patch("/api/v1/cases/{case_id}/facts", patch_facts)
    app.router.add_get("/api/v1/inbox", inbox)
    app.router.add_get("/api/v1/stats", stats)
