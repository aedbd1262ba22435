"""`nttd demo`, run in-process for a short while on a fast clock.

pytest-socket (--allow-hosts=127.0.0.0/8 in pyproject) fails any connection the demo
would make outside loopback; the test also checks that every name the demo's URLs
use resolves, at the demo's DNS stand-in, to a loopback address.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import ipaddress
import re
import time
from pathlib import Path
from unittest import mock

import aiohttp
from argon2 import PasswordHasher, profiles
from sqlalchemy import func, select

from nttd import auth
from nttd.cli import build_parser
from nttd.demo.run import NETWORKS, Demo, Options
from nttd.models import Case, Event, ExchangeLink

CHEAP_HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)
LOGIN = re.compile(r"^  login (\w+)\s+(\S+)\s+password (\S+)$", re.MULTILINE)
PARTNER_LOGIN = re.compile(r"^  NL partner's login (\w+)\s+(\S+)\s+password (\S+)$",
                           re.MULTILINE)
DEADLINE = 50.0  # wall-clock seconds for the flow to show


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token on the page"
    return match.group(1)


async def sign_in(http: aiohttp.ClientSession, base: str, name: str, password: str) -> str:
    """Sign in through the web form; the home page's HTML afterwards."""
    async with http.get(base) as resp:
        assert resp.status == 200
        csrf = csrf_of(await resp.text())
    async with http.post(base + "login", data={"username": name, "password": password,
                                               "csrf_token": csrf},
                         allow_redirects=False) as resp:
        assert resp.status == 303, (name, resp.status, (await resp.text())[:300])
    async with http.get(base) as resp:
        assert resp.status == 200
        return await resp.text()


def test_the_cli_takes_the_demo_options() -> None:
    args = build_parser().parse_args(["demo", "--port", "0", "--urls", "20", "--speed", "5",
                                      "--duration", "3", "--database", "sqlite+aiosqlite://"])
    assert (args.command, args.port, args.urls, args.speed, args.duration) == \
        ("demo", 0, 20, 5.0, 3.0)


async def test_the_demo_shows_the_whole_flow(database_url: str, tmp_path: Path) -> None:
    out = io.StringIO()
    options = Options(port=0, database=database_url, urls=60, speed=10, seed=1,
                      directory=tmp_path / "demo")
    stop = asyncio.Event()
    with mock.patch.object(auth, "_ARGON2", CHEAP_HASHER):
        async with Demo(options, out) as demo:
            task = asyncio.create_task(demo.run(stop))
            try:
                async with contextlib.AsyncExitStack() as stack:
                    await _watch(demo, out, stack)
            finally:
                stop.set()
                await task
    assert not any(t.get_name() == task.get_name() for t in asyncio.all_tasks())


