"""A small internet on loopback, and nttd running against it over HTTP.

Five hosting networks, each with its own hosting server, RDAP answer and Team
Cymru answers:

    site      address      network          country  what nttd should do
    nl        127.0.1.1    127.0.1.0/24     NL       route to partner nl-partner (webhook)
    de        127.0.2.1    127.0.2.0/24     DE       route to partner de-partner (e-mail)
    us        127.0.3.1    127.0.3.0/24     US       no partner: notice to the host
    gb        127.0.4.1    127.0.4.0/24     GB       our own country: notice to the host
    cdn       127.0.5.1    127.0.5.0/24     US       behind Cloudflare (CNAME): notice to the CDN

Names are `<site>-files.example.com` (the CDN one is `www.example.net`, a CNAME
to `www.example.net.cdn.cloudflare.net`). Each network's AS has an RDAP autnum
answer whose abuse contact is `abuse@<site>-transit.example` (the upstream).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
from aiohttp import web
from argon2 import PasswordHasher, profiles
from sqlalchemy import update

from nttd import auth
from nttd.app import make_app
from nttd.auth import add_user, create_token
from nttd.checks import CheckScheduler
from nttd.clock import ManualClock, utcnow
from nttd.demo.standins.dns_server import DnsServer, Zone, add_cymru
from nttd.demo.standins.hosting import HostingServer
from nttd.demo.standins.rdap_server import RdapServer
from nttd.demo.standins.smtp_sink import SmtpSink
from nttd.demo.standins.webhook_receiver import WebhookReceiver
from nttd.migrate import upgrade
from nttd.models import Notice
from nttd.partners import load_partners, read_partner_file
from nttd.services import Services
from nttd.settings import Settings
from nttd.workers import next_due, run_until_idle

CHEAP_HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)
MAX_DUE_POINTS = 2000  # moments at which work falls due, within one advance()
WEBHOOK_SECRET = "nl-partner-shared-secret-0123456789"
PATH = "/img/1.jpg"


@dataclass(frozen=True)
class Site:
    name: str
    ip: str
    network: str
    country: str
    asn: int
    as_name: str
    abuse: str
    hostname: str


SITES = {
    "nl": Site("nl", "127.0.1.1", "127.0.1.0/24", "NL", 64501, "NL-HOSTING",
               "abuse@nl-host.example",
               "nl-files.example.com"),
    "de": Site("de", "127.0.2.1", "127.0.2.0/24", "DE", 64502, "DE-HOSTING",
               "abuse@de-host.example",
               "de-files.example.com"),
    "us": Site("us", "127.0.3.1", "127.0.3.0/24", "US", 64503, "US-HOSTING",
               "abuse@us-host.example",
               "us-files.example.com"),
    "gb": Site("gb", "127.0.4.1", "127.0.4.0/24", "GB", 64504, "GB-HOSTING",
               "abuse@gb-host.example",
               "gb-files.example.com"),
    "cdn": Site("cdn", "127.0.5.1", "127.0.5.0/24", "US", 13335, "CLOUDFLARENET",
                "abuse@cloudflare.example", "www.example.net"),
}


def transit_abuse(site: Site) -> str:
    """The abuse address of the AS announcing a site's network (its upstream)."""
    return f"abuse@{site.name}-transit.example"


def partner_file(webhook_url: str) -> str:
    return f"""
[[hotline]]
code = "gb-home"
name = "Home Hotline"
countries = ["GB"]
self = true

[[hotline]]
code = "nl-partner"
name = "Partner Hotline NL"
countries = ["NL"]
language = "nl"
webhook_url = "{webhook_url}"
webhook_secret = "{WEBHOOK_SECRET}"

[[hotline]]
code = "de-partner"
name = "Partner Hotline DE"
countries = ["DE"]
email = "reports@partner-de.example"
"""


