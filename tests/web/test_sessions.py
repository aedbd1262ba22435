"""Sessions over HTTP: signing in and out, the cookie's flags, idle and absolute
expiry on the injected clock, the login throttle, scrypt hashes upgraded to
argon2id, and changing one's own password."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from nttd.auth import hash_scrypt, hash_token
from nttd.models import ApiToken, User, WebSession
from tests.web.conftest import PASSWORD, Browser, WebWorld, csrf_of, web_world


async def session_rows(ww: WebWorld) -> int:
    async with ww.world.svc.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(WebSession)) or 0)


def set_cookie_header(page_headers: object, name: str) -> str:
    values = [v for v in page_headers.getall("Set-Cookie", [])  # type: ignore[attr-defined]
              if v.startswith(name + "=")]
    assert values, f"no Set-Cookie for {name}"
    return values[-1]


async def test_sign_in_and_out_and_replay(ww: WebWorld) -> None:
    browser = await ww.browser()
    form = await browser.get("/")
    assert form.status == 200 and 'name="username"' in form.text
    assert 'name="password"' in form.text and 'name="csrf_token"' in form.text
    page = await browser.post("/login", {"username": "analyst", "password": PASSWORD},
                              csrf=csrf_of(form.text))
    assert page.status == 303 and page.location == "/"
    cookie = set_cookie_header(page.headers, "nttd_session")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback
    token = browser.cookie("nttd_session")
    assert token and len(token) >= 43
    # The table holds the token's hash, never the token.
    async with ww.world.svc.sessions() as session:
        stored = list(await session.scalars(select(WebSession.token_hash)))
    assert token not in stored and len(stored) == 1
    home = await browser.get("/")
    assert home.status == 200 and "Cases" in home.text and "Sign out" in home.text

    # Logout deletes the row; the old cookie, replayed, signs nobody in.
    out = await browser.post("/logout")
    assert out.status == 303
    assert await session_rows(ww) == 0
    replay = await ww.browser()
    replay.http.cookie_jar.update_cookies({"nttd_session": token})
    page = await replay.get("/cases")
    assert page.status == 303 and page.location == "/"
    page = await replay.get("/")
    assert 'name="password"' in page.text


async def test_wrong_password_and_unknown_user(ww: WebWorld) -> None:
    browser = await ww.browser()
    assert (await browser.login("analyst", "not the password at all")).status == 401
    assert (await browser.login("nobody", PASSWORD)).status == 401
    assert browser.cookie("nttd_session") is None
    assert await session_rows(ww) == 0


async def test_secure_cookie_behind_a_trusted_proxy(database_url: str, tmp_path: Path) -> None:
    async with web_world(database_url, tmp_path, NTTD_TRUST_FORWARDED_PROTO="1") as ww:
        browser = await ww.browser()
        form = await browser.get("/")
        page = await browser.post("/login", {"username": "analyst", "password": PASSWORD},
                                  csrf=csrf_of(form.text),
                                  headers={"X-Forwarded-Proto": "https"})
        assert page.status == 303
        assert "Secure" in set_cookie_header(page.headers, "nttd_session")


async def test_forwarded_proto_is_not_believed_by_default(ww: WebWorld) -> None:
    browser = await ww.browser()
    form = await browser.get("/")
    page = await browser.post("/login", {"username": "analyst", "password": PASSWORD},
                              csrf=csrf_of(form.text),
                              headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in set_cookie_header(page.headers, "nttd_session")


async def test_idle_and_absolute_expiry(ww: WebWorld) -> None:
    clock = ww.world.clock
    assert clock is not None
    browser = await ww.browser("analyst")
    # Active every 20 minutes: the 30-minute idle limit never strikes...
    for _ in range(3):
        clock.advance(timedelta(minutes=20))
        assert (await browser.get("/cases")).status == 200
    # ...but 31 quiet minutes do, and the row goes.
    clock.advance(timedelta(minutes=31))
    page = await browser.get("/cases")
    assert page.status == 303 and page.location == "/"
    assert await session_rows(ww) == 0

    # Absolute: 12 hours after signing in, however busy.
    browser = await ww.browser("analyst")
    for _ in range(35):
        clock.advance(timedelta(minutes=20))
        assert (await browser.get("/cases")).status == 200
    clock.advance(timedelta(minutes=20))  # 12h20m after signing in
    page = await browser.get("/cases")
    assert page.status == 303 and page.location == "/"
    assert await session_rows(ww) == 0


async def test_login_is_throttled_per_account_and_per_address(ww: WebWorld) -> None:
    clock = ww.world.clock
    assert clock is not None
    browser = await ww.browser()
    for _ in range(5):
        assert (await browser.login("analyst", "wrong password, again")).status == 401
    blocked = await browser.login("analyst", PASSWORD)  # even the right one now
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Too many" in blocked.text
    assert await session_rows(ww) == 0
    # 15 minutes later the account may try again.
    clock.advance(timedelta(minutes=15, seconds=1))
    assert (await browser.login("analyst", PASSWORD)).status == 303

    # Per address: five failures spread over five names block the address.
    clock.advance(timedelta(hours=1))
    other = await ww.browser()
    for n in range(5):
        assert (await other.login(f"nobody{n}", "wrong password, again")).status == 401
    assert (await other.login("coordinator", PASSWORD)).status == 429


async def test_scrypt_hash_verifies_and_is_upgraded(ww: WebWorld) -> None:
    async with ww.world.svc.sessions() as session, session.begin():
        await session.execute(update(User).where(User.name == "analyst")
                              .values(password_hash=hash_scrypt(PASSWORD)))
    browser = await ww.browser()
    assert (await browser.login("analyst", "wrong password, again")).status == 401
    async with ww.world.svc.sessions() as session:
        assert (await session.scalar(select(User.password_hash)
                                     .where(User.name == "analyst"))).startswith("scrypt$")
    assert (await browser.login("analyst", PASSWORD)).status == 303
    async with ww.world.svc.sessions() as session:
        stored = await session.scalar(select(User.password_hash).where(User.name == "analyst"))
    assert stored.startswith("$argon2id$")
    again = await ww.browser()
    assert (await again.login("analyst", PASSWORD)).status == 303


async def test_change_own_password(ww: WebWorld) -> None:
    browser = await ww.browser("coordinator")
    elsewhere = await ww.browser("coordinator")
    await browser.get("/account")
    new = "a much better passphrase"
    wrong = await browser.post("/account/password", {
        "current_password": "not it at all", "new_password": new, "new_password_again": new})
    assert wrong.status == 400 and "not right" in wrong.text
    short = await browser.post("/account/password", {
        "current_password": PASSWORD, "new_password": "short", "new_password_again": "short"})
    assert short.status == 400
    page = await browser.post("/account/password", {
        "current_password": PASSWORD, "new_password": new, "new_password_again": new})
    assert page.status == 200 and "changed" in page.text
    # This session goes on; the other one is signed out; the new password works.
    assert (await browser.get("/stats")).status == 200
    assert (await elsewhere.get("/stats")).status == 303
    assert (await (await ww.browser()).login("coordinator", PASSWORD)).status == 401
    assert (await (await ww.browser()).login("coordinator", new)).status == 303


async def test_disabled_user_is_signed_out(ww: WebWorld) -> None:
    admin: Browser = await ww.browser("admin")
    victim = await ww.browser("coordinator")
    async with ww.world.svc.sessions() as session:
        user_id = await session.scalar(select(User.id).where(User.name == "coordinator"))
    await admin.get("/admin/users")
    assert (await admin.post(f"/admin/users/{user_id}/disable")).status == 200
    assert (await victim.get("/stats")).status == 303
    assert (await (await ww.browser()).login("coordinator")).status == 401
    page = await admin.post(f"/admin/users/{user_id}/password")
    assert page.status == 200 and "shown this once" in page.text
    assert (await admin.post(f"/admin/users/{user_id}/enable")).status == 200
    assert (await (await ww.browser()).login("coordinator")).status == 401  # reset


async def test_ended_sessions_are_purged_at_the_next_sign_in(ww: WebWorld) -> None:
    clock = ww.world.clock
    assert clock is not None
    for _ in range(3):
        await ww.browser("analyst")  # abandoned without logging out
    assert await session_rows(ww) == 3
    clock.advance(timedelta(minutes=31))
    await ww.browser("coordinator")
    assert await session_rows(ww) == 1


async def test_own_api_tokens(ww: WebWorld) -> None:
    world = ww.world
    browser = await ww.browser("coordinator")
    page = await browser.get("/account")
    assert "<title>Your account · nttd</title>" in page.text
    assert page.text.count("<code>nttd_") == 1
    assert world.tokens["coordinator"] not in page.text
    page = await browser.post("/account/tokens")
    match = re.search(r'<code class="secret">(nttd_[^<]+)</code>', page.text)
    assert match, page.text
    token = match.group(1)
    assert (await world.api("GET", "/api/v1/stats", token=token))[0] == 200
    async with world.svc.sessions() as session:
        token_id = await session.scalar(select(ApiToken.id).where(
            ApiToken.token_hash == hash_token(token)))
    # Nobody else may revoke it; its owner may, once.
    other = await ww.browser("analyst")
    assert (await other.post(f"/account/tokens/{token_id}/revoke")).status == 404
    assert (await world.api("GET", "/api/v1/stats", token=token))[0] == 200
    assert (await browser.post(f"/account/tokens/{token_id}/revoke")).status == 200
    assert (await world.api("GET", "/api/v1/stats", token=token))[0] == 401
    assert (await browser.post(f"/account/tokens/{token_id}/revoke")).status == 404
    assert (await world.api("GET", "/api/v1/stats", user="coordinator"))[0] == 200
