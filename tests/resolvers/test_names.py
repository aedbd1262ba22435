"""Names that cannot resolve publicly, IDN hosts, IP literals, several networks."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import dns.asyncresolver
import pytest

from nttd.demo.standins.dns_server import DnsServer, Zone, add_cymru
from nttd.demo.standins.rdap_server import RdapServer
from resolvers.dns import non_public_reason, resolve_addresses
from resolvers.rdap import Bootstrap
from resolvers.resolve import ResolverContext, resolve_url

NOW = datetime(2024, 5, 6, tzinfo=UTC)


@pytest.fixture
def ctx(resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
        bootstrap: Bootstrap) -> ResolverContext:
    return ResolverContext(dns=resolver, http=http, bootstrap=bootstrap, allow_private=True,
                           clock=lambda: NOW)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://abcdefghijklmnop.onion/a.jpg", "Tor onion"),
        ("http://site.i2p/", "I2P"),
        ("http://printer.local/", ".local"),
        ("http://app.localhost/", "localhost"),
        ("http://x.invalid/", ".invalid"),
        ("http://shop.test/", ".test"),
        ("http://intranet/", "single-label"),
    ],
)
async def test_non_public_names_are_unresolvable_without_a_query(
    ctx: ResolverContext, dns_server: DnsServer, url: str, why: str
) -> None:
    got = await resolve_url(url, ctx)
    assert got.unresolvable is True and got.retryable is False
    assert len(got.errors) == 1 and why in got.errors[0]
    assert sum(dns_server.queries.values()) == 0


def test_public_example_names_are_not_refused() -> None:
    for host in ("example.com", "www.example.org", "a.example.net", "example.co.uk"):
        assert non_public_reason(host) is None


async def test_idn_host_is_asked_in_punycode(zone: Zone,
                                             resolver: dns.asyncresolver.Resolver) -> None:
    zone.add("xn--bcher-kva.example.com", "A", "127.0.0.7")
    got = await resolve_addresses("Bücher.example.com", resolver)
    assert (got.host, got.addresses) == ("xn--bcher-kva.example.com", ("127.0.0.7",))


async def test_ip_literal_has_no_domain_and_no_registrar(
    zone: Zone, rdap: RdapServer, ctx: ResolverContext, dns_server: DnsServer
) -> None:
    add_cymru(zone, "127.0.0.9", 64500, "127.0.0.0/24", "NL", "HOSTER-AS")
    add_cymru(zone, "::1", 64502, "::1/128", "SE", "V6-AS")
    rdap.add_ip_network("127.0.0.0/24", "NL", "abuse@hoster.example", "HOSTER-NET")
    rdap.add_ip_network("::1/128", "SE", "abuse@v6.example", "V6-NET")
    for url, asn in (("http://127.0.0.9/a", 64500), ("http://[::1]:8080/a", 64502)):
        got = await resolve_url(url, ctx)
        assert got.registered_domain is None and got.registrar is None and got.errors == ()
        assert got.hosting is not None and got.hosting.asn == asn
        assert got.source_of("dns") is None
    assert all(not name.startswith(("127.", "1.0.0.127")) or t == "TXT"
               for name, t in dns_server.queries)
    assert sum(n for p, n in rdap.requests.items() if p.startswith("/domain/")) == 0


async def test_addresses_spanning_networks_and_countries(
    zone: Zone, rdap: RdapServer, ctx: ResolverContext
) -> None:
    zone.add("multi.example.com", "A", "127.0.0.2")
    zone.add("multi.example.com", "A", "127.0.1.2")
    zone.add("multi.example.com", "AAAA", "::1")
    add_cymru(zone, "127.0.0.2", 64500, "127.0.0.0/24", "NL", "HOSTER-AS")
    add_cymru(zone, "127.0.1.2", 64501, "127.0.1.0/24", "US", "ISP-AS")
    add_cymru(zone, "::1", 64500, "::1/128", "NL", "HOSTER-AS")
    rdap.add_ip_network("127.0.0.0/24", "NL", "abuse@hoster.example", "HOSTER-NET")
    rdap.add_domain("example.com", "Registrar Example", "9999", "abuse@registrar.example")
    got = await resolve_url("http://multi.example.com/", ctx)
    assert sorted((a.ip, a.asn, a.country) for a in got.addresses) == [
        ("127.0.0.2", 64500, "NL"), ("127.0.1.2", 64501, "US"), ("::1", 64500, "NL")]
    assert got.spans_networks is True and got.spans_countries is True
    assert got.hosting is not None and got.hosting.ip == got.ips[0] != "::1"
    assert sum(n for p, n in rdap.requests.items() if p.startswith("/ip/")) == 1  # primary only
    data = got.to_json()
    assert data["spans_networks"] is True and len(data["addresses"]) == 3
    assert data["provenance"]["addresses"]["source"] == "cymru"
    assert data["provenance"]["registrar"]["source"] == "rdap"


async def test_cname_loop_is_a_recorded_error(zone: Zone, ctx: ResolverContext) -> None:
    zone.add("a.example.com", "CNAME", "b.example.com")
    zone.add("b.example.com", "CNAME", "a.example.com")
    got = await resolve_url("http://a.example.com/", ctx)
    assert got.hosting is None and got.errors and "CNAME" in got.errors[0]
    assert got.retryable is True and got.unresolvable is False


async def test_hostile_dns_answers_end_as_recorded_errors(
    zone: Zone, rdap: RdapServer, ctx: ResolverContext
) -> None:
    zone.add("garbled.example.com", "A", "127.0.0.2")
    zone.garbage.add("garbled.example.com")
    zone.add("oddcymru.example.com", "A", "127.0.0.3")
    zone.replace("3.0.0.127.origin.asn.cymru.com", "TXT", '"not | a cymru answer"')
    zone.add("hugetxt.example.com", "A", "127.0.0.4")
    zone.replace("4.0.0.127.origin.asn.cymru.com", "TXT", '"64500 | 127.0.0.0/24 | NL"')
    long_name = '"64500 | NL | ripencc | x | ' + "N" * 200 + '" "' + "M" * 250 + '"'
    zone.replace("AS64500.asn.cymru.com", "TXT", long_name)  # two strings, one record
    garbled = await resolve_url("http://garbled.example.com/", ctx)
    assert garbled.hosting is None and garbled.retryable is True and garbled.errors
    odd = await resolve_url("http://oddcymru.example.com/", ctx)
    assert odd.hosting is not None and odd.hosting.asn is None
    assert any("cymru origin" in e for e in odd.errors) and odd.retryable is True
    huge = await resolve_url("http://hugetxt.example.com/", ctx)
    assert huge.hosting is not None and huge.hosting.as_name is not None
    assert len(huge.hosting.as_name) <= 200