@dataclass
class World:
    zone: Zone
    dns: DnsServer
    rdap: RdapServer
    hosts: dict[str, HostingServer]
    smtp: SmtpSink
    webhook: WebhookReceiver
    settings: Settings
    svc: Services
    base_url: str
    http: aiohttp.ClientSession
    tokens: dict[str, str] = field(default_factory=dict)
    # None: the service's own workers run in the background on the wall clock.
    clock: ManualClock | None = None
    checks: CheckScheduler = field(default_factory=CheckScheduler)
    # The web app's runner (a test may stop its site and start it again: "down").
    runner: web.AppRunner | None = None

    def url(self, site: str, path: str = PATH) -> str:
        return f"http://{SITES[site].hostname}:{self.hosts[site].port}{path}"

    async def api(self, method: str, path: str, *, user: str | None = "analyst",
                  json: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        elif user is not None:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        async with self.http.request(method, self.base_url + path, json=json,
                                     headers=headers) as resp:
            return resp.status, await resp.json()

    async def case(self, case_id: int, user: str = "analyst") -> dict[str, Any]:
        status, body = await self.api("GET", f"/api/v1/cases/{case_id}", user=user)
        assert status == 200, body
        return dict(body)

    async def run_until_idle(self) -> int:
        """Run every worker step in-process until nothing is due at the clock."""
        assert self.clock is not None, "this world's workers run on their own"
        return await run_until_idle(self.svc, self.checks)

    async def advance(self, delta: timedelta | float) -> None:
        """Move the clock forward by `delta`, doing what falls due on the way."""
        if self.clock is None:
            await asyncio.sleep(delta.total_seconds() if isinstance(delta, timedelta)
                                else delta)
            return
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        target = self.clock() + step
        await self.run_until_idle()
        for _ in range(MAX_DUE_POINTS):
            due = await next_due(self.svc)
            if due is None or due > target:
                break
            self.clock.set(due)
            await self.run_until_idle()
        else:
            raise AssertionError(f"more than {MAX_DUE_POINTS} due points in {step}: "
                                 "give the world longer schedules for such a stretch")
        self.clock.set(target)
        await self.run_until_idle()

    async def wait_for(self, what: str, probe: Callable[[], Awaitable[bool]],
                       timeout: float = 20.0) -> None:
        """Until `probe` holds: on the manual clock, run what is due and move the clock
        to the next due work (at most `timeout` simulated minutes); on the wall
        clock, poll while the background workers run."""
        if self.clock is None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if await probe():
                    return
                await asyncio.sleep(0.05)
            raise AssertionError(f"timed out waiting for {what}")
        limit = self.clock() + timedelta(minutes=timeout)
        while True:
            await self.run_until_idle()
            if await probe():
                return
            due = await next_due(self.svc)
            if due is None or due > limit:
                raise AssertionError(f"{what}: never happened (nothing more is due)")
            self.clock.set(due)

    async def pause(self, seconds: float) -> None:
        """Let the service's workers run for a while (to show that nothing happens)."""
        await self.advance(timedelta(seconds=seconds))

    async def end_gathering(self) -> int:
        """Make every gathering notice due now (as if its batch window had passed), so a
        test can use a long window, act inside it whatever the machine's speed, then
        let the notices go. Returns how many there were."""
        async with self.svc.sessions() as session, session.begin():
            result = await session.execute(
                update(Notice).where(Notice.status == "queued")
                .values(next_attempt_at=self.svc.clock()))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def wait_status(self, case_id: int, *statuses: str, timeout: float = 20.0) -> None:
        async def probe() -> bool:
            return (await self.case(case_id))["status"] in statuses

        await self.wait_for(f"case {case_id} to be {'/'.join(statuses)}", probe, timeout)


async def add_sites(stack: contextlib.AsyncExitStack, zone: Zone, rdap: RdapServer, *,
                    names_per_site: int = 0, body_size: int = 200_000,
                    ) -> tuple[dict[str, HostingServer], list[tuple[str, str]]]:
    """The hosting sites of SITES on loopback: a hosting server each (answering PATH
    with 200 and an image type), its network at RDAP and Team Cymru, its names in the
    zone, and the registrar of example.com/.net. With `names_per_site` 0 each site has
    its own name (`us-files.example.com`; the CDN's `www.example.net`, a CNAME); with
    N, N names each (`h7.us-files.example.com`; `w7.example.net` on the CDN), listed
    round-robin over the sites so that consecutive names land on different sites.
    Returns the servers by site and the (site, name) pairs."""
    hosts: dict[str, HostingServer] = {}
    per_site: dict[str, list[str]] = {}
    for site in SITES.values():
        server = await stack.enter_async_context(HostingServer(site.ip))
        server.route(PATH, status=200, headers={"Content-Type": "image/jpeg"},
                     body_size=body_size)
        hosts[site.name] = server
        rdap.add_ip_network(site.network, site.country, site.abuse, site.as_name,
                            style="arin" if site.country == "US" else "ripe")
        add_cymru(zone, site.ip, site.asn, site.network, site.country, site.as_name)
        # The upstream of each network (RDAP autnum); AS13335 is not in the test
        # bootstrap's asn.json: no upstream contact for the CDN's edge.
        rdap.add_autnum(site.asn, site.as_name, transit_abuse(site))
        if site.name == "cdn":
            zone.add("www.example.net.cdn.cloudflare.net", "A", site.ip)
        if names_per_site == 0:
            names = [site.hostname]
        elif site.name == "cdn":
            names = [f"w{i}.example.net" for i in range(names_per_site)]
        else:
            names = [f"h{i}.{site.hostname}" for i in range(names_per_site)]
        for name in names:
            if site.name == "cdn":
                zone.add(name, "CNAME", "www.example.net.cdn.cloudflare.net")
            else:
                zone.add(name, "A", site.ip)
        per_site[site.name] = names
    for domain in ("example.com", "example.net"):
        rdap.add_domain(domain, "Example Registrar, Inc.", "9999", "abuse@registrar.example")
    count = max(names_per_site, 1)
    pairs = [(site, per_site[site][i]) for i in range(count) for site in per_site]
    return hosts, pairs


def world_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "NTTD_DATABASE_URL": database_url,
        "NTTD_HOME_COUNTRY": "GB",
        "NTTD_ALLOW_PRIVATE_TARGETS": "1",
        "NTTD_NOTICE_FROM": "hotline@home-hotline.example",
        "NTTD_RECHECK_SCHEDULE": "200ms",
        "NTTD_REMOVAL_CONFIRMATIONS": "2",
        "NTTD_REMOVAL_CONFIRM_SPACING": "200ms",
        "NTTD_REAPPEARANCE_SCHEDULE": "200ms",
        "NTTD_NOTICE_BATCH_WINDOW": "0s",
        "NTTD_NOTICE_RETRY_SCHEDULE": "200ms",
        "NTTD_WORKER_POLL_INTERVAL": "50ms",
        "NTTD_LEASE_DURATION": "10s",
    }
    values.update(overrides)
    return Settings.load(values)


