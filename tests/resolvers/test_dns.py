from __future__ import annotations

import dns.asyncresolver
import dns.nameserver
import pytest

from nttd.demo.standins.dns_server import DnsServer, Zone
from resolvers.dns import make_resolver, parse_server, resolve_addresses


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        (" [::1] ", ("::1", 53)),
    ],
)
def test_parse_server(entry: str, expected: tuple[str, int]) -> None:
    assert parse_server(entry) == expected


@pytest.mark.parametrize("entry", ["dns.example", "127.0.0.1:", "127.0.0.1:0", "[::1", "1.2.3.4:x"])
def test_parse_server_rejects(entry: str) -> None:
    with pytest.raises(ValueError, match="bad DNS server"):
        parse_server(entry)


def test_make_resolver_explicit_servers_each_with_its_port() -> None:
    resolver = make_resolver(["127.0.0.1:5353", "[::1]:5454"], timeout=1.5, lifetime=3.0)
    servers = resolver.nameservers
    assert all(isinstance(s, dns.nameserver.Do53Nameserver) for s in servers)
    assert [(s.address, s.port) for s in servers] == [("127.0.0.1", 5353), ("::1", 5454)]  # type: ignore[union-attr]
    assert (resolver.timeout, resolver.lifetime) == (1.5, 3.0)


def test_make_resolver_rejects_bad_entry() -> None:
    with pytest.raises(ValueError):
        make_resolver(["not-an-ip"])


async def test_a_and_aaaa(zone: Zone, resolver: dns.asyncresolver.Resolver) -> None:
    zone.add("www.example.com", "A", "127.0.0.2")
    zone.add("www.example.com", "A", "127.0.0.3")
    zone.add("www.example.com", "AAAA", "::1")
    got = await resolve_addresses("WWW.Example.com.", resolver)
    assert got.host == "www.example.com"
    assert got.addresses[:2] in {("127.0.0.2", "127.0.0.3"), ("127.0.0.3", "127.0.0.2")}
    assert got.addresses[2:] == ("::1",)
    assert (got.cname_chain, got.nxdomain, got.error) == ((), False, None)


async def test_cname_chain(zone: Zone, resolver: dns.asyncresolver.Resolver) -> None:
    zone.add("www.example.com", "CNAME", "shop.example.net")
    zone.add("shop.example.net", "CNAME", "edge.cdn.example.org")
    zone.add("edge.cdn.example.org", "A", "127.0.0.5")
    got = await resolve_addresses("www.example.com", resolver)
    assert got.cname_chain == ("shop.example.net", "edge.cdn.example.org")
    assert got.addresses == ("127.0.0.5",)


async def test_nxdomain_is_a_fact(resolver: dns.asyncresolver.Resolver) -> None:
    got = await resolve_addresses("gone.example.com", resolver)
    assert (got.nxdomain, got.error, got.addresses) == (True, None, ())


async def test_nodata_for_one_type_is_fine(
    zone: Zone, resolver: dns.asyncresolver.Resolver
) -> None:
    zone.add("v6.example.com", "AAAA", "::1")
    got = await resolve_addresses("v6.example.com", resolver)
    assert (got.addresses, got.nxdomain, got.error) == (("::1",), False, None)


async def test_no_address_at_all(zone: Zone, resolver: dns.asyncresolver.Resolver) -> None:
    zone.add("mail.example.com", "MX", "10 mx.example.com.")
    got = await resolve_addresses("mail.example.com", resolver)
    assert (got.addresses, got.nxdomain, got.error) == ((), False, None)


async def test_servfail_is_an_error_not_nxdomain(
    zone: Zone, resolver: dns.asyncresolver.Resolver
) -> None:
    zone.servfail.add("broken.example.com")
    got = await resolve_addresses("broken.example.com", resolver)
    assert got.nxdomain is False
    assert got.error is not None and got.addresses == ()


async def test_silent_server_times_out(zone: Zone, resolver: dns.asyncresolver.Resolver) -> None:
    zone.silent.add("slow.example.com")
    got = await resolve_addresses("slow.example.com", resolver)
    assert got.nxdomain is False
    assert got.error is not None and "timed out" in got.error


async def test_cname_loop_is_an_error(zone: Zone, resolver: dns.asyncresolver.Resolver) -> None:
    zone.add("a.example.com", "CNAME", "b.example.com")
    zone.add("b.example.com", "CNAME", "a.example.com")
    got = await resolve_addresses("a.example.com", resolver)
    assert got.error is not None and got.nxdomain is False and got.addresses == ()


async def test_ip_literal_asks_nothing(dns_server: DnsServer,
                                       resolver: dns.asyncresolver.Resolver) -> None:
    got = await resolve_addresses("127.0.0.9", resolver)
    assert got.addresses == ("127.0.0.9",)
    v6 = await resolve_addresses("::1", resolver)
    assert v6.addresses == ("::1",)
    assert sum(dns_server.queries.values()) == 0
