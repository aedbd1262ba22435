"""The service's seams, built once from Settings: database, clock, DNS resolver,
HTTP session, RDAP bootstrap, notice renderer, SMTP settings and checker.

Tests build the same object with loopback stand-ins behind each seam.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import aiohttp
import dns.asyncresolver
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from notices.mail import SmtpConfig, parse_smtp_url
from notices.render import NoticeRenderer
from nttd.auth import TokenUsage
from nttd.clock import utcnow
from nttd.db import READ_ONLY, is_sqlite, make_engine, make_sessionmaker
from nttd.factcache import DatabaseFactCache
from nttd.resources import templates_dir
from nttd.settings import Settings, SettingsError
from resolvers.cache import FactCache, MemoryFactCache
from resolvers.dns import make_resolver
from resolvers.geoip import GeoIp, GeoIpError
from resolvers.rdap import Bootstrap
from resolvers.rdap_client import RdapLimits
from resolvers.resolve import ResolverContext
from resolvers.whois import WhoisConfig

if TYPE_CHECKING:
    from nttd.checks import Checker

TEMPLATES = templates_dir()


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    dns: dns.asyncresolver.Resolver
    http: aiohttp.ClientSession
    bootstrap: Bootstrap
    renderer: NoticeRenderer
    checker: Checker
    smtp: SmtpConfig | None
    # Built once: its fact cache and in-flight lookups are shared by every case.
    resolver_context: ResolverContext
    clock: Callable[[], datetime] = utcnow
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    _read_sessions: async_sessionmaker[AsyncSession] | None = field(default=None, repr=False)
    _token_usage: TokenUsage | None = field(default=None, repr=False)

    @property
    def token_usage(self) -> TokenUsage:
        """Records when API tokens were last used, off the requests' path."""
        if self._token_usage is None:
            self._token_usage = TokenUsage(self.sessions)
        return self._token_usage

    @property
    def read_sessions(self) -> async_sessionmaker[AsyncSession]:
        """Sessions that only read: on SQLite they neither take nor wait for the write
        lock (every other transaction begins IMMEDIATE). Never write through them."""
        if self._read_sessions is None:
            self._read_sessions = make_sessionmaker(
                self.engine.execution_options(**{READ_ONLY: True}))
        return self._read_sessions

    @property
    def uncached_resolver_context(self) -> ResolverContext:
        """The same seams without the fact cache (move detection must see changes)."""
        return dataclasses.replace(self.resolver_context, cache=None)

    @classmethod
    async def start(
        cls, settings: Settings, *, clock: Callable[[], datetime] = utcnow
    ) -> Services:
        try:
            smtp = parse_smtp_url(settings.smtp_url) if settings.smtp_url else None
        except ValueError as exc:
            raise SettingsError(f"NTTD_SMTP_URL: {exc}") from None
        resolver = make_resolver(list(settings.dns_servers) or None)
        http = aiohttp.ClientSession(
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=30, connect=10),
            headers={"User-Agent": "nttd/0.1 (notice-and-takedown coordination)"},
        )
        try:
            bootstrap = await load_bootstrap(settings.rdap_bootstrap, http)
        except Exception:
            await http.close()
            raise
        engine = make_engine(settings.database_url)
        shared = settings.fact_cache == "database" or (
            settings.fact_cache == "auto" and not is_sqlite(settings.database_url))
        fact_cache: FactCache = (DatabaseFactCache(engine, clock=clock) if shared
                                 else MemoryFactCache())
        try:
            context = resolver_context(settings, resolver=resolver, http=http, bootstrap=bootstrap,
                                       clock=clock, cache=fact_cache)
        except SettingsError:
            await http.close()
            await engine.dispose()
            raise
        from nttd.checks import Checker  # the probe is a domain object: built here, once

        checker = Checker(resolver, allow_private=settings.allow_private_targets, clock=clock,
                          timeout=settings.check_timeout.total_seconds())
        await checker.__aenter__()
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            dns=resolver,
            http=http,
            bootstrap=bootstrap,
            renderer=NoticeRenderer(TEMPLATES),
            checker=checker,
            smtp=smtp,
            resolver_context=context,
            clock=clock,
        )

    async def close(self) -> None:
        if self._token_usage is not None:
            await self._token_usage.flush()
        await self.checker.close()
        close_resolver_context(self.resolver_context)
        await self.http.close()
        await self.engine.dispose()


def resolver_context(settings: Settings, *, resolver: dns.asyncresolver.Resolver,
                     http: aiohttp.ClientSession, bootstrap: Bootstrap,
                     clock: Callable[[], datetime] = utcnow,
                     cache: FactCache | None = None) -> ResolverContext:
    """The resolvers' context the settings describe, for the service and `nttd resolve`.
    It opens the GeoIP database and may start WHOIS threads: close_resolver_context()."""
    return ResolverContext(
        dns=resolver, http=http, bootstrap=bootstrap,
        allow_private=settings.allow_private_targets, clock=clock, cache=cache,
        rdap_limits=RdapLimits(ttl=settings.rdap_cache_ttl.total_seconds()),
        geoip=open_geoip(settings.geoip_db),
        whois=whois_config(settings),
    )


def close_resolver_context(context: ResolverContext) -> None:
    if context.geoip is not None:
        context.geoip.close()
    if context.whois is not None:
        context.whois.close()


def open_geoip(path: str | None) -> GeoIp | None:
    """The GeoIP database NTTD_GEOIP_DB names, or None when it names none."""
    if not path:
        return None
    try:
        return GeoIp.open(path)
    except GeoIpError as exc:
        raise SettingsError(f"NTTD_GEOIP_DB: {exc}") from None


def whois_config(settings: Settings) -> WhoisConfig | None:
    """The port-43 WHOIS fallback NTTD_WHOIS_* describe, or None when it is off."""
    if not settings.whois_fallback:
        return None
    return WhoisConfig(servers=dict(settings.whois_servers),
                       timeout=settings.whois_timeout.total_seconds(),
                       allow_private=settings.allow_private_targets)


async def load_bootstrap(source: str | None, http: aiohttp.ClientSession) -> Bootstrap:
    if source and source.startswith(("http://", "https://")):
        return await Bootstrap.fetch(source, http)
    try:
        return Bootstrap.load(source)
    except (OSError, ValueError) as exc:
        raise SettingsError(f"NTTD_RDAP_BOOTSTRAP: cannot load {source!r}: {exc}") from None
