"""The web UI: server-rendered pages for analysts, partner hotlines, coordinators
and admins. Thin like the API: parse, call the domain, render; it builds no SQL.

Safety by structure: reported URLs reach templates only defanged, as text; every
page carries a strict Content-Security-Policy (no inline script or style, nothing
from elsewhere); every POST carries the session's CSRF token (nttd.web.base).
"""

from __future__ import annotations

from aiohttp import web

from nttd.accounts import LoginLimiter
from nttd.auth import PasswordHashing
from nttd.resources import templates_dir
from nttd.web import account, admin, cases, dashboard, intake, partner, respond
from nttd.web.base import LIMITER, PASSWORDS, web_headers, web_middleware

__all__ = ["add_web_routes", "web_headers", "web_middleware"]

PASSWORD_WORK_AT_ONCE = 2  # argon2id: 64 MiB and a core for ~0.4 s each


def add_web_routes(app: web.Application) -> None:
    app[PASSWORDS] = PasswordHashing(PASSWORD_WORK_AT_ONCE)
    app[LIMITER] = LoginLimiter()
    r = app.router
    r.add_get("/", account.home)
    r.add_get("/login", account.login_page)
    r.add_post("/login", account.login)
    r.add_post("/logout", account.logout)
    r.add_get("/account", account.account_page)
    r.add_post("/account/password", account.change_password)
    r.add_post("/account/tokens", account.new_token)
    r.add_post("/account/tokens/{token_id}/revoke", account.revoke)
    r.add_get("/intake", intake.intake_page)
    r.add_post("/intake", intake.intake_text)
    r.add_post("/intake/csv", intake.intake_csv)
    r.add_get("/cases", cases.case_list)
    r.add_get("/cases/{case_id}", cases.case_page)
    r.add_post("/cases/{case_id}/hold", cases.hold_case)
    r.add_post("/cases/{case_id}/release", cases.release)
    r.add_post("/cases/{case_id}/flag/clear", cases.clear_case_flag)
    r.add_get("/inbox", partner.inbox)
    r.add_post("/inbox/report", partner.report)
    r.add_get("/stats", dashboard.stats_page)
    r.add_get("/stats.csv", dashboard.stats_csv_download)
    r.add_get("/public/stats", dashboard.public_stats)
    r.add_get("/admin/users", admin.users_page)
    r.add_post("/admin/users", admin.create_user)
    r.add_post("/admin/users/{user_id}/disable", admin.disable_user)
    r.add_post("/admin/users/{user_id}/enable", admin.enable_user)
    r.add_post("/admin/users/{user_id}/password", admin.reset_user_password)
    r.add_get("/admin/settings", admin.settings_page)
    r.add_get("/admin/partners", admin.partners_page)
    r.add_post("/admin/partners", admin.load_partner_file)
    r.add_post("/admin/partners/{code}", admin.edit_partner)
    r.add_get("/admin/audit", admin.audit_page)
    r.add_get("/respond/{token}", respond.respond_page)
    r.add_post("/respond/{token}", respond.respond)
    r.add_static("/static/", templates_dir() / "web" / "static", follow_symlinks=False)
