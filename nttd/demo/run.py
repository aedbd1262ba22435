"""`nttd demo`: nttd on a small simulated internet, all of it on loopback.

The demo starts the stand-ins (a DNS server with Team Cymru answers, an RDAP
server, hosting servers on 127.0.x.y in several countries, two of the names
behind a CDN, a partner hotline's webhook, an SMTP sink), writes and loads a
partner directory, creates one user per role and prints their logins, runs nttd
(web UI, API and workers) on compressed schedules, feeds in URLs through the HTTP
API over time, and lets the hosts take content down after delays drawn per
country: some never, some come back later, one name moves to another network.

Nothing leaves loopback: DNS, RDAP, WHOIS (off), SMTP and webhooks all point at
the demo's own stand-ins, and every reported URL names one of the demo's hosts.
The mails the sink receives are written to a Maildir in the demo's directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import mailbox
import random
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import aiohttp

from nttd import migrate
from nttd.auth import add_user, create_token
from nttd.demo.partner import (
    Instance,
    Login,
    finish_wiring,
    partner_settings,
    prepare_wiring,
    serve,
    start_partner,
)
from nttd.demo.standins.dns_server import DnsServer, Zone, add_cymru
from nttd.demo.standins.hosting import HostingServer
from nttd.demo.standins.rdap_server import RdapServer
from nttd.demo.standins.smtp_sink import SmtpSink
from nttd.demo.standins.webhook_receiver import WebhookReceiver
from nttd.partners import load_partners, read_partner_file
from nttd.services import Services
from nttd.settings import Settings

log = logging.getLogger("nttd.demo")

FEED_BATCH = 10  # URLs per API request
TICK = 0.1  # seconds between looks at the host script
CDN_SUFFIX = ".cdn.cloudflare.net"


@dataclass(frozen=True)
class Network:
    """One hosting network: its server's address, RDAP and Team Cymru answers,
    the names it hosts, and how quickly its abuse desk takes content down."""

    name: str
    ip: str
    prefix: str
    country: str
    asn: int
    as_name: str
    abuse: str
    hostnames: tuple[str, ...]
    median_removal: float  # simulated seconds at speed 1
    never: float  # share of URLs never taken down
    cdn: bool = False  # the hostnames are CNAMEs to <name>.cdn.cloudflare.net


NETWORKS = (
    Network("nl-host", "127.0.1.1", "127.0.1.0/24", "NL", 64501, "NL-HOSTING",
            "abuse@nl-host.example", ("nl-files.example.com", "cdn-nl.example.org"), 20, 0.05),
    Network("de-host", "127.0.2.1", "127.0.2.0/24", "DE", 64502, "DE-HOSTING",
            "abuse@de-host.example", ("de-files.example.com", "bilder.example.net"), 30, 0.05),
    Network("us-host", "127.0.3.1", "127.0.3.0/24", "US", 64503, "US-HOSTING",
            "abuse@us-host.example", ("us-files.example.com", "moving.example.com"), 60, 0.2),
    Network("gb-host", "127.0.4.1", "127.0.4.0/24", "GB", 64504, "GB-HOSTING",
            "abuse@gb-host.example", ("gb-files.example.com",), 15, 0.0),
    Network("fr-host", "127.0.6.1", "127.0.6.0/24", "FR", 64506, "FR-HOSTING",
            "abuse@fr-host.example", ("fr-files.example.org",), 45, 0.15),
    Network("cdn", "127.0.5.1", "127.0.5.0/24", "US", 13335, "CLOUDFLARENET",
            "abuse@cloudflare.example", ("www.example.net", "media.example.org"), 40, 0.1,
            cdn=True),
)
MOVER = "moving.example.com"  # moves from us-host to de-host part way through
MOVE_TO = "de-host"
DOMAINS = ("example.com", "example.net", "example.org")


def partner_file(webhook_url: str, webhook_secret: str, nl_entry: str) -> str:
    return f"""\
# The demo's partner directory: our own hotline in GB, a partner in NL that runs nttd
# itself (a second instance in this process: cases go to its /api/v1/exchange and its
# statuses come back), one in FR that takes reports by webhook, and one in DE that
# takes them by e-mail.
[[hotline]]
code = "gb-home"
name = "Home Hotline (demo)"
countries = ["GB"]
self = true
{nl_entry}
[[hotline]]
code = "fr-partner"
name = "Partner Hotline FR (demo)"
countries = ["FR"]
language = "fr"
webhook_url = "{webhook_url}"
webhook_secret = "{webhook_secret}"