@contextlib.asynccontextmanager
async def running_world(database_url: str, tmp_path: Path, *, wall_clock: bool = False,
                        **overrides: Any) -> AsyncIterator[World]:
    """nttd on the loopback internet. By default on a manual clock with no background
    workers: tests move time with `advance`/`wait_for`. With `wall_clock`, the
    service's workers run in the background as in production."""
    zone = Zone()
    async with contextlib.AsyncExitStack() as stack:
        # argon2id at the production cost takes ~0.4 s a hash here; worlds hash at the
        # cheapest cost (tests/web/test_passwords.py holds production to account).
        stack.enter_context(mock.patch.object(auth, "_ARGON2", CHEAP_HASHER))
        dns = await stack.enter_async_context(DnsServer(zone))
        rdap = await stack.enter_async_context(RdapServer())
        smtp = await stack.enter_async_context(SmtpSink())
        webhook = await stack.enter_async_context(WebhookReceiver())
        hosts, _ = await add_sites(stack, zone, rdap, body_size=200_000)
        bootstrap = rdap.write_bootstrap(tmp_path / "bootstrap")

        env = {"NTTD_DNS_SERVERS": dns.address, "NTTD_RDAP_BOOTSTRAP": str(bootstrap),
               "NTTD_SMTP_URL": smtp.url}
        env.update(overrides)
        settings = world_settings(database_url, **env)
        clock = None if wall_clock else ManualClock(utcnow().replace(microsecond=0))
        svc = await Services.start(settings, clock=clock or utcnow)
        stack.push_async_callback(svc.close)
        await upgrade(svc.engine)
        partners = tmp_path / "partners.toml"
        partners.write_text(partner_file(webhook.url))
        now = svc.clock()
        async with svc.sessions() as session, session.begin():
            await load_partners(session, read_partner_file(partners))
            for name, role, hotline in [("analyst", "analyst", None),
                                        ("nl", "partner", "nl-partner"),
                                        ("de", "partner", "de-partner"),
                                        ("coordinator", "coordinator", None)]:
                await add_user(session, name, role, password="correct horse battery",
                               hotline_code=hotline, now=now)
        tokens = {}
        async with svc.sessions() as session, session.begin():
            for name in ("analyst", "nl", "de", "coordinator"):
                tokens[name] = await create_token(session, name, now=now)

        runner = web.AppRunner(make_app(svc, with_workers=wall_clock), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        http = await stack.enter_async_context(aiohttp.ClientSession(trust_env=False))
        yield World(zone, dns, rdap, hosts, smtp, webhook, settings, svc,
                    f"http://127.0.0.1:{port}", http, tokens, clock, runner=runner)


def mails_to(world: World, address: str) -> list[Any]:
    """The messages the SMTP sink took for `address`."""
    return [m.message for m in world.smtp.messages if address in m.rcpt_tos]


def text_part(message: Any) -> str:
    """The one text/plain part of a notice."""
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    return str(part.get_content())


async def submit_url(world: World, url: str) -> int:
    """Submit one URL through the API, let the workers run, return the case id."""
    status, body = await world.api("POST", "/api/v1/cases", json={"urls": [url]})
    assert status == 201, body
    await world.run_until_idle()
    return int(body["cases"][0]["id"])
