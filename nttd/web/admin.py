"""The admin's pages: users, settings, partners (the coordinator's figures: dashboard.py)."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from aiohttp import web

from notices.defang import defang
from nttd.accounts import list_hotlines, list_users, reset_password, set_disabled
from nttd.auth import AuthError, Role, add_user
from nttd.cases import recent_events, record_event, verify_audit_trail
from nttd.partners import PartnerFileError, load_partners, parse_partner_file, partner_entry
from nttd.settings import SETTINGS, Settings, format_duration
from nttd.web.base import PASSWORDS, context, require, services
from nttd.web.dashboard import stats_page as stats_page  # the coordinator's home
from nttd.web.render import page

SECRET_FIELDS = {"secret_key"}
URL_FIELDS = {"smtp_url", "database_url"}  # may carry a password: user:***@


async def users_page(request: web.Request, *, status: int = 200, message: str | None = None,
                     error: str | None = None, password: str | None = None) -> web.Response:
    require(request, Role.ADMIN)
    svc = services(request)
    async with svc.read_sessions() as session:
        users = await list_users(session)
        hotlines = await list_hotlines(session)
    return page("users.html", status=status, **context(
        request, users=users, hotlines=[h.code for h in hotlines], roles=list(Role),
        message=message, error=error, password=password))


def _user_id(request: web.Request) -> int:
    text = request.match_info["user_id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise web.HTTPNotFound()
    return int(text)


async def create_user(request: web.Request) -> web.Response:
    admin = require(request, Role.ADMIN)
    svc = services(request)
    form = await request.post()


    password = secrets.token_urlsafe(15)
    name = str(form.get("name", "")).strip()
    hotline = str(form.get("hotline", "")).strip() or None
    try:
        async with svc.sessions() as session, session.begin():
            await add_user(session, name, str(form.get("role", "")), password=password,
                           hotline_code=hotline, now=svc.clock(), hashing=request.app[PASSWORDS])
            record_event(session, None, "user_added", actor=admin.actor, now=svc.clock(),
                         user=name, role=str(form.get("role", "")), hotline=hotline)
    except AuthError as exc:
        return await users_page(request, status=400, error=str(exc))
    return await users_page(request, message=f"User {name} created. Their password, shown "
                            "this once:", password=password)


async def disable_user(request: web.Request) -> web.Response:
    return await _set_disabled(request, True)


async def enable_user(request: web.Request) -> web.Response:
    return await _set_disabled(request, False)


async def _set_disabled(request: web.Request, disabled: bool) -> web.Response:
    admin = require(request, Role.ADMIN)
    svc = services(request)
    try:
        async with svc.sessions() as session, session.begin():
            user = await set_disabled(session, _user_id(request), disabled)
            name = user.name
            record_event(session, None, "user_disabled" if disabled else "user_enabled",
                         actor=admin.actor, now=svc.clock(), user=name)
    except AuthError:
        raise web.HTTPNotFound() from None
    return await users_page(request, message=f"User {name} is "
                            f"{'disabled and signed out' if disabled else 'enabled'}.")


async def reset_user_password(request: web.Request) -> web.Response:
    admin = require(request, Role.ADMIN)
    svc = services(request)
    try:
        async with svc.sessions() as session, session.begin():
            password = await reset_password(session, _user_id(request),
                                            hashing=request.app[PASSWORDS])
            record_event(session, None, "password_reset", actor=admin.actor,
                         now=svc.clock(), user_id=_user_id(request))
    except AuthError:
        raise web.HTTPNotFound() from None
    return await users_page(request, message="New password, shown this once:",
                            password=password)


def shown_settings(settings: Settings) -> list[dict[str, str]]:
    """Every setting in force, as text, secrets masked."""
    rows = []
    for setting in SETTINGS:
        value = getattr(settings, setting.field)
        if setting.field in SECRET_FIELDS:
            text = "*** (set)" if value else "(not set)"
        else:
            text = _as_text(value)
            if setting.field in URL_FIELDS:
                text = re.sub(r"//([^@/]*):[^@/]*@", r"//\1:***@", text)
        rows.append({"env": setting.env, "value": text, "default": setting.default,
                     "help": setting.help})
    return rows


def _as_text(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join(_as_text(v) if not isinstance(v, tuple) else "=".join(v) for v in value)
    if hasattr(value, "total_seconds"):
        return format_duration(value)
    return str(value)


async def settings_page(request: web.Request) -> web.Response:
    require(request, Role.ADMIN)
    return page("settings.html", **context(
        request, settings=shown_settings(services(request).settings)))


async def audit_page(request: web.Request) -> web.Response:
    """The newest events of the whole trail (defanged text), and on demand the chain
    verified (a read: GET changes nothing)."""
    require(request, Role.ADMIN)
    svc = services(request)
    before_text = request.query.get("before", "")
    before = int(before_text) if before_text.isascii() and before_text.isdigit() \
        and len(before_text) <= 12 else None
    async with svc.read_sessions() as session:
        events = await recent_events(session, limit=100, before=before)
        report = await verify_audit_trail(session) if request.query.get("verify") else None
    rows = [{"id": e.id, "at": e.at, "actor": e.actor, "kind": e.kind, "case_id": e.case_id,
             "sealed": e.seal_seq is not None,
             "data": defang(json.dumps(e.data, ensure_ascii=False), max_len=300)
             if e.data else ""} for e in events]
    older = rows[-1]["id"] if len(rows) == 100 else None
    return page("audit.html", **context(request, events=rows, report=report, older=older))


MAX_PARTNER_FILE = 256 * 1024


async def partners_page(request: web.Request, *, status: int = 200, message: str | None = None,
                        error: str | None = None) -> web.Response:
    require(request, Role.ADMIN)
    svc = services(request)
    async with svc.read_sessions() as session:
        hotlines = [
            {"code": h.code, "name": h.name, "countries": ", ".join(h.countries or []),
             "self": h.is_self, "language": h.language, "email": h.email,
             "webhook": bool(h.webhook_url), "webhook_url": h.webhook_url,
             "status_url": h.status_url, "status_token_set": bool(h.status_token)}
            for h in await list_hotlines(session)]
    return page("partners.html", status=status, **context(
        request, hotlines=hotlines, message=message, error=error))


async def load_partner_file(request: web.Request) -> web.Response:
    """A partner file (TOML, as for `nttd partners load`), uploaded or pasted: all of
    it or, on any error, none of it."""
    admin = require(request, Role.ADMIN)
    svc = services(request)
    form = await request.post()
    upload = form.get("file")
    if isinstance(upload, web.FileField):
        raw = upload.file.read(MAX_PARTNER_FILE + 1)
    else:
        raw = str(form.get("toml", "")).encode()
    if not raw.strip():
        return await partners_page(request, status=400, error="Choose a file or paste one.")
    if len(raw) > MAX_PARTNER_FILE:
        return await partners_page(request, status=400, error="The file is larger than 256 KiB.")
    try:
        entries = parse_partner_file(raw.decode("utf-8-sig"))
        async with svc.sessions() as session, session.begin():
            created, updated = await load_partners(session, entries)
            record_event(session, None, "partners_loaded", actor=admin.actor, now=svc.clock(),
                         created=created, updated=updated, codes=[e.code for e in entries])
    except UnicodeDecodeError:
        return await partners_page(request, status=400, error="The file is not UTF-8 text.")
    except PartnerFileError as exc:
        return await partners_page(request, status=400,
                                   error=f"Nothing was loaded: {exc}.")
    return await partners_page(request, message=f"Loaded: {created} created, "
                               f"{updated} updated.")


async def edit_partner(request: web.Request) -> web.Response:
    """Change one partner's entry (a blank webhook secret keeps the one stored)."""
    admin = require(request, Role.ADMIN)
    svc = services(request)
    code = request.match_info["code"]
    form = await request.post()
    async with svc.sessions() as session, session.begin():
        hotline = next((h for h in await list_hotlines(session) if h.code == code), None)
        if hotline is None:
            raise web.HTTPNotFound()
        item: dict[str, Any] = {
            "code": code, "name": str(form.get("name", "")),
            "countries": [c.strip() for c in str(form.get("countries", "")).split(",")
                          if c.strip()],
            "language": str(form.get("language", "")).strip() or "en",
            "self": hotline.is_self}
        for key in ("email", "webhook_url", "status_url"):
            value = str(form.get(key, "")).strip()
            if value:
                item[key] = value
        # Secrets are never shown: a blank field keeps the one stored.
        secret = str(form.get("webhook_secret", "")).strip() or hotline.webhook_secret
        if secret:
            item["webhook_secret"] = secret
        if "status_url" in item:
            item["status_token"] = (str(form.get("status_token", "")).strip()
                                    or hotline.status_token)
        try:
            entry = partner_entry(item)
            await load_partners(session, [entry])
        except PartnerFileError as exc:
            error: str | None = str(exc)
        else:
            error = None
            record_event(session, None, "partner_edited", actor=admin.actor, now=svc.clock(),
                         code=code, name=entry.name, countries=list(entry.countries),
                         language=entry.language, email=entry.email,
                         webhook=entry.webhook_url is not None,
                         status_url=entry.status_url)
    if error is not None:
        return await partners_page(request, status=400, error=f"Not saved: {error}.")
    return await partners_page(request, message=f"Partner {code} saved.")


