"""A warm resolution asks the fact cache only what it needs: once a network holds
an address (Team Cymru origin, RDAP network), the exact-address key is not asked
too. With the shared database cache every question is a database round trip."""

from __future__ import annotations

from collections import Counter
from typing import Any

import aiohttp
import dns.asyncresolver

from nttd.demo.standins.dns_server import Zone
from resolvers.cache import MemoryFactCache
from resolvers.rdap import Bootstrap
from resolvers.resolve import ResolverContext, resolve_url
from tests.resolvers.test_cache import NOW, many  # noqa: F401  (fixture)


class CountingCache(MemoryFactCache):
    """A memory cache that counts the questions asked of it, by (method, kind)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: Counter[tuple[str, str]] = Counter()

    async def get(self, kind: str, key: str) -> Any | None:
        self.asked[("get", kind)] += 1
        return await super().get(kind, key)

    async def get_network(self, kind: str, ip: str) -> Any | None:
        self.asked[("get_network", kind)] += 1
        return await super().get_network(kind, ip)


async def test_a_network_hit_is_not_followed_by_an_exact_key_lookup(
    many: Zone, resolver: dns.asyncresolver.Resolver,  # noqa: F811
    http: aiohttp.ClientSession, bootstrap: Bootstrap,
) -> None:
    cache = CountingCache()
    ctx = ResolverContext(dns=resolver, http=http, bootstrap=bootstrap, allow_private=True,
                          clock=lambda: NOW, cache=cache)
    first = await resolve_url("http://h1.example.com/a.jpg", ctx)
    assert first.hosting is not None and first.errors == ()
    cache.asked.clear()
    warm = await resolve_url("http://h2.example.com/b.jpg", ctx)  # same network
    assert warm.hosting is not None and warm.errors == ()
    assert warm.hosting.abuse_emails == ("abuse@hoster.example",)
    for kind in ("cymru", "rdap-ip"):
        assert cache.asked[("get_network", kind)] == 1, cache.asked
        assert cache.asked[("get", kind)] == 0, cache.asked
