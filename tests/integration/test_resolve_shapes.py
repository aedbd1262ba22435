"""`nttd resolve --json`, run as a person runs it, gives the right facts for every shape.

One command resolves a URL per shape the resolvers must handle, against loopback
stand-ins: each registry's recorded-shape RDAP answer (ARIN v4/v6, RIPE NCC v4/v6,
APNIC, LACNIC, AFRINIC), a gTLD registry answer that leads to the registrar's,
an IDN host, an IP literal, addresses spanning two networks, a CDN, a name that
cannot resolve publicly, one that does not exist, a CNAME loop, and the optional
GeoIP database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nttd.demo.standins.dns_server import DnsServer, Zone, add_cymru
from nttd.demo.standins.rdap_server import RdapServer
from tests.cli import nttd
from tests.mmdb import write_mmdb
from tests.resolvers.test_rir_fixtures import serve


@dataclass(frozen=True)
class Network:
    """A host on one registry's network, answered by a recorded-shape fixture."""

    host: str
    ip: str
    prefix: str  # what Team Cymru announces
    cymru_country: str
    fixture: str
    country: str  # what `hosting.country` must say (RDAP's, else Cymru's)
    abuse: list[str]


NETWORKS = [
    Network("arin.example.com", "192.0.2.10", "192.0.2.0/25", "US", "arin_ip", "US",
            ["abuse@hosting.example"]),  # ARIN names no country: Cymru's
    Network("arin6.example.com", "2001:db8::10", "2001:db8::/48", "US", "arin_ip6", "US",
            ["abuse@hosting6.example", "noc@hosting6.example"]),
    Network("ripe.example.net", "198.51.100.7", "198.51.100.0/28", "NL", "ripe_ip", "NL",
            ["abuse@hosting.example"]),
    Network("ripe6.example.net", "2001:db8:ffff::1", "2001:db8:ffff::/48", "GB", "ripe_ip6",
            "GB", ["abuse@hosting.example", "noc@hosting.example",
                   "hostmaster@hosting.example"]),
    Network("apnic.example.org", "203.0.113.5", "203.0.113.0/24", "AU", "apnic_ip", "AU",
            ["abuse@ap-hosting.example"]),
    Network("lacnic.example.com", "192.0.2.200", "192.0.2.192/26", "BR", "lacnic_ip", "BR",
            ["noc@BR-HOSTING.EXAMPLE"]),
    Network("afrinic.example.net", "198.51.100.20", "198.51.100.16/28", "ZA", "afrinic_ip",
            "ZA", ["abuse@za-hosting.example"]),
]


