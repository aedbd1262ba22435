"""The fact cache in the database: shared by worker processes, expiring on the
service clock, most specific network first, never failing a resolution."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from nttd.db import is_sqlite, make_engine
from nttd.demo.standins.dns_server import DnsServer, Zone, add_cymru
from nttd.demo.standins.rdap_server import RdapServer
from nttd.factcache import (
    DatabaseFactCache,
    _candidates,
    delete_expired_facts,
    network_key,
)
from nttd.migrate import upgrade
from nttd.models import FactCacheEntry
from nttd.services import Services
from nttd.settings import Settings
from nttd.workers import run_until_idle
from resolvers.cache import MemoryFactCache
from resolvers.dns import make_resolver
from resolvers.rdap import Bootstrap
from resolvers.resolve import Resolution, ResolverContext, resolve_url

START = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


class Clock:
    """The service clock, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two engines on one migrated database: two worker processes."""
    first, second = make_engine(database_url), make_engine(database_url)
    try:
        await upgrade(first)
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


async def rows(engine: AsyncEngine) -> dict[tuple[str, str], datetime]:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(FactCacheEntry.kind, FactCacheEntry.key, FactCacheEntry.expires_at))
        return {(kind, key): at for kind, key, at in result}


async def test_get_set_expiry_and_json_round_trip(
        engines: tuple[AsyncEngine, AsyncEngine], clock: Clock) -> None:
    engine, _ = engines
    cache = DatabaseFactCache(engine, clock=clock)
    value = {"at": "2024-05-06T07:08:09+00:00", "value": {
        "chain": ["a.example.net"], "addresses": ["192.0.2.1", "2001:db8::1"],
        "nxdomain": False, "error": None, "ttl": 300, "name": "Zoë Hosting ✓", "share": 0.5}}
    await cache.set("dns", "www.example.com|A", value, ttl=10)
    await cache.set("dns", "zero.example.com|A", {"x": 1}, ttl=0)
    await cache.set("dns", "negative.example.com|A", {"x": 1}, ttl=-5)
    await cache.set("dns", "nan.example.com|A", {"x": 1}, ttl=float("nan"))
    await cache.set("dns", "object.example.com|A", {"x": object()}, ttl=10)  # not JSON: skipped
    stored = await rows(engine)
    assert stored == {("dns", "www.example.com|A"): START + timedelta(seconds=10)}
    assert await cache.get("dns", "www.example.com|A") == value
    assert await cache.get("dns", "zero.example.com|A") is None
    assert await cache.get("dns", "object.example.com|A") is None

    fresh = DatabaseFactCache(engine, clock=clock)  # an empty L1: the value comes from the DB
    assert await fresh.get("dns", "www.example.com|A") == value
    assert (fresh.db_hits, fresh.db_misses) == (1, 0)
    assert await fresh.get("rdap-domain", "www.example.com|A") is None  # kinds are apart
    clock.advance(9.9)
    assert await fresh.get("dns", "www.example.com|A") == value
    clock.advance(0.1)  # exactly at expires_at: gone from both layers
    assert await cache.get("dns", "www.example.com|A") is None
    assert await fresh.get("dns", "www.example.com|A") is None
    assert await DatabaseFactCache(engine, clock=clock).get("dns", "www.example.com|A") is None
    # Writing again refreshes the row (an upsert, not a second row).
    await cache.set("dns", "www.example.com|A", {"new": True}, ttl=60)
    assert await rows(engine) == {("dns", "www.example.com|A"): clock.now + timedelta(seconds=60)}
    assert await DatabaseFactCache(engine, clock=clock).get(
        "dns", "www.example.com|A") == {"new": True}
    assert cache.errors == fresh.errors == 0


async def test_a_database_hit_fills_the_l1_for_the_time_left(
        engines: tuple[AsyncEngine, AsyncEngine], clock: Clock) -> None:
    writer = DatabaseFactCache(engines[0], clock=clock)
    reader = DatabaseFactCache(engines[1], clock=clock, l1_ttl=3600)
    await writer.set("asname", "64500", {"name": "HOSTER-AS"}, ttl=100)
    clock.advance(90)
    assert await reader.get("asname", "64500") == {"name": "HOSTER-AS"}
    assert await reader.get("asname", "64500") == {"name": "HOSTER-AS"}
    assert reader.db_hits == 1  # the second read was the L1's
    clock.advance(10)  # the L1 copy expires with the row, not 100 s after it was read
    assert await reader.l1.get("asname", "64500") is None
    assert await reader.get("asname", "64500") is None


@pytest.mark.parametrize(
    ("wide", "narrow", "inside", "outside"),
    [("192.0.0.0/16", "192.0.2.0/24", "192.0.2.77", "192.0.3.1"),
     ("2001:db8::/32", "2001:db8:0:1::/64", "2001:db8:0:1::99", "2001:db8:ffff::1")],
)
async def test_get_network_most_specific_unexpired_wins(
        engines: tuple[AsyncEngine, AsyncEngine], clock: Clock,
        wide: str, narrow: str, inside: str, outside: str) -> None:
    writer = DatabaseFactCache(engines[0], clock=clock)
    await writer.set_network("cymru", [wide], {"net": wide}, ttl=100)
    await writer.set_network("cymru", [narrow, "not a network"], {"net": narrow}, ttl=10)
    keys = {key for _, key in await rows(engines[0])}
    assert all(key.startswith("net:") for key in keys) and len(keys) == 2
    for cache in (writer, DatabaseFactCache(engines[1], clock=clock)):
        assert await cache.get_network("cymru", inside) == {"net": narrow}
        assert await cache.get_network("cymru", outside) == {"net": wide}
        assert await cache.get_network("rdap-ip", inside) is None
        assert await cache.get_network("cymru", "not an address") is None
    clock.advance(10)  # the narrow network expired: the wide one answers
    for cache in (writer, DatabaseFactCache(engines[1], clock=clock)):
        assert await cache.get_network("cymru", inside) == {"net": wide}
    clock.advance(90)
    assert await DatabaseFactCache(engines[1], clock=clock).get_network("cymru", inside) is None


async def test_a_network_another_process_stored_is_not_hidden_by_the_l1(
        engines: tuple[AsyncEngine, AsyncEngine], clock: Clock) -> None:
    one = DatabaseFactCache(engines[0], clock=clock, l1_ttl=60)
    two = DatabaseFactCache(engines[1], clock=clock, l1_ttl=60)
    await one.set_network("rdap-ip", ["192.0.0.0/16"], {"net": "wide"}, ttl=86400)
    assert await two.get_network("rdap-ip", "192.0.9.9") == {"net": "wide"}
    assert await two.get_network("rdap-ip", "192.0.2.1") == {"net": "wide"}
    await one.set_network("rdap-ip", ["192.0.2.0/24"], {"net": "narrow"}, ttl=86400)
    # Another address in the new /24: the wide answers in two's L1 do not hide it.
    assert await two.get_network("rdap-ip", "192.0.2.200") == {"net": "narrow"}
    # An address two has just asked about may keep its answer for the L1's 60 s.
    assert await two.get_network("rdap-ip", "192.0.2.1") == {"net": "wide"}
    clock.advance(60)
    assert await two.get_network("rdap-ip", "192.0.2.1") == {"net": "narrow"}
    assert await two.get_network("rdap-ip", "192.0.9.9") == {"net": "wide"}
    # The writer itself reads the database too, not the networks it stored in its L1.
    assert await one.get_network("rdap-ip", "192.0.2.7") == {"net": "narrow"}


def test_network_keys_are_fixed_width() -> None:
    import ipaddress

    assert network_key(ipaddress.ip_network("192.0.2.0/24")) == "net:c0000200/24"
    assert network_key(ipaddress.ip_network("0.0.0.0/0")) == "net:00000000/0"
    assert network_key(ipaddress.ip_network("2001:db8::/32")) == (
        "net:20010db8000000000000000000000000/32")
    # The lookup computes the keys of every length with integers: the same keys.
    for ip in ("192.0.2.77", "255.255.255.255", "2001:db8:0:1::99", "::"):
        address = ipaddress.ip_address(ip)
        assert _candidates(address) == {
            network_key(ipaddress.ip_network((address, length), strict=False)): length
            for length in range(address.max_prefixlen + 1)}


async def test_two_processes_share_and_concurrent_upserts_do_not_fail(
        engines: tuple[AsyncEngine, AsyncEngine], clock: Clock) -> None:
    first = DatabaseFactCache(engines[0], clock=clock)
    second = DatabaseFactCache(engines[1], clock=clock)
    await first.set("rdap-domain", "example.com", {"registrar": "Example"}, ttl=60)
    await first.set_network("rdap-ip", ["198.51.100.0/24"], {"net": "TEST-NET-2"}, ttl=60)
    assert await second.get("rdap-domain", "example.com") == {"registrar": "Example"}
    assert await second.get_network("rdap-ip", "198.51.100.9") == {"net": "TEST-NET-2"}

    writes = []
    for n in range(20):
        cache = first if n % 2 else second
        writes.append(cache.set("dns", "race.example.com|A", {"n": n}, ttl=60))
        writes.append(cache.set_network("cymru", ["203.0.113.0/25", "203.0.113.128/25"],
                                        {"n": n}, ttl=60))
    await asyncio.gather(*writes)
    assert first.errors == second.errors == 0
    stored = await rows(engines[0])
    assert {key for kind, key in stored if kind == "cymru"} == {
        "net:cb007100/25", "net:cb007180/25"}
    last = await DatabaseFactCache(engines[1], clock=clock).get("dns", "race.example.com|A")
    assert last in [{"n": n} for n in range(20)]


async def test_a_broken_database_is_a_miss_and_a_skipped_write(
        database_url: str, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(database_url)  # never migrated: there is no fact_cache table
    try:
        cache = DatabaseFactCache(engine, clock=clock)
        with caplog.at_level(logging.WARNING, logger="nttd.factcache"):
            await cache.set("dns", "a.example.com|A", {"x": 1}, ttl=60)
            await cache.set_network("cymru", ["192.0.2.0/24"], {"x": 2}, ttl=60)
            fresh = DatabaseFactCache(engine, clock=clock)
            assert await fresh.get("dns", "a.example.com|A") is None
            assert await fresh.get_network("cymru", "192.0.2.1") is None
        assert fresh.errors == 2 and cache.errors == 2
        warnings = [r for r in caplog.records if r.name == "nttd.factcache"]
        assert len(warnings) == 2  # one per cache instance: the rest are throttled
        assert "treated as a miss" in warnings[0].getMessage()
        # What this process set is still remembered in its own L1.
        assert await cache.get("dns", "a.example.com|A") == {"x": 1}
        assert await cache.get_network("cymru", "192.0.2.1") == {"x": 2}
    finally:
        await engine.dispose()


async def test_an_unreachable_or_silent_database_does_not_hang(tmp_path: Path,
                                                               clock: Clock) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accepts, never answers

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    urls = [f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'nttd.db'}",
            "postgresql+asyncpg://postgres@127.0.0.1:1/nttd",  # refused
            f"postgresql+asyncpg://postgres@127.0.0.1:{port}/nttd"]  # silent
    try:
        for url in urls:
            engine = make_engine(url)
            cache = DatabaseFactCache(engine, clock=clock, timeout=0.5)
            try:
                async with asyncio.timeout(5):
                    await cache.set("dns", "a.example.com|A", {"x": 1}, ttl=60)
                    assert await DatabaseFactCache(engine, clock=clock, timeout=0.5).get(
                        "dns", "a.example.com|A") is None
                assert cache.errors == 1, url
            finally:
                await engine.dispose()
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_locked_row_is_a_skipped_write_not_a_wait(
        engines: tuple[AsyncEngine, AsyncEngine], clock: Clock) -> None:
    writer = DatabaseFactCache(engines[0], clock=clock)
    await writer.set("dns", "busy.example.com|A", {"v": 1}, ttl=60)
    blocked = DatabaseFactCache(engines[1], clock=clock, timeout=0.3)
    async with engines[0].connect() as other:  # another worker holds the row (and on
        await other.begin()                     # SQLite the write lock) in a long transaction
        await other.execute(FactCacheEntry.__table__.update()
                            .where(FactCacheEntry.key == "busy.example.com|A")
                            .values(value='{"v":2}'))
        async with asyncio.timeout(5):
            await blocked.set("dns", "busy.example.com|A", {"v": 3}, ttl=60)
        assert blocked.errors == 1
        await other.rollback()
    # The engine recovered: the next write and read work.
    await blocked.set("dns", "busy.example.com|A", {"v": 4}, ttl=60)
    assert await DatabaseFactCache(engines[0], clock=clock).get(
        "dns", "busy.example.com|A") == {"v": 4}
    assert blocked.errors == 1
    if engines[1].dialect.name == "sqlite":  # the short busy timeout was the cache's only
        async with engines[1].connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 30000


async def test_prune_deletes_expired_rows_only(
        engines: tuple[AsyncEngine, AsyncEngine], clock: Clock) -> None:
    engine = engines[0]
    cache = DatabaseFactCache(engine, clock=clock)
    for n in range(7):
        await cache.set("dns", f"old{n}.example.com|A", {"n": n}, ttl=10)
    await cache.set_network("cymru", ["192.0.2.0/25", "192.0.2.128/25"], {"old": 1}, ttl=10)
    await cache.set("dns", "new.example.com|A", {"new": 1}, ttl=100)
    await cache.set_network("cymru", ["198.51.100.0/24"], {"new": 2}, ttl=100)
    assert await delete_expired_facts(engine, now=clock.now) == 0
    clock.advance(10)
    assert await delete_expired_facts(engine, now=clock.now, batch=2) == 9
    assert set(await rows(engine)) == {("dns", "new.example.com|A"),
                                       ("cymru", "net:c6336400/24")}
    assert await delete_expired_facts(engine, now=clock.now) == 0
    assert await DatabaseFactCache(engine, clock=clock).get_network(
        "cymru", "198.51.100.1") == {"new": 2}


async def test_the_workers_prune_expired_facts(database_url: str) -> None:
    svc = await Services.start(Settings.load({"NTTD_DATABASE_URL": database_url,
                                              "NTTD_FACT_CACHE": "database"}))
    try:
        await upgrade(svc.engine)
        assert isinstance(svc.resolver_context.cache, DatabaseFactCache)
        past = DatabaseFactCache(svc.engine, clock=lambda: svc.clock() - timedelta(hours=1))
        await past.set("dns", "expired.example.com|A", {"x": 1}, ttl=60)
        await svc.resolver_context.cache.set("dns", "fresh.example.com|A", {"x": 2}, ttl=60)
        assert await run_until_idle(svc) >= 1
        assert set(await rows(svc.engine)) == {("dns", "fresh.example.com|A")}
    finally:
        await svc.close()


# -- the acceptance point: what one worker found out, the next one does not ask ----


@pytest.fixture
async def internet(tmp_path: Path) -> AsyncIterator[tuple[DnsServer, RdapServer, Path]]:
    zone = Zone()
    zone.add("www.example.com", "CNAME", "site.hoster.example.net")
    zone.add("site.hoster.example.net", "A", "127.0.0.2")
    zone.add("site.hoster.example.net", "AAAA", "::1")
    add_cymru(zone, "127.0.0.2", 64500, "127.0.0.0/24", "NL", "HOSTER-AS")
    async with DnsServer(zone) as dns, RdapServer() as rdap:
        rdap.add_ip_network("127.0.0.0/24", "NL", "abuse@hoster.example", "HOSTER-NET")
        rdap.add_domain("example.com", "Registrar Example", "9999", "abuse@registrar.example")
        yield dns, rdap, rdap.write_bootstrap(tmp_path / "bootstrap")


def asked(dns: DnsServer, rdap: RdapServer) -> tuple[int, int]:
    return sum(dns.queries.values()), sum(rdap.requests.values())


def same_facts(a: Resolution, b: Resolution) -> None:
    assert a.errors == b.errors == ()
    assert (a.ips, a.hosting, a.registrar, a.addresses) == (b.ips, b.hosting, b.registrar,
                                                            b.addresses)
    assert a.hosting is not None and a.hosting.abuse_emails == ("abuse@hoster.example",)


async def test_a_second_worker_asks_nothing_the_first_found_out(
        internet: tuple[DnsServer, RdapServer, Path],
        engines: tuple[AsyncEngine, AsyncEngine], clock: Clock) -> None:
    dns, rdap, bootstrap_dir = internet
    bootstrap = Bootstrap.load(bootstrap_dir)
    url = "http://www.example.com/a.jpg"

    def context(engine: AsyncEngine, http: aiohttp.ClientSession) -> ResolverContext:
        return ResolverContext(dns=make_resolver([dns.address], timeout=0.5, lifetime=1.0),
                               http=http, bootstrap=bootstrap, allow_private=True, clock=clock,
                               cache=DatabaseFactCache(engine, clock=clock))

    async with aiohttp.ClientSession(trust_env=False) as http_a, \
            aiohttp.ClientSession(trust_env=False) as http_b:
        first = await resolve_url(url, context(engines[0], http_a))
        dns_asked, rdap_asked = asked(dns, rdap)
        assert dns_asked > 0 and rdap_asked > 0
        second = await resolve_url(url, context(engines[1], http_b))
        assert asked(dns, rdap) == (dns_asked, rdap_asked)  # zero DNS, zero RDAP
        same_facts(first, second)
        clock.advance(301)  # past the DNS TTL (300 s); RDAP is kept for a day
        await resolve_url(url, context(engines[1], http_b))
        dns_again, rdap_again = asked(dns, rdap)
        assert dns_again > dns_asked and rdap_again == rdap_asked


@contextlib.asynccontextmanager
async def service(database_url: str, dns: DnsServer, bootstrap: Path,
                  clock: Callable[[], datetime], **env: str) -> AsyncIterator[Services]:
    values: dict[str, Any] = {"NTTD_DATABASE_URL": database_url,
                              "NTTD_ALLOW_PRIVATE_TARGETS": "1",
                              "NTTD_DNS_SERVERS": dns.address,
                              "NTTD_RDAP_BOOTSTRAP": str(bootstrap)}
    values.update(env)
    svc = await Services.start(Settings.load(values), clock=clock)
    try:
        await upgrade(svc.engine)
        yield svc
    finally:
        await svc.close()


@pytest.mark.parametrize("setting", ["database", "memory", "auto"])
async def test_two_services_share_facts_unless_kept_in_memory(
        internet: tuple[DnsServer, RdapServer, Path], database_url: str, clock: Clock,
        setting: str) -> None:
    # auto: shared on PostgreSQL; on SQLite one process works and writers queue for one
    # lock, so each process keeps its own
    shared = setting == "database" or (setting == "auto" and not is_sqlite(database_url))
    dns, rdap, bootstrap = internet
    url = "http://www.example.com/b.jpg"
    async with service(database_url, dns, bootstrap, clock, NTTD_FACT_CACHE=setting) as one, \
            service(database_url, dns, bootstrap, clock, NTTD_FACT_CACHE=setting) as two:
        kind = DatabaseFactCache if shared else MemoryFactCache
        assert isinstance(one.resolver_context.cache, kind)
        first = await resolve_url(url, one.resolver_context)
        before = asked(dns, rdap)
        second = await resolve_url(url, two.resolver_context)
        same_facts(first, second)
        if shared:
            assert asked(dns, rdap) == before
        else:
            assert asked(dns, rdap)[0] > before[0] and asked(dns, rdap)[1] > before[1]
