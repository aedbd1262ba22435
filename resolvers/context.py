"""The outside world a resolution goes through, and what lookups share.

``ResolverContext`` is injected into ``resolve_url``: the DNS resolver, the
HTTP session, the RDAP bootstrap, the clock, and optionally a ``FactCache``.
Build it once and reuse it: its ``shared`` part (identical lookups in flight,
per-RDAP-server concurrency limits) only helps when every resolution goes
through the same context. Without a cache nothing is remembered between calls;
concurrent identical lookups are still made once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from dns.asyncresolver import Resolver as DnsResolver

from resolvers.bootstrap import Bootstrap
from resolvers.cache import FactCache, Inflight
from resolvers.geoip import GeoIp
from resolvers.rdap_client import RdapClient, RdapLimits
from resolvers.whois import WhoisConfig

__all__ = ["ResolverContext", "SharedLookups"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SharedLookups:
    """Per-process state shared by every resolution through one context."""

    def __init__(self) -> None:
        self.inflight = Inflight()
        self._rdap: RdapClient | None = None

    def rdap_client(self, session: aiohttp.ClientSession, limits: RdapLimits) -> RdapClient:
        """The one RDAP client of this context (built on first use)."""
        if self._rdap is None or self._rdap.session is not session:
            self._rdap = RdapClient(session, limits)
        return self._rdap


@dataclass(frozen=True)
class ResolverContext:
    """The outside world the resolution goes through (all injected)."""

    dns: DnsResolver
    http: aiohttp.ClientSession
    bootstrap: Bootstrap
    allow_private: bool = False
    clock: Callable[[], datetime] = field(default=_utc_now)
    cache: FactCache | None = None
    rdap_limits: RdapLimits = field(default_factory=RdapLimits)
    dns_ttl_cap: float = 3600.0  # a DNS answer is cached for min(its TTL, this) seconds
    cymru_ttl: float = 6 * 3600.0  # seconds a Team Cymru answer is cached
    max_addresses: int = 16  # addresses per host whose network is looked up
    geoip: GeoIp | None = None  # an optional GeoIP database (a second opinion on country)
    whois: WhoisConfig | None = None  # port-43 fallback where a TLD has no RDAP; None: off
    shared: SharedLookups = field(default_factory=SharedLookups, compare=False, repr=False)

    @property
    def rdap(self) -> RdapClient:
        """The RDAP client every lookup through this context shares."""
        return self.shared.rdap_client(self.http, self.rdap_limits)
