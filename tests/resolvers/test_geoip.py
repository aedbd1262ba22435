"""Optional GeoIP: a second opinion on the country, recorded beside the registry's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import dns.asyncresolver
import pytest

from nttd.demo.standins.dns_server import Zone, add_cymru
from nttd.demo.standins.rdap_server import RdapServer
from resolvers.geoip import GeoIp, GeoIpError
from resolvers.rdap import Bootstrap
from resolvers.resolve import Resolution, ResolverContext, resolve_url
from tests.mmdb import write_mmdb

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture
def geoip_db(tmp_path: Path) -> Path:
    return write_mmdb(tmp_path / "country.mmdb", {
        "127.0.0.0/24": {"country": {"iso_code": "DE"}, "registered_country": {"iso_code": "NL"}},
        "127.0.1.0/24": {"country": {"iso_code": "US"}},
        "127.0.2.0/24": {"registered_country": {"iso_code": "fr"}},  # no `country`: city-less
        "127.0.3.0/24": {"country": {"iso_code": "not-a-code"}},
        "2001:db8::/32": {"country": {"iso_code": "SE"}},
    })


def test_country_of_each_shape(geoip_db: Path) -> None:
    geoip = GeoIp.open(geoip_db)
    try:
        assert geoip.country("127.0.0.9") == "DE"  # `country` wins over `registered_country`
        assert geoip.country("127.0.1.9") == "US"
        assert geoip.country("127.0.2.9") == "FR"  # registered_country when no country
        assert geoip.country("127.0.3.9") is None  # a malformed code is no fact
        assert geoip.country("2001:db8::1") == "SE"
        assert geoip.country("127.0.9.9") is None  # not in the database
        assert geoip.country("not an address") is None
        assert geoip.description.startswith("GeoLite2-Country ")
    finally:
        geoip.close()


def test_ipv6_address_in_an_ipv4_database_is_no_fact(tmp_path: Path) -> None:
    path = write_mmdb(tmp_path / "v4.mmdb", {"127.0.0.0/24": {"country": {"iso_code": "DE"}}},
                      ip_version=4)
    geoip = GeoIp.open(path)
    try:
        assert geoip.country("127.0.0.1") == "DE"
        assert geoip.country("2001:db8::1") is None
    finally:
        geoip.close()


@pytest.mark.parametrize("content", [None, b"", b"not a maxmind database" * 100])
def test_unreadable_database_is_a_clear_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "broken.mmdb"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(GeoIpError, match="cannot open GeoIP database"):
        GeoIp.open(path)


@pytest.fixture
def world(zone: Zone, rdap: RdapServer) -> Zone:
    zone.add("www.example.com", "A", "127.0.0.2")  # registry NL, GeoIP DE
    zone.add("shop.example.org", "A", "127.0.1.5")  # registry US, GeoIP US
    add_cymru(zone, "127.0.0.2", 64500, "127.0.0.0/24", "DE", "HOSTER-AS")
    add_cymru(zone, "127.0.1.5", 64501, "127.0.1.0/24", "US", "ISP-AS", registry="arin")
    rdap.add_ip_network("127.0.0.0/24", "NL", "abuse@hoster.example", "HOSTER-NET")
    rdap.add_ip_network("127.0.1.0/24", "US", "abuse@isp.example", "ISP-NET", style="arin")
    rdap.add_domain("example.com", "Registrar Example", "9999", "abuse@registrar.example")
    rdap.add_domain("example.org", "Org Registrar", "1234", "abuse@org.example")
    return zone


def context(resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
            bootstrap: Bootstrap, geoip: GeoIp | None) -> ResolverContext:
    return ResolverContext(dns=resolver, http=http, bootstrap=bootstrap, allow_private=True,
                           clock=lambda: NOW, geoip=geoip)


async def test_resolution_records_geoip_beside_registry_country_and_flags_disagreement(
    world: Zone, resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
    bootstrap: Bootstrap, geoip_db: Path,
) -> None:
    geoip = GeoIp.open(geoip_db)
    try:
        ctx = context(resolver, http, bootstrap, geoip)
        moved = await resolve_url("http://www.example.com/a.jpg", ctx)
        agreed = await resolve_url("http://shop.example.org/b.jpg", ctx)
    finally:
        geoip.close()
    assert moved.hosting is not None and agreed.hosting is not None
    assert (moved.hosting.country, moved.hosting.geoip_country) == ("NL", "DE")
    assert moved.hosting.geoip_disagrees
    assert (agreed.hosting.country, agreed.hosting.geoip_country) == ("US", "US")
    assert not agreed.hosting.geoip_disagrees
    source = moved.source_of("hosting.geoip_country")
    assert source is not None and source.source == "geoip"
    assert source.detail is not None and source.detail.startswith("GeoLite2-Country")
    data = json.loads(json.dumps(moved.to_json()))
    assert data["hosting"]["country"] == "NL"  # the route still follows the registry
    assert (data["hosting"]["geoip_country"], data["hosting"]["geoip_disagrees"]) == ("DE", True)
    assert data["provenance"]["hosting.geoip_country"]["source"] == "geoip"
    assert Resolution.from_json(data) == moved


async def test_without_a_database_there_is_no_geoip_fact(
    world: Zone, resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
    bootstrap: Bootstrap,
) -> None:
    got = await resolve_url("http://www.example.com/a.jpg", context(resolver, http, bootstrap,
                                                                    None))
    assert got.hosting is not None and got.hosting.country == "NL"
    assert got.hosting.geoip_country is None and not got.hosting.geoip_disagrees
    assert got.source_of("hosting.geoip_country") is None
    assert got.errors == ()


def test_older_json_without_geoip_keys_still_reads() -> None:
    old = {"url": "http://www.example.com/", "host": "www.example.com",
           "hosting": {"ip": "192.0.2.1", "asn": 64500, "as_name": "X", "prefix": "192.0.2.0/24",
                       "country": "NL", "abuse_emails": []},
           "resolved_at": NOW.isoformat()}
    hosting = Resolution.from_json(old).hosting
    assert hosting is not None and hosting.geoip_country is None
    assert not hosting.geoip_disagrees
