"""A provider's answer to a notice: `/respond/<signed token>` (nttd.responses).

No account: the signed link is the provider's credential. GET shows the notice's
cases (defanged, never a link) and the actions; it changes nothing, because mail
scanners open the links in a message. The action is a POST with a double-submit
CSRF token (a short-lived cookie set by the GET, checked in nttd.web.base). A
tampered link is a 403 page, an expired one a 410 page; an action taken before
is refused with a 409.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from notices.defang import defang
from nttd.cases import MAX_NOTE, clean_text
from nttd.responses import (
    ACTIONS,
    AlreadyAnswered,
    LinkExpired,
    LinkInvalid,
    NoticeForResponse,
    notice_for_token,
    record_response,
)
from nttd.web.base import LOGIN_COOKIE_AGE, RESPOND_COOKIE, error_page, services, set_cookie
from nttd.web.render import page

LABELS = {"acknowledged": "Acknowledge receipt",
          "removal_reported": "Report the content removed",
          "disputed": "Dispute this notice"}
DONE = {"acknowledged": "Your acknowledgement is recorded. Thank you.",
        "removal_reported": "Your report of removal is recorded. We check the addresses "
                            "now; they count as removed once our own checks find them gone.",
        "disputed": "Your dispute is recorded; an analyst will read it."}
TAMPERED = ("This link is not valid: it was changed or cut short. Use the link exactly as "
            "it appears in our notice, or reply to the notice by e-mail.")
EXPIRED = ("This link has expired. Reply to the notice by e-mail, quoting its reference, "
           "and we will answer.")


async def _load(request: web.Request) -> NoticeForResponse | web.Response:
    svc = services(request)
    token = request.match_info["token"]
    try:
        async with svc.read_sessions() as session:
            return await notice_for_token(session, svc.settings, token, svc.clock())
    except LinkInvalid:
        return error_page(request, 403, TAMPERED)
    except LinkExpired:
        return error_page(request, 410, EXPIRED)


def _page(request: web.Request, found: NoticeForResponse, *, status: int = 200,
          message: str | None = None, error: str | None = None) -> web.Response:
    token = request.cookies.get(RESPOND_COOKIE, "")
    if not (token.isascii() and 32 <= len(token) <= 64):
        token = secrets.token_urlsafe(32)
    cases = [{"reference": f"NTTD-{c.id}", "url_defanged": defang(c.url),
              "status": c.status.replace("_", " ")} for c in found.cases]
    response = page("respond.html", status=status, me=None, csrf_token=token,
                    token=request.match_info["token"], notice=found.notice, cases=cases,
                    actions=[(a, LABELS[a], a in found.answered) for a in ACTIONS],
                    answered=found.answered, message=message, error=error,
                    max_note=MAX_NOTE)
    set_cookie(request, response, RESPOND_COOKIE, token, max_age=LOGIN_COOKIE_AGE)
    return response


async def respond_page(request: web.Request) -> web.Response:
    """GET: the notice's cases and what the provider may answer. Reads only."""
    found = await _load(request)
    if isinstance(found, web.Response):
        return found
    return _page(request, found)


async def respond(request: web.Request) -> web.Response:
    """POST: `action` (acknowledged, removal_reported, disputed) and an optional `note`."""
    found = await _load(request)
    if isinstance(found, web.Response):
        return found
    svc = services(request)
    form = await request.post()
    action = str(form.get("action", ""))
    if action not in ACTIONS:
        return _page(request, found, status=400, error="Choose one of the actions below.")
    try:
        note = clean_text(str(form.get("note", "")), "note", MAX_NOTE)
    except ValueError as exc:
        return _page(request, found, status=400, error=str(exc))
    try:
        async with svc.sessions() as session, session.begin():
            # Read again inside the transaction that writes (the page's read was outside).
            current = await notice_for_token(session, svc.settings,
                                             request.match_info["token"], svc.clock())
            await record_response(session, current, action, note=note, now=svc.clock())
    except LinkInvalid:
        return error_page(request, 403, TAMPERED)
    except LinkExpired:  # it expired between the two reads
        return error_page(request, 410, EXPIRED)
    except AlreadyAnswered:
        found = await _load(request)
        if isinstance(found, web.Response):
            return found
        return _page(request, found, status=409,
                     error="This was already answered through this link; "
                           "each answer is taken once.")
    found = await _load(request)
    if isinstance(found, web.Response):
        return found
    return _page(request, found, message=DONE[action])
