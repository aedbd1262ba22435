"""The demo's second nttd instance: the NL partner hotline runs nttd too.

It is a whole nttd (web UI, API, workers) in the demo's process, on its own port on
loopback and its own SQLite file in the demo's directory, on the same simulated
internet (DNS, RDAP, hosting servers, SMTP sink). The two instances are wired both
ways through the exchange (nttd.exchange), as two hotlines would wire theirs:

- in our directory the NL partner's `webhook_url` is its `/api/v1/exchange`, with a
  `webhook_secret` the two directories share; its `status_url` is its base URL and
  its `status_token` a partner token it issued us (for cases we are sent);
- in its directory we are the GB partner, with the same secret, our exchange as
  webhook_url, our base URL as status_url and a token we issued it (a partner user of
  ours for the NL hotline, which is how its status reports land on our cases).

So an NL case goes from us to it by webhook, lands in its intake with our reference,
gets its notice to the NL host (the same SMTP sink), and its acknowledgement, notice
and confirmed removal come back to our case.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from nttd import migrate
from nttd.auth import add_user, create_token
from nttd.partners import load_partners, parse_partner_file
from nttd.services import Services
from nttd.settings import Settings

CODE = "nl-partner"  # its code, in both directories
HOME_CODE = "gb-home"


@dataclass
class Login:
    name: str
    role: str
    password: str


@dataclass
class Instance:
    """One running nttd of the demo: its services, where it listens, its logins."""

    svc: Services
    url: str  # base URL with a trailing slash
    logins: list[Login]


async def serve(stack: contextlib.AsyncExitStack, app: web.Application, host: str,
                port: int, *, any_port_if_taken: bool = False) -> str:
    """Run a web app on host:port; its base URL. With `any_port_if_taken`, a port in
    use gives way to a free one (the partner's "next port" is only a convenience)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        if port == 0 or not any_port_if_taken:
            raise
        await web.TCPSite(runner, host, 0).start()
    shown = host if ":" not in host else f"[{host}]"
    return f"http://{shown}:{runner.addresses[0][1]}/"


async def start_partner(stack: contextlib.AsyncExitStack, settings: Settings, host: str,
                        port: int) -> Instance:
    """The NL partner's nttd (web UI, API and workers), migrated and listening; its
    directory and users come with `prepare_wiring`."""
    from nttd.app import make_app  # the whole service

    svc = await Services.start(settings)
    stack.push_async_callback(svc.close)
    if await migrate.current_revision(svc.engine) != migrate.head_revision():
        await migrate.upgrade(svc.engine)
    url = await serve(stack, make_app(svc), host, port, any_port_if_taken=True)
    return Instance(svc, url, [])


def partner_settings(main: Settings, database_path: Path) -> Settings:
    """The main instance's demo settings, as the NL hotline: its own SQLite database,
    home country and sender address."""
    return main.replace(database_url=f"sqlite+aiosqlite:///{database_path}",
                        home_country="NL", notice_from="hotline@partner-nl.example",
                        public_url=None)


def our_entry(partner_url: str, secret: str, token: str) -> str:
    """The NL partner as our directory has it."""
    return f"""
[[hotline]]
code = "{CODE}"
name = "Partner Hotline NL (demo, runs nttd)"
countries = ["NL"]
language = "nl"
webhook_url = "{partner_url}api/v1/exchange"
webhook_secret = "{secret}"
status_url = "{partner_url}"
status_token = "{token}"
"""


def their_directory(main_url: str, secret: str, token: str | None) -> str:
    """The NL partner's own directory: itself, and us as its GB partner."""
    status = "" if token is None else f'status_url = "{main_url}"\nstatus_token = "{token}"\n'
    return f"""
[[hotline]]
code = "{CODE}"
name = "Partner Hotline NL (demo, runs nttd)"
countries = ["NL"]
language = "nl"
self = true

[[hotline]]
code = "{HOME_CODE}"
name = "Home Hotline (demo)"
countries = ["GB"]
webhook_url = "{main_url}api/v1/exchange"
webhook_secret = "{secret}"
{status}"""


async def prepare_wiring(partner: Instance, main_url: str, secret: str) -> str:
    """The partner's directory (us without status fields yet), its logins, and a
    partner user there for our hotline whose token we use for our status reports;
    returns our directory's entry for the partner (with that token)."""
    now = partner.svc.clock()
    async with partner.svc.sessions() as session, session.begin():
        await load_partners(session, parse_partner_file(their_directory(main_url, secret,
                                                                        None)))
        await add_user(session, "exchange-gb-home", "partner",
                       password=secrets.token_urlsafe(16), hotline_code=HOME_CODE, now=now)
        for role in ("analyst", "admin"):
            login = Login(f"nl-{role}-{secrets.token_hex(2)}", role, secrets.token_urlsafe(12))
            await add_user(session, login.name, role, password=login.password,
                           hotline_code=None, now=now)
            partner.logins.append(login)
    async with partner.svc.sessions() as session, session.begin():
        token_for_us = await create_token(session, "exchange-gb-home", now=now)
    return our_entry(partner.url, secret, token_for_us)


async def finish_wiring(main: Services, main_url: str, partner: Instance,
                        secret: str) -> None:
    """Once our directory (with the partner) is loaded: a partner user of ours for the
    NL hotline, whose token goes into the partner's directory as our status_token."""
    now = main.clock()
    async with main.sessions() as session, session.begin():
        await add_user(session, "exchange-nl-partner", "partner",
                       password=secrets.token_urlsafe(16), hotline_code=CODE, now=now)
    async with main.sessions() as session, session.begin():
        token_for_them = await create_token(session, "exchange-nl-partner", now=now)
    async with partner.svc.sessions() as session, session.begin():
        await load_partners(session, parse_partner_file(
            their_directory(main_url, secret, token_for_them)))
