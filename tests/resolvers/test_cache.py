"""The fact cache, coalescing, and what a cached resolution asks of the outside world."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta

import aiohttp
import dns.asyncresolver
import pytest

from nttd.demo.standins.dns_server import DnsServer, Zone, add_cymru
from nttd.demo.standins.rdap_server import RdapServer
from resolvers.cache import Inflight, MemoryFactCache, networks_of_range
from resolvers.dns import make_resolver
from resolvers.rdap import Bootstrap
from resolvers.resolve import ResolverContext, resolve_url

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


class Ticker:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_cache_ttl_and_lru() -> None:
    clock = Ticker()
    cache = MemoryFactCache(max_entries=2, clock=clock)
    await cache.set("dns", "a", {"x": 1}, ttl=10)
    await cache.set("dns", "skip", {"x": 0}, ttl=0)
    assert await cache.get("dns", "a") == {"x": 1}
    assert await cache.get("dns", "skip") is None
    clock.now += 10
    assert await cache.get("dns", "a") is None  # expired
    await cache.set("dns", "a", 1, ttl=60)
    await cache.set("dns", "b", 2, ttl=60)
    assert await cache.get("dns", "a") == 1  # a is now the most recently used
    await cache.set("dns", "c", 3, ttl=60)
    assert (await cache.get("dns", "a"), await cache.get("dns", "b")) == (1, None)
    assert len(cache) == 2
    with pytest.raises(ValueError):
        MemoryFactCache(max_entries=0)


async def test_memory_cache_networks_most_specific_wins() -> None:
    cache = MemoryFactCache()
    await cache.set_network("cymru", ["192.0.2.0/24"], "wide", ttl=60)
    await cache.set_network("cymru", ["192.0.2.128/25"], "narrow", ttl=60)
    await cache.set_network("cymru", ["2001:db8::/32"], "v6", ttl=60)
    assert await cache.get_network("cymru", "192.0.2.200") == "narrow"
    assert await cache.get_network("cymru", "192.0.2.1") == "wide"
    assert await cache.get_network("cymru", "198.51.100.1") is None
    assert await cache.get_network("cymru", "2001:db8::99") == "v6"
    assert await cache.get_network("rdap-ip", "192.0.2.1") is None  # kinds are apart
    assert await cache.get_network("cymru", "not an address") is None


def test_networks_of_range() -> None:
    assert networks_of_range("192.0.2.0", "192.0.2.255") == ["192.0.2.0/24"]
    assert networks_of_range("192.0.2.0", "192.0.3.127") == ["192.0.2.0/24", "192.0.3.0/25"]
    assert networks_of_range("192.0.2.9", "2001:db8::") == []
    assert networks_of_range("nonsense", "192.0.2.1") == []


async def test_inflight_runs_identical_lookups_once() -> None:
    inflight = Inflight()
    calls = 0
    release = asyncio.Event()

    async def lookup() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "answer"

    waiters = [asyncio.create_task(inflight.run("dns", "k", lookup)) for _ in range(20)]
    await asyncio.sleep(0)
    waiters[0].cancel()  # a cancelled caller does not cancel the shared lookup
    release.set()
    results = await asyncio.gather(*waiters[1:])
    assert results == ["answer"] * 19 and calls == 1
    assert (inflight.started, inflight.joined) == (1, 19)
    assert await inflight.run("dns", "k", lookup) == "answer" and calls == 2  # done: runs anew


@pytest.fixture
def many(zone: Zone, rdap: RdapServer) -> Zone:
    """Ten hosts in one network, all under example.com, one TTL of 1 s."""
    for n in range(10):
        zone.add(f"h{n}.example.com", "A", f"127.0.0.{n + 10}", ttl=1)
        add_cymru(zone, f"127.0.0.{n + 10}", 64500, "127.0.0.0/24", "NL", "HOSTER-AS")
    rdap.add_ip_network("127.0.0.0/24", "NL", "abuse@hoster.example", "HOSTER-NET")
    rdap.add_domain("example.com", "Registrar Example", "9999", "abuse@registrar.example")
    return zone


def _ctx(resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
         bootstrap: Bootstrap, cache: MemoryFactCache | None) -> ResolverContext:
    return ResolverContext(dns=resolver, http=http, bootstrap=bootstrap, allow_private=True,
                           clock=lambda: NOW, cache=cache)


@pytest.fixture
def patient(dns_server: DnsServer) -> dns.asyncresolver.Resolver:
    """A resolver that never retries a query on a loaded machine (the tests count them)."""
    return make_resolver([dns_server.address], timeout=5, lifetime=10)


async def test_concurrent_cases_on_one_host_ask_once(
    many: Zone, dns_server: DnsServer, rdap: RdapServer, patient: dns.asyncresolver.Resolver,
    http: aiohttp.ClientSession, bootstrap: Bootstrap,
) -> None:
    ctx = _ctx(patient, http, bootstrap, MemoryFactCache())
    urls = [f"http://h{n % 10}.example.com/{n}.jpg" for n in range(200)]
    results = await asyncio.gather(*(resolve_url(url, ctx) for url in urls))
    assert all(r.errors == () and r.hosting is not None for r in results)
    assert all(r.hosting and r.hosting.abuse_emails == ("abuse@hoster.example",)
               for r in results)
    assert max(dns_server.queries.values()) == 1  # every (name, type) asked once
    assert sum(n for (_, t), n in dns_server.queries.items() if t == "A") == 10
    assert sum(n for p, n in rdap.requests.items() if p.startswith("/ip/")) == 1  # one prefix
    assert rdap.requests["/domain/example.com"] == 1
    assert rdap.requests["/registrar/domain/example.com"] == 1


async def test_coalescing_without_a_cache(
    many: Zone, dns_server: DnsServer, rdap: RdapServer, patient: dns.asyncresolver.Resolver,
    http: aiohttp.ClientSession, bootstrap: Bootstrap,
) -> None:
    ctx = _ctx(patient, http, bootstrap, None)
    await asyncio.gather(*(resolve_url("http://h1.example.com/x", ctx) for _ in range(30)))
    assert dns_server.queries[("h1.example.com.", "A")] == 1
    await resolve_url("http://h1.example.com/x", ctx)  # nothing remembered afterwards
    assert dns_server.queries[("h1.example.com.", "A")] == 2


async def test_cache_respects_dns_ttl_and_keeps_the_time_found_out(
    many: Zone, dns_server: DnsServer, rdap: RdapServer, resolver: dns.asyncresolver.Resolver,
    http: aiohttp.ClientSession, bootstrap: Bootstrap,
) -> None:
    ticker = Ticker()
    cache = MemoryFactCache(clock=ticker)
    times = (NOW + timedelta(hours=n) for n in itertools.count())  # later at every reading
    ctx = ResolverContext(dns=resolver, http=http, bootstrap=bootstrap, allow_private=True,
                          clock=lambda: next(times), cache=cache)
    first = await resolve_url("http://h2.example.com/a", ctx)
    second = await resolve_url("http://h2.example.com/b", ctx)
    assert dns_server.queries[("h2.example.com.", "A")] == 1
    dns_at = second.source_of("dns")
    assert dns_at is not None and dns_at.at == first.source_of("dns").at  # type: ignore[union-attr]
    assert second.resolved_at > first.resolved_at
    ticker.now += 1.5  # past the 1 s TTL of the A record; RDAP is cached for a day
    await resolve_url("http://h2.example.com/c", ctx)
    assert dns_server.queries[("h2.example.com.", "A")] == 2
    assert sum(n for p, n in rdap.requests.items() if p.startswith("/ip/")) == 1
    # Every cached value is plain JSON, so a database-backed cache can hold it.
    for _, value in cache._entries.values():
        assert json.loads(json.dumps(value)) == value


async def test_an_address_outside_the_coalesced_network_asks_for_itself(
    zone: Zone, rdap: RdapServer, resolver: dns.asyncresolver.Resolver,
    http: aiohttp.ClientSession, bootstrap: Bootstrap,
) -> None:
    # Cymru announces a /16, the RIR has two customer networks inside it.
    for ip in ("127.1.0.5", "127.1.1.5"):
        zone.add(f"h{ip.replace('.', '-')}.example.net", "A", ip)
        add_cymru(zone, ip, 64510, "127.1.0.0/16", "DE", "BIG-AS")
    rdap.add_ip_network("127.1.0.0/24", "DE", "abuse@first.example", "FIRST")
    rdap.add_ip_network("127.1.1.0/24", "AT", "abuse@second.example", "SECOND")
    ctx = _ctx(resolver, http, bootstrap, MemoryFactCache())
    a, b = await asyncio.gather(resolve_url("http://h127-1-0-5.example.net/", ctx),
                                resolve_url("http://h127-1-1-5.example.net/", ctx))
    assert a.hosting and a.hosting.abuse_emails == ("abuse@first.example",)
    assert b.hosting and b.hosting.abuse_emails == ("abuse@second.example",)
    assert b.hosting.country == "AT"
