"""What the fault tests share: a loopback internet for real `nttd serve` / `nttd
worker` processes, the processes themselves, and waits that poll for progress.

`LoopbackNet` is the five hosting sites of `tests.integration.world` with many host
names on each (`h7.us-files.example.com`), the RDAP server, the DNS zone, the SMTP
sink and the webhook receiver; `env()` is what an nttd process needs to reach them
(and nothing else: the processes are not under pytest-socket, so every lookup is
pointed at a stand-in and the WHOIS fallback is off).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
from sqlalchemy import func, select

from nttd.auth import add_user, create_token
from nttd.clock import utcnow
from nttd.db import make_engine, make_sessionmaker
from nttd.demo.standins.dns_server import DnsServer, Zone
from nttd.demo.standins.hosting import HostingServer
from nttd.demo.standins.rdap_server import RdapServer
from nttd.demo.standins.smtp_sink import SmtpSink
from nttd.demo.standins.webhook_receiver import WebhookReceiver
from nttd.migrate import upgrade
from nttd.models import Case, Notice
from nttd.partners import load_partners, read_partner_file
from tests.integration.world import PATH, add_sites, partner_file

# What a case is once nttd has done its part (a check may have come or not yet).
DONE = {"notified", "routed", "monitoring"}


@dataclass
class LoopbackNet:
    tmp_path: Path
    zone: Zone
    dns: DnsServer
    rdap: RdapServer
    hosts: dict[str, HostingServer]
    smtp: SmtpSink
    webhook: WebhookReceiver
    bootstrap: Path
    names: list[tuple[str, str]] = field(default_factory=list)  # (site, host name)

    def urls(self, count: int) -> list[str]:
        """`count` distinct URLs, spread round-robin over every host name."""
        result = []
        for n in range(count):
            site, name = self.names[n % len(self.names)]
            result.append(f"http://{name}:{self.hosts[site].port}{PATH}?n={n}")
        return result

    def env(self, database_url: str, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NTTD_")}
        env.update({
            "NTTD_DATABASE_URL": database_url,
            "NTTD_HOME_COUNTRY": "GB",
            "NTTD_ALLOW_PRIVATE_TARGETS": "1",
            "NTTD_NOTICE_FROM": "hotline@home-hotline.example",
            "NTTD_DNS_SERVERS": self.dns.address,
            "NTTD_RDAP_BOOTSTRAP": str(self.bootstrap),
            "NTTD_SMTP_URL": self.smtp.url,
            "NTTD_WHOIS_FALLBACK": "0",
            "NTTD_RECHECK_SCHEDULE": "1h",  # one check per case in a test's time
            "NTTD_NOTICE_BATCH_WINDOW": "0s",
            "NTTD_NOTICE_RETRY_SCHEDULE": "500ms",
            "NTTD_WORKER_POLL_INTERVAL": "50ms",
            "NTTD_LEASE_DURATION": "5s",
            "NTTD_CHECK_JITTER": "0",
        })
        env.update(overrides)
        return env


@contextlib.asynccontextmanager
async def loopback_net(tmp_path: Path, *, names_per_site: int = 16) -> AsyncIterator[LoopbackNet]:
    zone = Zone()
    async with contextlib.AsyncExitStack() as stack:
        dns = await stack.enter_async_context(DnsServer(zone))
        rdap = await stack.enter_async_context(RdapServer())
        smtp = await stack.enter_async_context(SmtpSink())
        webhook = await stack.enter_async_context(WebhookReceiver())
        hosts, names = await add_sites(stack, zone, rdap, names_per_site=names_per_site,
                                       body_size=1000)
        bootstrap = rdap.write_bootstrap(tmp_path / "bootstrap")
        yield LoopbackNet(tmp_path, zone, dns, rdap, hosts, smtp, webhook, bootstrap, names)


async def prepare_database(database_url: str, net: LoopbackNet) -> str:
    """The schema, the partner directory and an analyst; returns the analyst's token."""
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        partners = net.tmp_path / "partners.toml"
        partners.write_text(partner_file(net.webhook.url))
        sessions = make_sessionmaker(engine)
        now = utcnow()
        async with sessions() as session, session.begin():
            await load_partners(session, read_partner_file(partners))
            await add_user(session, "analyst", "analyst", password="correct horse battery",
                           hotline_code=None, now=now)
        async with sessions() as session, session.begin():
            return await create_token(session, "analyst", now=now)
    finally:
        await engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class NttdProcess:
    """A real `nttd serve` or `nttd worker`; its log goes to a file (a full pipe
    would stall a chatty process)."""

    name: str
    proc: asyncio.subprocess.Process
    log_path: Path
    log_file: IO[bytes]
    port: int | None = None

    @property
    def base_url(self) -> str:
        assert self.port is not None
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> str:
        """SIGTERM, wait for a clean exit (SIGKILL after 30 s); returns its log."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.log_file.close()
        return self.log_path.read_text(errors="replace")


async def start_nttd(command: str, env: dict[str, str], tmp_path: Path, name: str
                     ) -> NttdProcess:
    log_path = tmp_path / f"{name}.log"
    log_file = log_path.open("wb")
    args = [command]
    port = None
    if command == "serve":
        port = free_port()
        args += ["--host", "127.0.0.1", "--port", str(port)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nttd.cli", *args, env=env, cwd=tmp_path,
        stdout=log_file, stderr=log_file)
    process = NttdProcess(name, proc, log_path, log_file, port)
    if port is not None:
        async def up() -> bool:
            if proc.returncode is not None:
                raise AssertionError(f"{name} exited: {process.log()[-3000:]}")
            return await healthz(process.base_url) is not None

        await wait_until(f"{name} to answer /healthz", up, cap=90)
    return process


async def healthz(base_url: str) -> tuple[int, Any] | None:
    """(status, body) of GET /healthz, or None when nothing answers."""
    try:
        async with aiohttp.ClientSession(trust_env=False) as http, http.get(
                base_url + "/healthz", timeout=aiohttp.ClientTimeout(total=10)) as resp:
            return resp.status, await resp.json()
    except (aiohttp.ClientError, TimeoutError):
        return None


async def wait_until(what: str, probe: Callable[[], Awaitable[bool]], *, cap: float,
                     every: float = 0.2) -> float:
    """Poll `probe` until it holds; fail after `cap` seconds. Returns the seconds taken."""
    start = time.monotonic()
    while True:
        if await probe():
            return time.monotonic() - start
        if time.monotonic() - start > cap:
            raise AssertionError(f"timed out after {cap:.0f} s waiting for {what}")
        await asyncio.sleep(every)


async def wait_for_progress(what: str, measure: Callable[[], Awaitable[tuple[int, int]]], *,
                            stall: float = 60.0, cap: float = 240.0) -> int:
    """Poll `measure` (done, wanted) until done reaches wanted; fail when done has not
    changed for `stall` seconds (or after `cap` in all). A loaded machine is slow, not
    stuck. Returns done."""
    start = last_change = time.monotonic()
    done, wanted = await measure()
    while done < wanted:
        now = time.monotonic()
        if now - last_change > stall or now - start > cap:
            raise AssertionError(f"{what}: stuck at {done} of {wanted} "
                                 f"after {now - start:.0f} s")
        await asyncio.sleep(0.25)
        new, wanted = await measure()
        if new != done:
            done, last_change = new, time.monotonic()
    return done


async def api_post(base_url: str, token: str, path: str, body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession(trust_env=False) as http, http.post(
            base_url + path, json=body, headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=120)) as resp:
        return resp.status, await resp.json()


async def submit_urls(base_url: str, token: str, urls: list[str], *, batch: int = 500
                      ) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(urls), batch):
        status, body = await api_post(base_url, token, "/api/v1/cases",
                                      {"urls": urls[start:start + batch]})
        assert status == 201, body
        ids += [c["id"] for c in body["cases"]]
    return ids


class Db:
    """Read-only looks at the database the processes share."""

    def __init__(self, database_url: str) -> None:
        self.engine = make_engine(database_url)
        self.sessions = make_sessionmaker(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def case_statuses(self) -> Counter[str]:
        async with self.sessions() as session:
            rows = (await session.execute(
                select(Case.status, func.count()).group_by(Case.status))).all()
        return Counter({status: int(count) for status, count in rows})

    async def cases_done(self) -> int:
        statuses = await self.case_statuses()
        return sum(statuses[s] for s in DONE)

    async def notice_statuses(self) -> Counter[str]:
        async with self.sessions() as session:
            rows = (await session.execute(
                select(Notice.status, func.count()).group_by(Notice.status))).all()
        return Counter({status: int(count) for status, count in rows})

    async def notices_sent(self) -> int:
        return (await self.notice_statuses())["sent"]

    async def all_done(self) -> tuple[int, int]:
        """(cases done + notices sent, cases + notices): equal when the work is done."""
        cases, notices = await self.case_statuses(), await self.notice_statuses()
        done = sum(cases[s] for s in DONE) + notices["sent"]
        return done, sum(cases.values()) + sum(notices.values())

    async def message_ids(self, channel: str) -> set[str]:
        async with self.sessions() as session:
            return set(await session.scalars(
                select(Notice.message_id).where(Notice.channel == channel)))


def duplicates(ids: list[str]) -> dict[str, int]:
    return {i: n for i, n in Counter(ids).items() if n > 1}