async def test_every_shape_through_the_command_line(tmp_path: Path) -> None:
    zone = Zone()
    async with DnsServer(zone) as dns, RdapServer() as rdap:
        for asn, net in enumerate(NETWORKS, start=64500):
            zone.add(net.host, "AAAA" if ":" in net.ip else "A", net.ip)
            add_cymru(zone, net.ip, asn, net.prefix, net.cymru_country, f"AS-{net.fixture}")
            serve(rdap, f"/ip/{net.ip}", net.fixture)
        # the gTLD registry answers for example.com and links to the registrar's answer;
        # example.net and example.org come from the stand-in's own registry shape
        serve(rdap, "/domain/example.com", "gtld_registry_domain")
        serve(rdap, "/registrar/domain/EXAMPLE.COM", "gtld_registrar_domain")
        rdap.add_domain("example.net", "Net Registrar", "1234", "abuse@net-registrar.example")
        rdap.add_domain("example.org", "Org Registrar", "5678", "abuse@org-registrar.example")
        zone.add("xn--bcher-kva.example.net", "A", "198.51.100.7")  # bücher.example.net
        zone.add("two.example.org", "A", "203.0.113.5")  # APNIC and AFRINIC at once
        zone.add("two.example.org", "A", "198.51.100.20")
        zone.add("www.example.org", "CNAME", "www.example.org.cdn.cloudflare.net")
        zone.add("www.example.org.cdn.cloudflare.net", "A", "203.0.113.5")
        zone.add("loop.example.net", "CNAME", "loop2.example.net")
        zone.add("loop2.example.net", "CNAME", "loop.example.net")
        bootstrap = rdap.write_bootstrap(tmp_path / "bootstrap", ipv4_cidrs=["0.0.0.0/0"],
                                         ipv6=["::/0"])
        geoip = write_mmdb(tmp_path / "country.mmdb", {"203.0.113.0/24": {
            "country": {"iso_code": "SG"}}})
        urls = [f"http://{net.host}/a.jpg" for net in NETWORKS] + [
            "http://bücher.example.net/b.jpg",
            "http://[2001:db8::10]/c.jpg",
            "http://two.example.org/d.jpg",
            "http://www.example.org/e.jpg",
            "http://hidden.onion/f.jpg",
            "http://gone.example.com/g.jpg",
            "http://loop.example.net/h.jpg",
        ]
        env = {"NTTD_DNS_SERVERS": dns.address, "NTTD_RDAP_BOOTSTRAP": str(bootstrap),
               "NTTD_ALLOW_PRIVATE_TARGETS": "1",  # documentation addresses are not public
               "NTTD_GEOIP_DB": str(geoip)}
        code, out, err = await nttd("resolve", *urls, "--json", env=env, cwd=tmp_path)
    results: list[dict[str, Any]] = json.loads(out)
    assert code == 1, err  # some shapes are errors, and the exit code says so
    assert [r["url"] for r in results[:len(NETWORKS)]] == urls[:len(NETWORKS)]
    by_host = {r["host"]: r for r in results}

    for net in NETWORKS:
        got = by_host[net.host]
        assert got["errors"] == [], (net.host, got["errors"])
        assert got["ips"] == [net.ip]
        assert got["hosting"]["prefix"] == net.prefix
        assert got["hosting"]["country"] == net.country, net.host
        assert got["hosting"]["abuse_emails"] == net.abuse, net.host
        assert got["provenance"]["hosting.abuse_emails"]["source"] == "rdap"
        assert got["provenance"]["hosting.network"]["source"] == "cymru"

    registrar = by_host["arin.example.com"]["registrar"]  # registry, then registrar RDAP
    assert (registrar["name"], registrar["iana_id"]) == ("Example Registrar, Inc.", "9999")
    assert registrar["abuse_emails"] == ["abuse-reports@registrar.example"]
    assert registrar["rdap_url"].endswith("/registrar/domain/EXAMPLE.COM")
    assert by_host["ripe.example.net"]["registrar"]["name"] == "Net Registrar"

    apnic = by_host["apnic.example.org"]["hosting"]  # GeoIP beside the registry country
    assert (apnic["country"], apnic["geoip_country"], apnic["geoip_disagrees"]) == (
        "AU", "SG", True)
    ripe = by_host["ripe.example.net"]["hosting"]
    assert (ripe["geoip_country"], ripe["geoip_disagrees"]) == (None, False)

    idn = by_host["xn--bcher-kva.example.net"]
    assert idn["url"] == "http://xn--bcher-kva.example.net/b.jpg"
    assert (idn["errors"], idn["hosting"]["country"]) == ([], "NL")

    literal = by_host["2001:db8::10"]
    assert (literal["registered_domain"], literal["registrar"]) == (None, None)
    assert literal["hosting"]["abuse_emails"] == ["abuse@hosting6.example",
                                                  "noc@hosting6.example"]

    two = by_host["two.example.org"]
    assert sorted(two["ips"]) == ["198.51.100.20", "203.0.113.5"]
    assert two["spans_networks"] is True and two["spans_countries"] is True
    assert sorted(a["country"] for a in two["addresses"]) == ["AU", "ZA"]

    cdn = by_host["www.example.org"]
    assert cdn["cdn"]["name"] == "Cloudflare"
    assert cdn["cname_chain"] == ["www.example.org.cdn.cloudflare.net"]
    assert cdn["provenance"]["cdn"]["source"] == "cdn-data"

    onion = by_host["hidden.onion"]
    assert onion["unresolvable"] is True and onion["registrar"] is None
    gone = by_host["gone.example.com"]
    assert gone["unresolvable"] is True and "NXDOMAIN" in " ".join(gone["errors"])
    loop = by_host["loop.example.net"]
    assert loop["retryable"] is True and loop["unresolvable"] is False
    assert "loop" in " ".join(loop["errors"]).lower()
