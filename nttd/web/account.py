"""Signing in and out, the home page of each role, and changing one's password."""

from __future__ import annotations

from aiohttp import web

from nttd.accounts import SignInFailure, change_own_password, sign_in, sign_out
from nttd.auth import AuthError, Role, create_token, list_tokens, revoke_token
from nttd.cases import record_event
from nttd.web.base import (
    LIMITER,
    LOGIN_COOKIE,
    LOGIN_COOKIE_AGE,
    PASSWORDS,
    SESSION_COOKIE,
    clear_cookie,
    context,
    error_page,
    new_login_token,
    policy,
    require,
    services,
    set_cookie,
    signed_in,
)
from nttd.web.render import page


def login_form(request: web.Request, *, status: int = 200, message: str | None = None,
               username: str = "") -> web.Response:
    token = new_login_token()
    response = page("login.html", status=status,
                    **context(request, login_token=token, message=message, username=username))
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=LOGIN_COOKIE_AGE)
    return response


async def home(request: web.Request) -> web.StreamResponse:
    """The sign-in form, or the signed-in role's home page."""
    me = signed_in(request)
    if me is None:
        return login_form(request)
    # Imported here: the pages import this module's helpers.
    from nttd.web import admin, cases, partner

    role = me.principal.role
    if role is Role.ANALYST:
        return await cases.case_list(request)
    if role is Role.PARTNER:
        return await partner.inbox(request)
    if role is Role.COORDINATOR:
        return await admin.stats_page(request)
    return await admin.users_page(request)


async def login_page(request: web.Request) -> web.StreamResponse:
    """A bookmarked /login: the sign-in form lives at /."""
    raise web.HTTPSeeOther("/")


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


async def login(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    form = await request.post()
    name = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    limiter = request.app[LIMITER]
    keys = [f"account:{name.lower()}", f"address:{_client(request)}"]
    now = svc.clock()
    wait = limiter.retry_after(keys, now)
    if wait is not None:
        seconds = max(1, int(wait.total_seconds()))
        return error_page(request, 429, "Too many failed sign-ins. Wait "
                          f"{(seconds + 59) // 60} minute(s) and try again.",
                          {"Retry-After": str(seconds)})
    async with svc.sessions() as session, session.begin():
        result = await sign_in(session, name, password, now=now, policy=policy(svc),
                               hashing=request.app[PASSWORDS])
    if result.token is None:
        if result.failure is SignInFailure.BAD_CREDENTIALS:
            limiter.failed(keys, now)
        return login_form(request, status=401, username=name[:100],
                          message="The user name or password is not right.")
    limiter.succeeded(keys[0])
    response = web.HTTPSeeOther("/")
    set_cookie(request, response, SESSION_COOKIE, result.token)
    clear_cookie(request, response, LOGIN_COOKIE)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    async with svc.sessions() as session, session.begin():
        await sign_out(session, token)
    response = web.HTTPSeeOther("/")
    clear_cookie(request, response, SESSION_COOKIE)
    raise response


async def account_page(request: web.Request, *, status: int = 200, message: str | None = None,
                       error: str | None = None, new_token: str | None = None) -> web.Response:
    principal = require(request)
    svc = services(request)
    async with svc.read_sessions() as session:
        tokens = await list_tokens(session, principal.user_id)
    return page("account.html", status=status, **context(
        request, message=message, error=error, tokens=tokens, new_token=new_token))


async def new_token(request: web.Request) -> web.Response:
    """An API token for the signed-in user, shown this once."""
    principal = require(request)
    svc = services(request)
    async with svc.sessions() as session, session.begin():
        token = await create_token(session, principal.name, now=svc.clock())
        record_event(session, None, "token_created", actor=principal.actor, now=svc.clock(),
                     user=principal.name)
    return await account_page(request, message="Your new API token, shown this once:",
                              new_token=token)


async def revoke(request: web.Request) -> web.Response:
    principal = require(request)
    svc = services(request)
    text = request.match_info["token_id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise web.HTTPNotFound()
    async with svc.sessions() as session, session.begin():
        done = await revoke_token(session, principal.user_id, int(text), now=svc.clock())
        if done:
            record_event(session, None, "token_revoked", actor=principal.actor,
                         now=svc.clock(), user=principal.name, token_id=int(text))
    if not done:
        raise web.HTTPNotFound()  # not yours, or already revoked
    return await account_page(request, message="The token is revoked.")


async def change_password(request: web.Request) -> web.StreamResponse:
    principal = require(request)
    me = signed_in(request)
    assert me is not None
    svc = services(request)
    form = await request.post()
    new = str(form.get("new_password", ""))
    if new != str(form.get("new_password_again", "")):
        return await account_page(request, status=400, error="The two new passwords differ.")
    try:
        async with svc.sessions() as session, session.begin():
            await change_own_password(session, me, str(form.get("current_password", "")), new,
                                      hashing=request.app[PASSWORDS])
            record_event(session, None, "password_changed", actor=principal.actor,
                         now=svc.clock())
    except AuthError as exc:
        return await account_page(request, status=400, error=str(exc))
    return await account_page(request, message="Your password is changed; your other "
                              "sessions are signed out.")
