"""HTTP API (JSON, bearer tokens). Thin views: parse, call the domain, render.

Errors are JSON `{"error": "..."}` (plus `problems` for intake): 400 bad request,
401 no or wrong token (with `WWW-Authenticate`), 403 wrong role, 404 no such case
or not yours, 405 wrong method, 409 a status change the lifecycle refuses, 413 a
body over the limit, 415 a body that is not JSON, 422 invalid URLs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from nttd.api.http import (
    MAX_ID,
    ApiError,
    error,
    int_param,
    parse_id,
    read_json,
)
from nttd.api.openapi import OPENAPI
from nttd.auth import Principal, Role, authenticate
from nttd.cases import (
    MAX_NOTE,
    MAX_PAGE,
    CaseFilter,
    CaseNotFound,
    IntakeError,
    InvalidTransition,
    QueryError,
    ReportError,
    case_detail,
    case_summary,
    clean_text,
    hold,
    list_cases,
    parse_submission,
    partner_inbox,
    repeated_report,
    report_status,
    submit,
    text_problem,
    visible_case,
)
from nttd.db import ping
from nttd.exchange import MAX_BODY as MAX_EXCHANGE_BODY
from nttd.exchange import SENDER_HEADER, ExchangeRefused, receive_cases
from nttd.models import Case
from nttd.outbox import BounceRefused, handle_bounce
from nttd.routing import OverrideError, override_facts
from nttd.routing import release_case as release_held_case
from nttd.services import Services
from nttd.stats import (
    FILTERS,
    StatsError,
    StatsQuery,
    parse_metrics,
    stats_csv,
    stats_for,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)
HEALTH_TIMEOUT = 2.0  # seconds /healthz waits for the database

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
# The exchange needs no token: the partner's signature is its authentication.
PUBLIC = {"/api/v1/openapi.json", "/healthz", "/api/v1/exchange"}
MAX_TOKEN = 200
MAX_KEY = 255  # characters of an Idempotency-Key

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def unauthorized(message: str, **extra: Any) -> web.Response:
    response = error(401, message, **extra)
    response.headers["WWW-Authenticate"] = 'Bearer realm="nttd"'
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC or not request.path.startswith("/api/"):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return unauthorized("missing bearer token", hint="send Authorization: Bearer TOKEN")
    svc = request.app[SERVICES]
    token = token.strip()
    if len(token) > MAX_TOKEN or text_problem(token, MAX_TOKEN) is not None:
        return unauthorized("invalid or revoked token")
    async with svc.read_sessions() as session:
        principal = await authenticate(session, token, now=svc.clock())
    if principal is None:
        return unauthorized("invalid or revoked token")
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
        raise ApiError(403, f"this needs the role {' or '.join(roles)}")
    return principal


def case_id_of(request: web.Request) -> int:
    return parse_id(request.match_info["case_id"])


async def create_cases(request: web.Request) -> web.Response:
    principal = require(request, Role.ANALYST)
    svc = request.app[SERVICES]
    body = await read_json(request)
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


def _flagged_param(query: Any) -> bool | None:
    text = str(query.get("flagged", "")).strip().lower()
    if not text:
        return None
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise QueryError("flagged must be 1 or 0")


async def get_cases(request: web.Request) -> web.Response:
    principal = require(request, Role.ANALYST, Role.COORDINATOR)
    svc = request.app[SERVICES]
    try:
        where = CaseFilter(
            flagged=_flagged_param(request.query),
            status=request.query.get("status") or None,
            limit=int_param(request.query, "limit", 100, low=1, high=MAX_PAGE),
            offset=int_param(request.query, "offset", 0, low=0, high=MAX_ID))
    except QueryError as exc:
        return error(400, str(exc))
    async with svc.read_sessions() as session:
        return web.json_response(await list_cases(session, principal, where))


async def _visible_case(request: web.Request, session: AsyncSession) -> Case:
    try:
        return await visible_case(session, principal_of(request), case_id_of(request))
    except CaseNotFound:
        # Someone else's case looks exactly like no case at all.
        raise ApiError(404, "no such case") from None


async def get_case(request: web.Request) -> web.Response:
    require(request, Role.ANALYST, Role.PARTNER, Role.COORDINATOR)
    svc = request.app[SERVICES]
    async with svc.read_sessions() as session:
        case = await _visible_case(request, session)
        data = await case_detail(session, case, principal_of(request), now=svc.clock())
    return web.json_response(data)


def _checked_note(body: Any) -> str | None:
    if body is None:
        return None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    try:
        return clean_text(body.get("note"), "note", MAX_NOTE)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


async def _note(request: web.Request) -> str | None:
    return _checked_note(await read_json(request, required=False))


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
    body = await read_json(request)
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
    body = await read_json(request)
    note = _checked_note(body)
    key = request.headers.get("Idempotency-Key")
    if key is not None and (not key.strip() or text_problem(key, MAX_KEY) is not None):
        return error(400, f"'Idempotency-Key' must be 1 to {MAX_KEY} characters")
    async with svc.sessions() as session, session.begin():
        case = await _visible_case(request, session)
        if key is not None and await repeated_report(session, case, actor=principal.actor,
                                                     key=key.strip()):
            return web.json_response(case_summary(case))  # a repeat: applied once already
        try:
            report_status(session, case, str(body.get("status")), note=note,
                          actor=principal.actor, now=svc.clock(),
                          idempotency_key=key.strip() if key else None)
        except ReportError as exc:
            return error(400, str(exc))
        except InvalidTransition as exc:
            return error(409, str(exc))
        return web.json_response(case_summary(case))


BOUNCE_TYPES = ("message/rfc822", "text/plain")


async def post_bounce(request: web.Request) -> web.Response:
    """A bounce (RFC 3464 DSN) as the mail server received it (admin)."""
    require(request, Role.ADMIN)
    svc = request.app[SERVICES]
    raw = await request.read()  # 413 past the application's client_max_size
    if request.content_type not in BOUNCE_TYPES:
        return error(415, "send the bounce as message/rfc822 or text/plain")
    if not raw.strip():
        return error(400, "the body is empty: send the whole bounce message")
    try:
        outcome = await handle_bounce(svc.sessions, svc.settings, raw, now=svc.clock())
    except BounceRefused as exc:
        return error(422, str(exc), reason=exc.kind)
    return web.json_response(outcome.as_json())


async def exchange(request: web.Request) -> web.Response:
    """Another nttd instance's signed webhook: its reports become cases here
    (nttd.exchange.receive_cases; no token, the signature authenticates)."""
    svc = request.app[SERVICES]
    if (request.content_length or 0) > MAX_EXCHANGE_BODY:
        return error(413, f"the body is larger than {MAX_EXCHANGE_BODY} bytes")
    raw = await request.read()
    try:
        received = await receive_cases(
            svc, raw, signature=request.headers.get("X-NTTD-Signature"),
            sender_code=request.headers.get(SENDER_HEADER),
            idempotency_key=request.headers.get("Idempotency-Key"))
    except ExchangeRefused as exc:
        extra = {"problems": exc.problems} if exc.problems else {}
        return error(exc.status, str(exc), **extra)
    return web.json_response(
        {"cases": [{"reference": r.reference, "id": r.case_id} for r in received]},
        status=202)


STATS_PARAMS = ("group_by", "since", "until", *FILTERS, "metrics", "format", "league")
_TRUE, _FALSE = ("true", "1"), ("false", "0", "")


def _wants_csv(request: web.Request) -> bool:
    """format=csv, or no format and an Accept header preferring text/csv to JSON."""
    fmt = request.query.get("format", "")
    if fmt not in ("", "json", "csv"):
        raise ApiError(400, "'format' must be json or csv")
    if fmt:
        return fmt == "csv"
    quality: dict[str, float] = {}
    for part in request.headers.get("Accept", "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    as_csv = quality.get("text/csv", 0.0)
    as_json = max(quality.get(m, 0.0) for m in ("application/json", "application/*", "*/*"))
    return as_csv > 0.0 and as_csv > as_json


async def stats(request: web.Request) -> web.Response:
    require(request, Role.COORDINATOR, Role.ANALYST)
    svc = request.app[SERVICES]
    q = request.query
    unknown = sorted(set(q) - set(STATS_PARAMS))
    if unknown:
        return error(400, f"unknown parameter(s): {', '.join(unknown)[:200]}",
                     allowed=list(STATS_PARAMS))
    repeated = sorted(name for name in set(q) if len(q.getall(name)) > 1)
    if repeated:
        return error(400, f"give each parameter once: {', '.join(repeated)}")
    league = q.get("league", "").lower()
    if league not in _TRUE + _FALSE:
        return error(400, "'league' must be true or false")
    try:
        as_csv = _wants_csv(request)
        metrics = parse_metrics(q.get("metrics"))
        query = StatsQuery.from_params({name: q.get(name)
                                        for name in ("group_by", "since", "until", *FILTERS)})
    except StatsError as exc:
        return error(400, str(exc))
    async with svc.read_sessions() as session:
        result = await stats_for(session, query, now=svc.clock(),
                                 min_group=svc.settings.stats_min_group,
                                 league=league in _TRUE, metrics=metrics)
    if as_csv:
        return web.Response(
            text=stats_csv(result), content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition":
                     f'attachment; filename="nttd-stats-{query.group_by}.csv"'})
    return web.json_response(result)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


async def healthz(request: web.Request) -> web.Response:
    """200 `{"ok": true, "database": "ok"}` while the database answers a `SELECT 1`
    within HEALTH_TIMEOUT; else 503 `{"ok": false, "database": "unreachable: ..."}`
    (the kind of failure only: the details go to the log, not to the public)."""
    svc = request.app[SERVICES]
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await ping(svc.engine)
    except Exception as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
        log.warning("healthz: the database does not answer: %s", exc or reason)
        return web.json_response({"ok": False, "database": f"unreachable: {reason}"},
                                 status=503)
    return web.json_response({"ok": True, "database": "ok"})


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
    app.router.add_post("/api/v1/exchange", exchange)
    app.router.add_get("/api/v1/stats", stats)
    app.router.add_post("/api/v1/bounces", post_bounce)
