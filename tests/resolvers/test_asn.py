from __future__ import annotations

import dns.asyncresolver

from nttd.demo.standins.dns_server import Zone, add_cymru
from nttd.demo.standins.dns_server import cymru_origin_name as standin_name
from resolvers.asn import AsnInfo, cymru_origin_name, lookup_asn


def test_origin_names_match_the_standin() -> None:
    for ip in ("127.0.0.2", "2001:db8::1", "::1"):
        assert cymru_origin_name(ip) == standin_name(ip)
    assert cymru_origin_name("192.0.2.1") == "1.2.0.192.origin.asn.cymru.com"


async def test_ipv4(zone: Zone, resolver: dns.asyncresolver.Resolver) -> None:
    add_cymru(zone, "127.0.0.2", 64500, "127.0.0.0/24", "NL", "HOSTER-AS")
    got = await lookup_asn("127.0.0.2", resolver)
    assert got == AsnInfo(ip="127.0.0.2", asn=64500, prefix="127.0.0.0/24", country="NL",
                          registry="ripencc", as_name="HOSTER-AS", error=None)


async def test_ipv6(zone: Zone, resolver: dns.asyncresolver.Resolver) -> None:
    add_cymru(zone, "2001:db8::1", 64501, "2001:db8::/32", "DE", "V6-AS", registry="ripencc")
    got = await lookup_asn("2001:db8::1", resolver)
    assert (got.asn, got.prefix, got.country, got.as_name, got.error) == (
        64501, "2001:db8::/32", "DE", "V6-AS", None)


async def test_multi_origin_and_most_specific_prefix(
    zone: Zone, resolver: dns.asyncresolver.Resolver
) -> None:
    name = cymru_origin_name("127.0.1.7")
    zone.add(name, "TXT", '"64510 | 127.0.0.0/16 | US | arin | 2010-01-01"')
    zone.add(name, "TXT", '"64502 64503 | 127.0.1.0/24 | GB | ripencc | 2015-01-01"')
    zone.add("AS64502.asn.cymru.com", "TXT", '"64502 | GB | ripencc | 2015-01-01 | SPECIFIC, GB"')
    got = await lookup_asn("127.0.1.7", resolver)
    assert (got.asn, got.prefix, got.country, got.as_name) == (64502, "127.0.1.0/24", "GB",
                                                               "SPECIFIC")


async def test_not_announced_is_a_fact(resolver: dns.asyncresolver.Resolver) -> None:
    got = await lookup_asn("127.0.0.99", resolver)
    assert (got.asn, got.error) == (None, None)


async def test_servfail_is_could_not_find_out(
    zone: Zone, resolver: dns.asyncresolver.Resolver
) -> None:
    zone.servfail.add(cymru_origin_name("127.0.0.3"))
    got = await lookup_asn("127.0.0.3", resolver)
    assert got.asn is None and got.error is not None


async def test_as_name_timeout_keeps_the_origin(
    zone: Zone, resolver: dns.asyncresolver.Resolver
) -> None:
    add_cymru(zone, "127.0.0.4", 64504, "127.0.0.0/24", "NL", "X")
    zone.silent.add("AS64504.asn.cymru.com")
    got = await lookup_asn("127.0.0.4", resolver)
    assert (got.asn, got.as_name) == (64504, None)
    assert got.error is not None and "timed out" in got.error
