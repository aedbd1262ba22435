"""The web UI's plumbing: who is signed in, the CSRF check, the headers every page
carries, and error pages.

- The session cookie (`nttd_session`) is HttpOnly, SameSite=Strict, Path=/, and
  Secure when the request came over TLS (or through a proxy that says so, when
  NTTD_TRUST_FORWARDED_PROTO is on). The server keeps the session (nttd.accounts).
- Every POST carries the session's CSRF token (form field `csrf_token` or header
  `X-CSRF-Token`), compared with `hmac.compare_digest`; missing, wrong or another
  session's token is a 403 and nothing runs. The sign-in form, which has no
  session yet, uses a double-submit token in its own short-lived cookie; so does
  a provider's answer page under /respond/ (a provider has no account).
- GET never changes state (the one write it may cause is a session's own
  bookkeeping: last seen, or deleting an ended session).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from nttd.accounts import LoginLimiter, SessionPolicy, SignedIn, lookup_session
from nttd.api import SERVICES
from nttd.auth import PasswordHashing, Principal, Role
from nttd.services import Services
from nttd.web.render import page

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_COOKIE = "nttd_session"
LOGIN_COOKIE = "nttd_login_csrf"
LOGIN_COOKIE_AGE = timedelta(hours=1)
RESPOND_PATH = "/respond/"  # a provider's answer page (nttd.web.respond): no session
RESPOND_COOKIE = "nttd_respond_csrf"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
NOT_WEB = ("/api/",)

SIGNED_IN: web.RequestKey[SignedIn] = web.RequestKey("signed_in", SignedIn)
PASSWORDS: web.AppKey[PasswordHashing] = web.AppKey("passwords", PasswordHashing)
LIMITER: web.AppKey[LoginLimiter] = web.AppKey("login_limiter", LoginLimiter)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def policy(svc: Services) -> SessionPolicy:
    return SessionPolicy(idle=svc.settings.session_idle, max_age=svc.settings.session_max)


def is_web(request: web.Request) -> bool:
    return not request.path.startswith(NOT_WEB)


def signed_in(request: web.Request) -> SignedIn | None:
    return request.get(SIGNED_IN)


def is_secure(request: web.Request) -> bool:
    if request.secure:
        return True
    if services(request).settings.trust_forwarded_proto:
        proto = request.headers.get("X-Forwarded-Proto", "")
        return proto.split(",")[0].strip().lower() == "https"
    return False


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str,
               *, max_age: timedelta | None = None) -> None:
    response.set_cookie(name, value, path="/", httponly=True, samesite="Strict",
                        secure=is_secure(request),
                        max_age=int(max_age.total_seconds()) if max_age else None)


def clear_cookie(request: web.Request, response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path="/", httponly=True, samesite="Strict",
                        secure=is_secure(request))


def context(request: web.Request, **values: Any) -> dict[str, Any]:
    """What every page template gets: who is signed in and the CSRF token."""
    me = signed_in(request)
    return {"me": me.principal if me else None,
            "csrf_token": me.csrf_token if me else "",
            "Role": Role, **values}


def error_page(request: web.Request, status: int, message: str,
               headers: dict[str, str] | None = None) -> web.Response:
    return page("error.html", status=status, headers=headers,
                **context(request, code=status, message=message))


def require(request: web.Request, *roles: Role) -> Principal:
    """The signed-in principal with one of `roles` (admins pass every check);
    303 to the sign-in page when nobody is signed in, 403 for another role."""
    me = signed_in(request)
    if me is None:
        raise web.HTTPSeeOther("/")
    if roles and not me.principal.can(*roles):
        raise web.HTTPForbidden(text=f"this page needs the role {' or '.join(roles)}")
    return me.principal


async def _csrf_given(request: web.Request) -> str:
    header = request.headers.get("X-CSRF-Token")
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        value = (await request.post()).get("csrf_token")
        return value if isinstance(value, str) else ""
    return ""


def _same(given: str, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(
        given.encode(), expected.encode())


@web.middleware
async def web_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_web(request) or request.path.startswith("/static/") or request.path == "/healthz":
        return await handler(request)
    try:
        svc = services(request)
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            me = await lookup_session(svc.read_sessions, svc.sessions, token, now=svc.clock(),
                                      policy=policy(svc))
            if me is not None:
                request[SIGNED_IN] = me
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            given = await _csrf_given(request)
            if request.path == "/login":
                expected = request.cookies.get(LOGIN_COOKIE, "")
            elif request.path.startswith(RESPOND_PATH):
                expected = request.cookies.get(RESPOND_COOKIE, "")
            else:
                me = signed_in(request)
                if me is None:
                    raise web.HTTPSeeOther("/")
                expected = me.csrf_token
            if not _same(given, expected):
                return error_page(request, 403, "This form has expired or did not come from "
                                  "this site (its security token is missing or wrong). Go back, "
                                  "reload the page and try again.")
        response = await handler(request)
        if token and signed_in(request) is None and request.path != "/login":
            clear_cookie(request, response, SESSION_COOKIE)  # an ended session's cookie
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        message = {404: "There is nothing here (or nothing you may see).",
                   405: "This page does not take that kind of request."}.get(
            exc.status, exc.text if exc.text and not exc.text.startswith(str(exc.status))
            else exc.reason)
        return error_page(request, exc.status, message, headers)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_page(request, 500, "Something went wrong; it has been logged.")


async def web_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The headers of every answer outside the API (pages, static files, errors)."""
    if not is_web(request):
        return
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"


def new_login_token() -> str:
    return secrets.token_urlsafe(32)
