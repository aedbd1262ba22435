from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import dns.asyncresolver
import pytest

from nttd.demo.standins.dns_server import DnsServer, Zone, add_cymru
from nttd.demo.standins.rdap_server import RdapServer
from resolvers.cdn import Cdn
from resolvers.rdap import Bootstrap, Registrar
from resolvers.resolve import (
    AddressFacts,
    Hosting,
    Provenance,
    Resolution,
    ResolverContext,
    private_reason,
    resolve_url,
)

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture
def ctx(resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
        bootstrap: Bootstrap) -> ResolverContext:
    return ResolverContext(dns=resolver, http=http, bootstrap=bootstrap, allow_private=True,
                           clock=lambda: NOW)


@pytest.fixture
def world(zone: Zone, rdap: RdapServer) -> Zone:
    """Two networks under 127.0.0.0/8, each with its own country and abuse desk."""
    zone.add("www.example.com", "CNAME", "site.hoster.example.net")
    zone.add("site.hoster.example.net", "A", "127.0.0.2")
    zone.add("site.hoster.example.net", "AAAA", "::1")
    zone.add("shop.example.org", "A", "127.0.1.5")
    add_cymru(zone, "127.0.0.2", 64500, "127.0.0.0/24", "DE", "HOSTER-AS")
    add_cymru(zone, "127.0.1.5", 64501, "127.0.1.0/24", "US", "ISP-AS", registry="arin")
    rdap.add_ip_network("127.0.0.0/24", "NL", "abuse@hoster.example", "HOSTER-NET")
    rdap.add_ip_network("127.0.1.0/24", "US", "abuse@isp.example", "ISP-NET", style="arin")
    rdap.add_domain("example.com", "Registrar Example", "9999", "abuse@registrar.example")
    rdap.add_domain("example.org", "Org Registrar", "1234", "abuse@org.example", related=False)
    return zone


async def test_end_to_end(world: Zone, ctx: ResolverContext) -> None:
    got = await resolve_url("HTTP://WWW.example.com/a.jpg#x", ctx)
    assert got == Resolution(
        url="http://www.example.com/a.jpg", host="www.example.com",
        registered_domain="example.com", cname_chain=("site.hoster.example.net",),
        ips=("127.0.0.2", "::1"),
        hosting=Hosting(ip="127.0.0.2", asn=64500, as_name="HOSTER-AS", prefix="127.0.0.0/24",
                        country="NL", abuse_emails=("abuse@hoster.example",)),
        cdn=None,
        registrar=Registrar(name="Registrar Example", iana_id="9999",
                            abuse_emails=("abuse@registrar.example",), abuse_phone="+1.5550100",
                            rdap_url=got.registrar.rdap_url if got.registrar else None,
                            error=None),
        errors=(), unresolvable=False, retryable=False, resolved_at=NOW,
        addresses=(
            AddressFacts("127.0.0.2", 64500, "127.0.0.0/24", "DE", "HOSTER-AS"),
            AddressFacts("::1", None, None, None, None),
        ),
        spans_networks=False, spans_countries=False,
        provenance=(
            Provenance("dns", "dns", NOW),
            Provenance("hosting.network", "cymru", NOW),
            Provenance("hosting.abuse_emails", "rdap", NOW, "NET-127.0.0.0-24"),
            Provenance("hosting.country", "rdap", NOW),
            Provenance("addresses", "cymru", NOW),
            Provenance("registrar", "rdap", NOW,
                       got.registrar.rdap_url if got.registrar else None),
        ),
    )
    assert Resolution.from_json(json.loads(json.dumps(got.to_json()))) == got


async def test_second_network_and_cymru_country_fallback(
    world: Zone, rdap: RdapServer, ctx: ResolverContext
) -> None:
    del rdap.ip_objects["127.0.1.0/24"]["country"]
    got = await resolve_url("https://shop.example.org/x", ctx)
    assert got.hosting is not None
    assert (got.hosting.asn, got.hosting.country, got.hosting.abuse_emails) == (
        64501, "US", ("abuse@isp.example",))
    assert got.registrar is not None and got.registrar.abuse_emails == ("abuse@org.example",)


async def test_private_targets_are_refused_before_any_lookup(
    world: Zone, ctx: ResolverContext, dns_server: DnsServer, rdap: RdapServer
) -> None:
    strict = ResolverContext(dns=ctx.dns, http=ctx.http, bootstrap=ctx.bootstrap, clock=ctx.clock)
    got = await resolve_url("http://www.example.com/a.jpg", strict)
    assert got.unresolvable is True and got.retryable is False
    assert got.errors == ("refused: 127.0.0.2 is a loopback address "
                          "(private targets are not allowed)",)
    assert got.hosting is None and got.registrar is None
    assert sum(rdap.requests.values()) == 0
    assert not [q for q in dns_server.queries if "cymru" in q[0]]
    literal = await resolve_url("http://10.1.2.3/", strict)
    assert literal.errors == ("refused: 10.1.2.3 is a private address "
                              "(private targets are not allowed)",)


