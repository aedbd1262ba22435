"""Who may open what: every web route for every role (and for nobody signed in).

    ok     the page or the action (200, 303 onwards, 400/409 for a refused form)
    login  303 to the sign-in page
    403    signed in with another role
    404    not there, or another partner's case
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from nttd.app import make_app
from nttd.models import ApiToken, User
from tests.web.conftest import Browser, WebWorld
from tests.web.test_safety import make_case

ROLES = ("anonymous", "analyst", "nl", "de", "coordinator", "admin")

ONLY_ANALYST = {"anonymous": "login", "analyst": "ok", "nl": "403", "de": "403",
                "coordinator": "403", "admin": "ok"}
ONLY_ADMIN = {"anonymous": "login", "analyst": "403", "nl": "403", "de": "403",
              "coordinator": "403", "admin": "ok"}
SIGNED_IN = {"anonymous": "login", "analyst": "ok", "nl": "ok", "de": "ok",
             "coordinator": "ok", "admin": "ok"}
EVERYONE = dict.fromkeys(ROLES, "ok")
NL_CASE = {"anonymous": "login", "analyst": "ok", "nl": "ok", "de": "404",
           "coordinator": "403", "admin": "ok"}
PARTNERS = {"anonymous": "login", "analyst": "403", "nl": "ok", "de": "ok",
            "coordinator": "403", "admin": "403"}  # an admin belongs to no hotline
NL_REPORT = {"anonymous": "login", "analyst": "403", "nl": "ok", "de": "404",
             "coordinator": "403", "admin": "403"}
STATS = {"anonymous": "login", "analyst": "ok", "nl": "403", "de": "403",
         "coordinator": "ok", "admin": "ok"}
NOWHERE = dict.fromkeys(ROLES, "404")

# (method, path, form, expected per role); {case} is a case routed to nl-partner.
TABLE = [
    ("GET", "/", {}, EVERYONE),
    ("GET", "/static/style.css", {}, EVERYONE),
    ("GET", "/no-such-page", {}, NOWHERE),
    ("GET", "/account", {}, SIGNED_IN),
    ("POST", "/account/password", {"current_password": "x"}, SIGNED_IN),
    ("POST", "/account/tokens", {}, SIGNED_IN),
    # The coordinator's own token: nobody else may revoke it (404, as if there were none).
    ("POST", "/account/tokens/{token}/revoke", {},
     {**dict.fromkeys(ROLES, "404"), "anonymous": "login", "coordinator": "ok"}),
    ("GET", "/intake", {}, ONLY_ANALYST),
    ("POST", "/intake", {"urls": "http://files.example.org/x.jpg"}, ONLY_ANALYST),
    ("POST", "/intake/csv", {}, ONLY_ANALYST),
    # A coordinator lists the cases flagged for it (none here) and sees only those:
    # this case is not flagged (tests/web/test_flags.py has a flagged one).
    ("GET", "/cases", {}, {**ONLY_ANALYST, "coordinator": "ok"}),
    ("GET", "/cases/{case}", {}, {**NL_CASE, "coordinator": "404"}),
    ("GET", "/cases/999999", {}, {**NL_CASE, "nl": "404", "analyst": "404", "admin": "404",
                                  "coordinator": "404"}),
    ("POST", "/cases/{case}/flag/clear", {"note": "seen"},
     {**NL_CASE, "nl": "403", "de": "403", "coordinator": "404"}),  # analyst: 409, not flagged
    ("POST", "/cases/{case}/hold", {}, {**NL_CASE, "nl": "403", "de": "403"}),
    ("POST", "/cases/{case}/release", {}, {**NL_CASE, "nl": "403", "de": "403"}),
    ("GET", "/inbox", {}, PARTNERS),
    ("POST", "/inbox/report", {"case_id": "{case}", "status": "acknowledged"}, NL_REPORT),
    ("GET", "/stats", {}, STATS),
    ("GET", "/stats.csv", {}, STATS),
    # Off by default (NTTD_PUBLIC_STATS): a 404 for everyone; on, it needs no sign-in
    # (tests/web/test_dashboard.py).
    ("GET", "/public/stats", {}, NOWHERE),
    ("GET", "/admin/users", {}, ONLY_ADMIN),
    ("POST", "/admin/users", {"name": "", "role": "analyst"}, ONLY_ADMIN),
    ("POST", "/admin/users/{user}/disable", {}, ONLY_ADMIN),
    ("POST", "/admin/users/{user}/enable", {}, ONLY_ADMIN),
    ("POST", "/admin/users/{user}/password", {}, ONLY_ADMIN),
    ("GET", "/admin/settings", {}, ONLY_ADMIN),
    ("GET", "/admin/partners", {}, ONLY_ADMIN),
    ("POST", "/admin/partners", {"toml": "not toml"}, ONLY_ADMIN),
    ("POST", "/admin/partners/nl-partner", {"name": ""}, ONLY_ADMIN),
    ("GET", "/admin/audit", {}, ONLY_ADMIN),
    # A provider's answer page needs no account: never the sign-in page, for nobody.
    # This link is not one we signed (403); tests/web/test_respond.py has genuine ones.
    ("GET", "/respond/1.1.forged", {}, dict.fromkeys(ROLES, "403")),
    ("POST", "/respond/1.1.forged", {"action": "acknowledged"}, dict.fromkeys(ROLES, "403")),
    ("GET", "/login", {}, dict.fromkeys(ROLES, "login")),  # to the form at /
    # The sign-in form's own token lives in a cookie of the signed-out form: the
    # anonymous browser has it (and gets "wrong password"), the others not.
    ("POST", "/login", {"username": "analyst", "password": "x"},
     {**dict.fromkeys(ROLES, "403"), "anonymous": "ok"}),
    # Last: it ends the session (and sends everyone to the sign-in page).
    ("POST", "/logout", {}, dict.fromkeys(ROLES, "login")),
]


def outcome(status: int, location: str | None) -> str:
    if status == 303 and location == "/":
        return "login"
    if status in (403, 404):
        return str(status)
    assert status < 500, status
    return "ok"


async def test_every_route_is_in_the_table(ww: WebWorld) -> None:
    app = make_app(ww.world.svc, with_workers=False)
    routes = set()
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        for route in resource:
            if route.method != "HEAD" and not str(path).startswith(("/api/", "/healthz")):
                routes.add((route.method, str(path).rstrip("/") or "/"))
    tabled = {(m, p.replace("{case}", "{case_id}").replace("{user}", "{user_id}")
               .replace("{token}", "{token_id}")
               .replace("/admin/partners/nl-partner", "/admin/partners/{code}")
               .replace("/respond/1.1.forged", "/respond/{token}")
               .replace("/style.css", "")) for m, p, _, _ in TABLE}
    assert routes - tabled == set()
    assert isinstance(app, web.Application)


async def test_role_by_route(ww: WebWorld) -> None:
    """One world, every role in turn (the admin last: it resets another's password)."""
    world = ww.world
    case_id = await make_case(world, world.url("nl"))
    await world.run_until_idle()
    assert (await world.case(case_id))["route"]["kind"] == "partner"
    async with world.svc.sessions() as session:
        # An account no test signs in with, for the admin actions.
        user_id = await session.scalar(select(User.id).where(User.name == "de"))
        token_id = await session.scalar(select(ApiToken.id).join(User).where(
            User.name == "coordinator"))
    problems: list[str] = []
    for role in ROLES:
        problems += await _check_role(ww, role, case_id, user_id, token_id)
    assert problems == []


async def _check_role(ww: WebWorld, role: str, case_id: int, user_id: int | None,
                      token_id: int | None) -> list[str]:
    browser: Browser = await ww.browser(None if role == "anonymous" else role)
    if role == "anonymous":
        await browser.get("/")  # the sign-in form, and its token
    problems = []
    for method, raw_path, form, expected in TABLE:
        if role == "de" and "/admin/users/" in raw_path:
            continue  # would act on its own account (it is a 403 anyway)
        path = raw_path.format(case=case_id, user=user_id, token=token_id)
        data = {k: v.format(case=case_id) for k, v in form.items()}
        if method == "GET":
            page = await browser.get(path)
        else:
            page = await browser.post(path, data)
        got = outcome(page.status, page.location)
        if got != expected[role]:
            problems.append(f"{role} {method} {path}: {got} ({page.status}), "
                            f"expected {expected[role]}")
    return problems