async def _watch(demo: Demo, out: io.StringIO, stack: contextlib.AsyncExitStack) -> None:
    await asyncio.sleep(0.2)
    printed = out.getvalue()
    match = re.search(r"open (http://127\.0\.0\.1:\d+/) ", printed)
    assert match, printed
    base = match.group(1)
    logins = {role: (name, password) for role, name, password in LOGIN.findall(printed)}
    assert set(logins) == {"analyst", "partner", "coordinator", "admin"}, printed
    browsers = {role: await stack.enter_async_context(aiohttp.ClientSession(
        trust_env=False, cookie_jar=aiohttp.CookieJar(unsafe=True))) for role in logins}
    for role, (name, password) in logins.items():
        home = await sign_in(browsers[role], base, name, password)
        assert "Sign out" in home and name in home, home[:500]
    assert str(demo.directory / "mail") in printed
    # The NL partner's own nttd: its address and logins are printed, and they work.
    match = re.search(r"the NL partner hotline runs nttd too: (http://127\.0\.0\.1:\d+/) ",
                      printed)
    assert match and match.group(1) != base, printed
    partner_base = match.group(1)
    partner_logins = dict((role, (name, pw)) for role, name, pw in PARTNER_LOGIN.findall(printed))
    assert set(partner_logins) == {"analyst", "admin"}, printed
    partner_browser = await stack.enter_async_context(aiohttp.ClientSession(
        trust_env=False, cookie_jar=aiohttp.CookieJar(unsafe=True)))
    home = await sign_in(partner_browser, partner_base, *partner_logins["analyst"])
    assert "Sign out" in home

    headers = {"Authorization": f"Bearer {demo.token}"}
    seen: dict[str, int] = {}
    stats: dict[str, object] = {}
    deadline = time.monotonic() + DEADLINE
    async with aiohttp.ClientSession(trust_env=False, headers=headers) as http:
        while time.monotonic() < deadline:
            async with http.get(base + "api/v1/cases?limit=500") as resp:
                assert resp.status == 200
                body = await resp.json()
            seen = {}
            for case in body["cases"]:
                seen[case["status"]] = seen.get(case["status"], 0) + 1
            async with http.get(base + "api/v1/stats") as resp:
                assert resp.status == 200
                stats = await resp.json()
            if (demo.fed == 60 and seen.get("removed", 0) >= 3 and seen.get("monitoring", 0) >= 1
                    and _hosts_mailed(demo) and demo.webhook.requests
                    and _removals_counted(stats) and await _exchanged(demo)):
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError(f"the flow did not show in {DEADLINE} s: statuses {seen}, "
                                 f"{len(demo.smtp.messages)} mails, "
                                 f"{len(demo.webhook.requests)} webhooks, stats {stats}, "
                                 f"exchange {await _exchange_counts(demo)}")
    overall = stats["overall"]
    assert isinstance(overall, dict) and overall["cases"] >= 10, overall
    # The mails are readable where the banner says.
    await asyncio.sleep(0.3)
    assert len(list(demo.maildir.keys())) >= 1
    # ... and in the web UI, to those who may see them.
    async with browsers["analyst"].get(base + "demo/mail") as resp:
        assert resp.status == 200
        listing = await resp.text()
    subject = demo.smtp.messages[0].message["Subject"]
    assert html.escape(subject) in listing
    async with browsers["analyst"].get(base + "demo/mail/1") as resp:
        assert resp.status == 200
        assert "Message-ID" in await resp.text()
    async with browsers["partner"].get(base + "demo/mail", allow_redirects=False) as resp:
        assert resp.status == 403
    # Every name the demo uses is on loopback.
    for address in demo.zone_addresses():
        assert ipaddress.ip_address(address).is_loopback, address


def _hosts_mailed(demo: Demo) -> bool:
    """Notices reached hosts' abuse desks (not only the e-mail partner's reports)."""
    recipients = {r for m in demo.smtp.messages for r in m.rcpt_tos}
    return bool(recipients & {net.abuse for net in NETWORKS})


def _removals_counted(stats: dict[str, object]) -> bool:
    overall = stats.get("overall")
    return isinstance(overall, dict) and overall.get("removed", 0) >= 3


async def _exchange_counts(demo: Demo) -> dict[str, int]:
    """Cases the NL partner's nttd received from us, and its reports on our cases."""
    async with demo.partner.svc.sessions() as session:
        received = await session.scalar(select(func.count()).select_from(ExchangeLink))
        partner_cases = await session.scalar(select(func.count()).select_from(Case))
    assert demo.svc is not None
    async with demo.svc.sessions() as session:
        reports = dict((await session.execute(
            select(Event.kind, func.count()).where(Event.kind.in_(
                ["reported_acknowledged", "reported_notice_sent", "reported_removed"]))
            .group_by(Event.kind))).all())
    return {"received": int(received or 0), "partner_cases": int(partner_cases or 0),
            **{kind: int(n) for kind, n in reports.items()}}


async def _exchanged(demo: Demo) -> bool:
    """Cases reached the second instance, and its statuses came back (to removal)."""
    counts = await _exchange_counts(demo)
    return (counts["received"] >= 1 and counts["partner_cases"] == counts["received"]
            and counts.get("reported_acknowledged", 0) >= 1
            and counts.get("reported_notice_sent", 0) >= 1
            and counts.get("reported_removed", 0) >= 1)