[[hotline]]
code = "de-partner"
name = "Partner Hotline DE (demo)"
countries = ["DE"]
language = "de"
email = "reports@partner-de.example"
"""


# One login per role: (name, role, partner hotline).
USERS = (("analyst", "analyst", None), ("partner-nl", "partner", "nl-partner"),
         ("coordinator", "coordinator", None), ("admin", "admin", None))


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8080
    database: str | None = None  # default: SQLite in the demo's directory
    urls: int = 300
    speed: float = 1.0  # > 1: everything happens sooner
    duration: float | None = None  # seconds; None: until stopped
    directory: Path | None = None  # default: a new temporary directory
    seed: int | None = None


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def demo_settings(options: Options, *, database_url: str, dns: str, bootstrap: Path,
                  smtp_url: str, public_url: str) -> Settings:
    """Compressed schedules: re-checks every few seconds, reminders in minutes."""
    s = 1.0 / options.speed

    def schedule(*seconds: float) -> str:
        return ",".join(_ms(x * s) for x in seconds)

    return Settings.load({
        "NTTD_DATABASE_URL": database_url,
        "NTTD_HOME_COUNTRY": "GB",
        "NTTD_DNS_SERVERS": dns,
        "NTTD_RDAP_BOOTSTRAP": str(bootstrap),
        "NTTD_SMTP_URL": smtp_url,
        "NTTD_NOTICE_FROM": "hotline@home-hotline.example",
        "NTTD_PUBLIC_URL": public_url,
        "NTTD_ALLOW_PRIVATE_TARGETS": "1",  # this process only: the targets are ours
        "NTTD_WHOIS_FALLBACK": "0",  # the RDAP stand-in answers for every name
        "NTTD_RECHECK_SCHEDULE": schedule(3, 6, 10),
        "NTTD_REMOVAL_CONFIRMATIONS": "2",
        "NTTD_REMOVAL_CONFIRM_SPACING": _ms(2 * s),
        "NTTD_REAPPEARANCE_SCHEDULE": schedule(5, 15, 30),
        "NTTD_REAPPEARANCE_WINDOW": _ms(600 * s),
        "NTTD_NOTICE_BATCH_WINDOW": _ms(3 * s),
        "NTTD_NOTICE_RETRY_SCHEDULE": schedule(2, 5, 10),
        "NTTD_REMINDER_SCHEDULE": schedule(60, 120, 180),
        "NTTD_HOST_BACKOFF_SCHEDULE": schedule(2, 5, 10),
        "NTTD_RERESOLVE_INTERVAL": _ms(10 * s),
        "NTTD_RDAP_CACHE_TTL": _ms(600 * s),
        "NTTD_CHECK_TIMEOUT": "5s",
        "NTTD_WORKER_POLL_INTERVAL": "200ms",
        "NTTD_LEASE_DURATION": "30s",
        "NTTD_STATS_MIN_GROUP": "3",
    })


@dataclass(order=True)
class _Event:
    at: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    what: str = field(compare=False, default="")


class Demo:
    """The demo's world. `async with Demo(options) as demo: await demo.run(stop)`."""

    def __init__(self, options: Options, out: TextIO | None = None) -> None:
        self.options = options
        self.out = out
        self.rng = random.Random(options.seed)
        self.zone = Zone()
        self.hosts: dict[str, HostingServer] = {}
        self.logins: list[Login] = []
        self.url = ""
        self.fed = 0
        self.events: list[_Event] = []
        self._seq = itertools.count()
        self._stack = contextlib.AsyncExitStack()
        self._mails_written = 0
        self._hooks_written = 0
        self._started = 0.0
        self.svc: Services | None = None

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    async def __aenter__(self) -> Demo:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._write_mail()
        await self._stack.aclose()

    # -- the simulated internet ----------------------------------------------

    async def _start(self) -> None:
        options = self.options
        stack = self._stack
        if options.directory is None:
            self.directory = Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="nttd-demo-")))
        else:
            self.directory = options.directory
            self.directory.mkdir(parents=True, exist_ok=True)
        self.dns = await stack.enter_async_context(DnsServer(self.zone))
        self.rdap = await stack.enter_async_context(RdapServer())
        self.smtp = await stack.enter_async_context(SmtpSink())
        self.webhook = await stack.enter_async_context(WebhookReceiver())
        await self._start_hosts()
        for net in NETWORKS:
            self.rdap.add_ip_network(net.prefix, net.country, net.abuse, net.as_name,
                                     style="arin" if net.country == "US" else "ripe")
            add_cymru(self.zone, net.ip, net.asn, net.prefix, net.country, net.as_name)
            # the upstream's abuse desk (RDAP autnum): the ladder's "upstream" rung
            self.rdap.add_autnum(net.asn, net.as_name,
                                 f"abuse@transit-{net.as_name.lower()}.example")
            for hostname in net.hostnames:
                if net.cdn:
                    self.zone.add(hostname, "CNAME", hostname + CDN_SUFFIX)
                    self.zone.add(hostname + CDN_SUFFIX, "A", net.ip)
                else:
                    self.zone.add(hostname, "A", net.ip, ttl=5)
        for domain in DOMAINS:
            self.rdap.add_domain(domain, "Example Registrar, Inc.", "9999",
                                 "abuse@registrar.example")
        bootstrap = self.rdap.write_bootstrap(self.directory / "bootstrap")
        self.maildir = mailbox.Maildir(self.directory / "mail", create=True)
        self.hooks_file = self.directory / "webhooks.jsonl"
        self.hooks_file.touch()

        database = options.database or f"sqlite+aiosqlite:///{self.directory / 'nttd.db'}"
        shown_host = options.host if ":" not in options.host else f"[{options.host}]"
        settings = demo_settings(options, database_url=database, dns=self.dns.address,
                                 bootstrap=bootstrap, smtp_url=self.smtp.url,
                                 public_url=f"http://{shown_host}:{options.port}")
        self.svc = svc = await Services.start(settings)
        stack.push_async_callback(svc.close)
        if await migrate.current_revision(svc.engine) != migrate.head_revision():
            await migrate.upgrade(svc.engine)
        # The NL partner's own nttd, on the next port, with its own SQLite file.
        self.partner: Instance = await start_partner(
            stack, partner_settings(settings, self.directory / "partner-nl.db"), options.host,
            options.port + 1 if options.port else 0)

        from nttd.app import make_app  # the whole service: web UI, API and workers
        from nttd.demo.mailview import add_mail_routes

        app = make_app(svc)
        add_mail_routes(app, lambda: self.smtp.messages)
        self.url = await serve(stack, app, options.host, options.port)
        secret = secrets.token_urlsafe(24)
        nl_entry = await prepare_wiring(self.partner, self.url, secret)
        partners = self.directory / "partners.toml"
        partners.write_text(partner_file(self.webhook.url, secrets.token_urlsafe(24),
                                         nl_entry))
        now = svc.clock()
        async with svc.sessions() as session, session.begin():
            await load_partners(session, read_partner_file(partners))
        await finish_wiring(svc, self.url, self.partner, secret)
        for name, role, hotline in USERS:
            login = Login(f"demo-{name}-{secrets.token_hex(2)}", role,
                          secrets.token_urlsafe(12))
            async with svc.sessions() as session, session.begin():
                await add_user(session, login.name, role, password=login.password,
                               hotline_code=hotline, now=now)
            self.logins.append(login)
        async with svc.sessions() as session, session.begin():
            self.token = await create_token(session, self.logins[0].name, now=now)
        self.http = await stack.enter_async_context(aiohttp.ClientSession(trust_env=False))

    async def _start_hosts(self) -> None:
        """One hosting server per network, all on one port (so a name can move)."""
        for _ in range(20):
            hosts: dict[str, HostingServer] = {}
            port = 0
            try:
                for net in NETWORKS:
                    server = HostingServer(net.ip, port)
                    hosts[net.name] = await server.start()
                    port = server.port
            except OSError:
                for server in hosts.values():
                    await server.stop()
                continue
            for server in hosts.values():
                self._stack.push_async_callback(server.stop)
            self.hosts = hosts
            return
        raise OSError("no free port for the hosting servers on every demo address")

    # -- what the hosts do -----------------------------------------------------

    def _at(self, delay: float, action: Callable[[], None], what: str = "") -> None:
        when = asyncio.get_running_loop().time() + delay / self.options.speed
        heapq.heappush(self.events, _Event(when, next(self._seq), action, what))

    def _put_online(self, net: Network, hostname: str, path: str) -> None:
        server = self.hosts[net.name]
        server.route(path, status=200, headers={"Content-Type": "image/jpeg"}, body_size=4096)
        if hostname == MOVER:  # the content is there before and after the move
            self.hosts[MOVE_TO].route(path, status=200, headers={"Content-Type": "image/jpeg"},
                                      body_size=4096)

    def _take_down(self, net: Network, hostname: str, path: str) -> None:
        self.hosts[net.name].route(path, status=404)
        if hostname == MOVER:
            self.hosts[MOVE_TO].route(path, status=404)

    def new_url(self, index: int) -> str:
        """A URL on one of the hosts, online now, with its fate scheduled."""
        net = self.rng.choice(NETWORKS)
        hostname = self.rng.choice(net.hostnames)
        path = f"/files/{index:05d}/{secrets.token_hex(4)}.jpg"
        self._put_online(net, hostname, path)
        port = self.hosts[net.name].port
        fate = self.rng.random()
        if fate >= net.never:  # it is taken down after a while
            delay = self.rng.lognormvariate(0, 0.6) * net.median_removal
            self._at(delay, lambda: self._take_down(net, hostname, path), "removed")
            if self.rng.random() < 0.1:  # and comes back later
                back = delay + self.rng.uniform(20, 60)
                self._at(back, lambda: self._put_online(net, hostname, path), "back")
                self._at(back + self.rng.uniform(30, 90),
                         lambda: self._take_down(net, hostname, path), "removed again")
        return f"http://{hostname}:{port}{path}"

    def _move(self) -> None:
        target = next(n for n in NETWORKS if n.name == MOVE_TO)
        self.zone.replace(MOVER, "A", target.ip)
        log.info("%s moved to %s (%s)", MOVER, target.name, target.country)

    def zone_addresses(self) -> list[str]:
        """Every address the demo's DNS stand-in hands out for a name."""
        return [value for records in self.zone.records.values()
                for rdtype, value, _ in records if rdtype in ("A", "AAAA")]

    def _run_due(self) -> None:
        now = asyncio.get_running_loop().time()
        while self.events and self.events[0].at <= now:
            heapq.heappop(self.events).action()

    # -- feeding and watching ------------------------------------------------

    async def _feed(self, urls: list[str]) -> None:
        async with self.http.post(self.url + "api/v1/cases",
                                  json={"urls": urls, "classification": "demo",
                                        "reference": "nttd demo"},
                                  headers={"Authorization": f"Bearer {self.token}"}) as resp:
            if resp.status != 201:
                log.warning("intake refused a batch: %s %s", resp.status, await resp.text())
                return
        self.fed += len(urls)

    def _write_mail(self) -> None:
        for mail in self.smtp.messages[self._mails_written:]:
            self.maildir.add(mail.raw)
        self._mails_written = len(self.smtp.messages)
        hooks = self.webhook.requests[self._hooks_written:]
        if hooks:
            with self.hooks_file.open("a", encoding="utf-8") as f:
                for hook in hooks:
                    f.write(json.dumps({"path": hook.path, "body": hook.json}) + "\n")
            self._hooks_written = len(self.webhook.requests)

    def banner(self) -> None:
        self.say(f"nttd demo: open {self.url} and sign in with one of these logins")
        for login in self.logins:
            self.say(f"  login {login.role:<12} {login.name:<28} password {login.password}")
        self.say(f"  database      {self._shown_database()}")
        self.say(f"  mail the SMTP sink received: {self.url}demo/mail (signed in), "
                 f"and the Maildir {self.directory / 'mail'}")
        self.say(f"  the NL partner hotline runs nttd too: {self.partner.url} "
                 "(its own database; cases reach it through the exchange, its statuses "
                 "come back)")
        for login in self.partner.logins:
            self.say(f"  NL partner's login {login.role:<12} {login.name:<21} "
                     f"password {login.password}")
        self.say(f"  partner webhooks (FR) are written to {self.hooks_file}")
        self.say(f"  {self.options.urls} URLs arrive over the next "
                 f"{round(self._feed_span())} s; Ctrl-C stops the demo")

    def _shown_database(self) -> str:
        assert self.svc is not None
        return self.svc.engine.url.render_as_string(hide_password=True)

    def _feed_span(self) -> float:
        return 60.0 / self.options.speed

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Feed the URLs over time and play the hosts' script until `stop` is set
        or the duration has passed."""
        stop = stop or asyncio.Event()
        self.banner()
        loop = asyncio.get_running_loop()
        start = loop.time()
        total = self.options.urls
        batches = max(1, -(-total // FEED_BATCH))
        spacing = self._feed_span() / batches
        self._at(30, self._move, "move")  # half way through the feeding (at speed 1)
        index = 0
        next_feed = start
        end = None if self.options.duration is None else start + self.options.duration
        while not stop.is_set() and (end is None or loop.time() < end):
            if index < total and loop.time() >= next_feed:
                count = min(FEED_BATCH, total - index)
                urls = [self.new_url(index + i) for i in range(count)]
                index += count
                next_feed += spacing
                await self._feed(urls)
            self._run_due()
            self._write_mail()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK)


async def run_demo(options: Options, out: TextIO | None = None,
                   stop: asyncio.Event | None = None) -> int:
    async with Demo(options, out) as demo:
        await demo.run(stop)
        demo.say(f"nttd demo: stopping ({demo.fed} URLs fed, "
                 f"{len(demo.smtp.messages)} mails, {len(demo.webhook.requests)} webhooks)")
    return 0