@pytest.mark.parametrize(
    ("ip", "reason"),
    [("127.0.0.2", "a loopback address"), ("10.0.0.1", "a private address"),
     ("169.254.1.1", "a link-local address"), ("224.0.0.1", "a multicast address"),
     ("0.0.0.0", "an unspecified address"), ("::", "an unspecified address"),
     ("::ffff:127.0.0.1", "an IPv4-mapped address wrapping 127.0.0.1 (a loopback address)"),
     ("fe80::1", "a link-local address"),
     ("100.64.0.1", "a shared address (100.64.0.0/10, carrier-grade NAT)"),
     ("240.0.0.1", "a reserved address"),
     ("93.184.216.34", None), ("2606:2800:220:1::1", None)],
)
def test_private_reason(ip: str, reason: str | None) -> None:
    assert private_reason(ip) == reason


async def test_invalid_url(ctx: ResolverContext) -> None:
    got = await resolve_url("  ftp://example.com/a ", ctx)
    assert got.unresolvable is True and got.retryable is False
    assert got.url == "ftp://example.com/a"
    assert got.errors == ("invalid URL: scheme 'ftp' is not allowed: only http and https",)


async def test_nxdomain_is_unresolvable_but_registrar_is_still_known(
    world: Zone, ctx: ResolverContext
) -> None:
    got = await resolve_url("http://gone.example.com/", ctx)
    assert got.unresolvable is True and got.retryable is False
    assert got.errors == ("dns: gone.example.com does not exist (NXDOMAIN)",)
    assert got.registrar is not None and got.registrar.name == "Registrar Example"
    assert got.hosting is None


async def test_servfail_is_retryable(world: Zone, ctx: ResolverContext) -> None:
    world.servfail.add("flaky.example.com")
    got = await resolve_url("http://flaky.example.com/", ctx)
    assert got.unresolvable is False and got.retryable is True
    assert got.errors[0].startswith("dns: ")


async def test_rdap_outage_is_retryable_and_cymru_still_answers(
    world: Zone, rdap: RdapServer, ctx: ResolverContext
) -> None:
    rdap.faults["/ip/127.0.0.2"] = (503, b"")
    got = await resolve_url("http://www.example.com/", ctx)
    assert got.retryable is True and got.unresolvable is False
    assert got.hosting is not None
    assert (got.hosting.asn, got.hosting.country, got.hosting.abuse_emails) == (64500, "DE", ())
    assert any("rdap ip" in e for e in got.errors)


async def test_ip_literal_and_cdn(world: Zone, ctx: ResolverContext) -> None:
    world.add("cdn.example.net", "CNAME", "cdn.example.net.cdn.cloudflare.net")
    world.add("cdn.example.net.cdn.cloudflare.net", "A", "127.0.0.2")
    got = await resolve_url("http://cdn.example.net/", ctx)
    assert got.cdn == Cdn("Cloudflare", ("abuse@cloudflare.com",),
                          "https://abuse.cloudflare.com/", "cname:cdn.cloudflare.net")
    literal = await resolve_url("http://127.0.1.5:8080/x", ctx)
    assert literal.registered_domain is None and literal.registrar is None
    assert literal.hosting is not None and literal.hosting.asn == 64501


async def test_json_round_trip(world: Zone, ctx: ResolverContext) -> None:
    for url in ("http://www.example.com/a.jpg", "ftp://x", "http://gone.example.com/"):
        got = await resolve_url(url, ctx)
        data = json.loads(json.dumps(got.to_json()))
        assert Resolution.from_json(data) == got
    data = (await resolve_url("http://www.example.com/a.jpg", ctx)).to_json()
    assert {"url", "host", "registered_domain", "cname_chain", "ips", "hosting", "cdn",
            "registrar", "errors", "unresolvable", "retryable", "resolved_at"} <= set(data)
    assert {"ip", "asn", "as_name", "prefix", "country", "abuse_emails"} <= set(data["hosting"])
    assert {"name", "iana_id", "abuse_emails"} <= set(data["registrar"])
    assert data["resolved_at"] == "2024-05-06T07:08:09+00:00"


async def test_default_context_uses_utc_clock(
    resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession, tmp_path: Path,
    rdap: RdapServer,
) -> None:
    boot = Bootstrap.load(rdap.write_bootstrap(tmp_path / "b"))
    got = await resolve_url("http://[::1]/", ResolverContext(dns=resolver, http=http,
                                                             bootstrap=boot))
    assert got.resolved_at.tzinfo is not None and got.unresolvable
