"""The AS (upstream) abuse contact: RDAP /autnum/<asn> through the bootstrap's asn.json,
into the resolution's hosting facts as `as_abuse_emails`, one query per AS number; a
failure is an error entry and never fails the resolution."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import dns.asyncresolver
import pytest

from nttd.demo.standins.dns_server import Zone, add_cymru
from nttd.demo.standins.rdap_server import RdapServer
from resolvers.cache import MemoryFactCache
from resolvers.rdap import Bootstrap, rdap_autnum
from resolvers.resolve import Resolution, ResolverContext, resolve_url

from .test_resolve import NOW

TRANSIT = "abuse@transit.example"


@pytest.fixture
def net(zone: Zone, rdap: RdapServer) -> Zone:
    """Ten names on two prefixes of one AS (64500), and one name in a private AS."""
    for n in range(10):
        zone.add(f"h{n}.example.com", "A", f"127.0.{n % 2}.{n + 2}")
    add_cymru(zone, "127.0.0.2", 64500, "127.0.0.0/24", "NL", "HOSTER-AS")
    for n in range(10):
        prefix = f"127.0.{n % 2}.0/24"
        add_cymru(zone, f"127.0.{n % 2}.{n + 2}", 64500, prefix, "NL", "HOSTER-AS")
    zone.add("private.example.com", "A", "127.0.9.2")
    add_cymru(zone, "127.0.9.2", 4200000001, "127.0.9.0/24", "NL", "PRIVATE-AS")
    rdap.add_ip_network("127.0.0.0/23", "NL", "abuse@hoster.example", "HOSTER-NET")
    rdap.add_ip_network("127.0.9.0/24", "NL", "abuse@private.example", "PRIVATE-NET")
    rdap.add_domain("example.com", "Registrar Example", "9999", "abuse@registrar.example")
    rdap.add_autnum(64500, "HOSTER-AS", TRANSIT)
    return zone


def _ctx(resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
         bootstrap: Bootstrap, cache: MemoryFactCache | None = None) -> ResolverContext:
    return ResolverContext(dns=resolver, http=http, bootstrap=bootstrap, allow_private=True,
                           clock=lambda: NOW, cache=cache)


async def test_the_autnum_abuse_contact_is_a_hosting_fact(
    net: Zone, resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
    bootstrap: Bootstrap,
) -> None:
    got = await resolve_url("http://h0.example.com/a.jpg", _ctx(resolver, http, bootstrap))
    assert got.errors == () and not got.retryable
    assert got.hosting is not None
    assert got.hosting.as_abuse_emails == (TRANSIT,)
    assert got.hosting.abuse_emails == ("abuse@hoster.example",)  # the host's own, unchanged
    source = got.source_of("hosting.as_abuse_emails")
    assert source is not None and (source.source, source.at, source.detail) == (
        "rdap", NOW, "AS64500")
    data = json.loads(json.dumps(got.to_json()))
    assert data["hosting"]["as_abuse_emails"] == [TRANSIT]
    assert data["provenance"]["hosting.as_abuse_emails"]["source"] == "rdap"
    # the keys nttd resolve --json had before are all still there
    assert {"ip", "asn", "as_name", "prefix", "country", "abuse_emails", "geoip_country",
            "geoip_disagrees"} <= set(data["hosting"])
    assert Resolution.from_json(data) == got
    # JSON written before the key existed reads as no AS contact
    del data["hosting"]["as_abuse_emails"]
    assert Resolution.from_json(data).hosting.as_abuse_emails == ()  # type: ignore[union-attr]


async def test_one_query_per_asn(
    net: Zone, rdap: RdapServer, resolver: dns.asyncresolver.Resolver,
    http: aiohttp.ClientSession, bootstrap: Bootstrap,
) -> None:
    ctx = _ctx(resolver, http, bootstrap, MemoryFactCache())
    results = await asyncio.gather(
        *(resolve_url(f"http://h{n}.example.com/{n}.jpg", ctx) for n in range(10)))
    results.append(await resolve_url("http://h3.example.com/later.jpg", ctx))
    assert all(r.hosting is not None and r.hosting.as_abuse_emails == (TRANSIT,)
               for r in results)
    assert rdap.requests["/autnum/64500"] == 1
    # The cache holds it for the RDAP cache time: a new context on the same cache asks
    # nothing either (the database cache is shared by every worker the same way).
    again = _ctx(resolver, http, bootstrap, ctx.cache)  # type: ignore[arg-type]
    await resolve_url("http://h5.example.com/again.jpg", again)
    assert rdap.requests["/autnum/64500"] == 1


@pytest.mark.parametrize(("status", "body"), [(503, b""), (200, b"<html>not json</html>")])
async def test_a_failed_autnum_lookup_is_an_error_entry_not_a_failed_resolution(
    net: Zone, rdap: RdapServer, resolver: dns.asyncresolver.Resolver,
    http: aiohttp.ClientSession, bootstrap: Bootstrap, status: int, body: bytes,
) -> None:
    rdap.faults["/autnum/64500"] = (status, body)
    got = await resolve_url("http://h0.example.com/a.jpg", _ctx(resolver, http, bootstrap))
    assert got.hosting is not None and got.hosting.as_abuse_emails == ()
    assert got.hosting.abuse_emails == ("abuse@hoster.example",)
    assert [e for e in got.errors if "autnum" in e], got.errors
    assert len(got.errors) == 1
    assert not got.unresolvable and not got.retryable  # routing goes on without it
    assert got.source_of("hosting.as_abuse_emails") is None


async def test_no_record_or_no_server_is_no_contact_and_no_error(
    net: Zone, rdap: RdapServer, resolver: dns.asyncresolver.Resolver,
    http: aiohttp.ClientSession, bootstrap: Bootstrap,
) -> None:
    ctx = _ctx(resolver, http, bootstrap)
    private = await resolve_url("http://private.example.com/a.jpg", ctx)  # not in asn.json
    assert private.errors == () and private.hosting is not None
    assert private.hosting.as_abuse_emails == ()
    assert not [p for p in rdap.requests if p.startswith("/autnum/")]
    del rdap.autnum_objects[64500]
    missing = await resolve_url("http://h0.example.com/a.jpg", ctx)
    assert rdap.requests["/autnum/64500"] == 1  # asked, answered 404
    assert missing.errors == () and missing.hosting is not None
    assert missing.hosting.as_abuse_emails == ()


async def test_rdap_autnum_reads_the_abuse_entity(
    rdap: RdapServer, http: aiohttp.ClientSession, bootstrap: Bootstrap,
) -> None:
    rdap.add_autnum(64511, "TRANSIT-AS", "Abuse@Transit.example")
    got = await rdap_autnum(64511, http, bootstrap)
    assert (got.handle, got.name, got.abuse_emails, got.error, got.found) == (
        "AS64511", "TRANSIT-AS", ("Abuse@Transit.example",), None, True)
